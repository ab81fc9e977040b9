package bot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/gopenpgp/v2/crypto"
	"github.com/emersion/go-message/mail"

	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/responders"
	"tocsin/templates"
)

// notice is one notification mail about an incident, before it is
// rendered, sealed and queued.
type notice struct {
	form    string // one of templates.Forms
	kind    string // outbox kind
	idemKey string // one effect, once
	to      mail.Address
	langs   []string // language hints after the person's own: the language of their mail
	data    templates.Form
	// plain replaces data when the mail goes out unencrypted; nil: data.
	// An answer to an encrypted report must not repeat it in clear.
	plain         *templates.Form
	inReplyTo     string
	references    []string
	autoSubmitted string
	offeredKeys   [][]byte // keys in the mail being answered
}

// queueMail renders n in the recipient's language and variant, signs it,
// encrypts it when their policy and a known key say so, and writes it to
// the outbox in the caller's transaction.
//
// What cannot be sent never costs the report its filing: a recipient whose
// policy is "always" (or whose configured key_file cannot be read) but who
// has no usable key, or a form that fails to render, becomes a dead letter
// that says why, visible on the incident, in the UI and in /metrics. Never
// plaintext instead. Only a store error is returned.
func (b *Bot) queueMail(tx *store.Tx, inc *store.Incident, n notice, now time.Time) error {
	person, known := b.cfg.PersonByEmail(n.to.Address)
	policy, langs := b.cfg.Replies.Encrypt, n.langs
	if known {
		policy, langs = person.Encrypt, append([]string{person.Language}, langs...)
		n.data.Variant = templates.Variant(person.Variant)
		n.data.Zone = b.zones[strings.ToLower(person.Email)]
		if n.to.Name == "" {
			n.to.Name = person.Name
		}
	}
	item := store.OutboxItem{IdemKey: n.idemKey, IncidentID: inc.ID, Channel: "mail", Kind: n.kind,
		Sender: b.cfg.Desk.Address, Recipient: n.to.Address, CreatedAt: now}
	fail := func(why string) error {
		item.State, item.LastError = store.OutboxFailed, why
		if _, err := tx.Enqueue(item); err != nil {
			return err
		}
		b.log.Error("mail not sent", "incident", inc.Ref, "kind", n.kind, "recipient", n.to.Address, "why", why)
		b.metrics.RepliesFailed.Inc() // counted even if the transaction is retried: rare, and errs on the loud side
		return tx.Audit(inc.ID, now, "system", n.kind+"-not-sent", "to "+n.to.Address+": "+why)
	}

	var ring *crypto.KeyRing
	var sealTo string
	if policy != config.EncryptNever {
		keys, problem, err := b.recipientKeys(tx, n.to.Address, person)
		if err != nil {
			return err
		}
		r, fpr, kerr := responders.EncryptionKey(n.to.Address, now, append(keys, n.offeredKeys...)...)
		switch {
		case problem != "":
			return fail(problem + "; nothing was sent rather than plaintext")
		case kerr == nil:
			ring, sealTo = r, fpr
		case policy == config.EncryptAlways:
			return fail(kerr.Error() + "; encrypt is always for this recipient, so nothing was sent")
		}
	}
	data := n.data
	if sealTo == "" && n.plain != nil {
		data = *n.plain
	}
	data.Recipient = templates.Person{Name: n.to.Name, Address: n.to.Address}
	if data.Priority != "" {
		// The published definition, in the language the form is read in.
		data.PriorityDefinition = b.cfg.PriorityOf(data.Priority).In(b.forms.Choose(n.form, langs...))
	}
	msg, err := b.forms.Render(n.form, data, langs...)
	if err != nil {
		return fail(fmt.Sprintf("rendering the %s form: %v", n.form, err))
	}

	domain := b.cfg.Desk.Address[strings.LastIndexByte(b.cfg.Desk.Address, '@')+1:]
	msgID := fmt.Sprintf("%s.%s@%s", strings.ToLower(inc.Ref), randomToken(8), domain)
	m := responders.Mail{
		From:          &mail.Address{Name: b.cfg.Desk.Name, Address: b.cfg.Desk.Address},
		To:            []*mail.Address{&n.to},
		Subject:       msg.Subject,
		PublicSubject: "[" + inc.Ref + "] ...",
		Date:          now,
		MessageID:     msgID,
		InReplyTo:     n.inReplyTo,
		References:    n.references,
		AutoSubmitted: n.autoSubmitted,
		Body:          msg.Body,
	}
	how := "signed"
	if sealTo != "" {
		item.Payload, err = responders.ComposeEncrypted(m, b.key, ring)
		how = "signed and encrypted to " + sealTo
	} else {
		item.Payload, err = responders.ComposeSigned(m, b.key)
	}
	if err != nil {
		return fail(fmt.Sprintf("composing the %s mail: %v", n.form, err))
	}
	sum := sha256.Sum256(item.Payload)
	if err := tx.AddMessage(store.Message{IncidentID: inc.ID, Direction: "out", MessageID: msgID, SHA256: hex.EncodeToString(sum[:]),
		Source: "outbox", From: b.cfg.Desk.Address, Subject: msg.Subject, CreatedAt: now}); err != nil {
		return err
	}
	if _, err := tx.Enqueue(item); err != nil {
		return err
	}
	return tx.Audit(inc.ID, now, "system", n.kind+"-queued", fmt.Sprintf("to %s, %s, %s, in %s (%s)", n.to.Address, msgID, how, msg.Lang, data.Variant))
}

// recipientKeys gathers the public keys that may encrypt to address, best
// first: the person's configured key, pgp.keyring, and keys the address
// sent before. problem says why a configured key_file could not be used.
func (b *Bot) recipientKeys(tx *store.Tx, address string, p config.Person) (keys [][]byte, problem string, err error) {
	if p.KeyFile != "" {
		k, err := os.ReadFile(p.KeyFile)
		if err != nil {
			problem = fmt.Sprintf("people key_file of %s: %v", address, err)
		}
		keys = append(keys, k)
	}
	keys = append(keys, b.knownKeys[strings.ToLower(address)]...)
	sent, err := tx.ReporterKeys(address)
	if err != nil {
		return nil, "", fmt.Errorf("reading keys of %s: %w", address, err)
	}
	return append(keys, sent...), problem, nil
}

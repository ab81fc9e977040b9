// Package notify turns the desk's decisions to tell someone into mail. A
// decision queues a notice as an outbox item in its own transaction
// (Queue: cheap, no crypto); the outbox's mail sender composes it when it
// sends it (Compose: rendered in the reader's language and variant,
// signed, encrypted when their policy and a known key say so). Signing a
// mail to each of 10,000 people never holds the store's write lock, and a
// fan-out is handed to the sender as soon as it is decided.
//
// A notice keeps its Message-ID from Queue, so a retried send is the same
// message to its receiver, however often it is composed.
package notify

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/gopenpgp/v2/crypto"
	"github.com/emersion/go-message/mail"

	"tocsin/bot/clock"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/responders"
	"tocsin/templates"
)

// Notice is one notification mail about an incident, before it is
// rendered, sealed and queued.
type Notice struct {
	Form        string       `json:"form"` // one of templates.Forms
	Kind        string       `json:"kind"` // outbox kind
	IdemKey     string       `json:"key"`  // one effect, once
	IncidentRef string       `json:"incident"`
	To          mail.Address `json:"to"`
	// Langs are language hints after the person's own: the language of
	// their mail.
	Langs []string       `json:"langs,omitempty"`
	Data  templates.Form `json:"data"`
	// Plain replaces Data when the mail goes out unencrypted; nil: Data.
	// An answer to an encrypted report must not repeat it in clear.
	Plain         *templates.Form `json:"plain,omitempty"`
	InReplyTo     string          `json:"in_reply_to,omitempty"`
	References    []string        `json:"references,omitempty"`
	AutoSubmitted string          `json:"auto_submitted,omitempty"`
	OfferedKeys   [][]byte        `json:"offered_keys,omitempty"` // keys in the mail being answered
	// MessageID is given by Queue and kept through every attempt.
	MessageID string `json:"message_id"`
	// Subject and Body replace a form for a short mail about no incident
	// (a chat link code): Form is then "".
	Subject string `json:"subject,omitempty"`
	Body    string `json:"body,omitempty"`
}

// Notifier composes notices. Its fields are set once, before use.
type Notifier struct {
	Config *config.Config
	Store  *store.Store
	Key    *responders.Key
	Forms  *templates.Set
	Clock  clock.Clock
	Log    *slog.Logger
	// KnownKeys is pgp.keyring by lower-case address.
	KnownKeys map[string][][]byte

	zones map[string]*time.Location
	// keyFiles are the people's key_files, read once at start, by
	// lower-case address.
	keyFiles map[string]keyFile
}

type keyFile struct {
	armored []byte
	err     error
}

// New returns a Notifier for cfg.
func New(cfg *config.Config, st *store.Store, key *responders.Key, forms *templates.Set, clk clock.Clock, log *slog.Logger) *Notifier {
	n := &Notifier{Config: cfg, Store: st, Key: key, Forms: forms, Clock: clk, Log: log, zones: map[string]*time.Location{}, keyFiles: map[string]keyFile{}}
	for _, k := range cfg.Contacts {
		if k.KeyFile != "" {
			armored, err := os.ReadFile(k.KeyFile)
			n.keyFiles[strings.ToLower(k.Email)] = keyFile{armored, err}
		}
	}
	for _, p := range cfg.People {
		if p.KeyFile != "" {
			armored, err := os.ReadFile(p.KeyFile)
			n.keyFiles[strings.ToLower(p.Email)] = keyFile{armored, err}
		}
		if p.TimeZone == "" {
			continue
		}
		if loc, err := time.LoadLocation(p.TimeZone); err == nil { // checked by config
			n.zones[strings.ToLower(p.Email)] = loc
		}
	}
	return n
}

// PersonKeyFile is the key_file of the roster person (or external
// contact) at address as read at start: nil and no error when they have none, the read error when it
// could not be read (mail to them is then a dead letter that says so).
func (nf *Notifier) PersonKeyFile(address string) ([]byte, error) {
	k := nf.keyFiles[strings.ToLower(address)]
	return k.armored, k.err
}

// Queue writes n to the outbox in the caller's transaction, unless it was
// queued before (its IdemKey); it reports whether it added it.
func (nf *Notifier) Queue(tx *store.Tx, incidentID int64, n Notice, now time.Time) (bool, error) {
	if n.MessageID == "" {
		domain := nf.Config.Desk.Address[strings.LastIndexByte(nf.Config.Desk.Address, '@')+1:]
		n.MessageID = fmt.Sprintf("%s.%s@%s", strings.ToLower(cmp.Or(n.IncidentRef, "desk")), randomToken(8), domain)
	}
	payload, err := json.Marshal(n)
	if err != nil {
		return false, fmt.Errorf("encoding notice %s: %w", n.IdemKey, err)
	}
	// The outbox row is the record of the decision (and the audit entry of
	// the decision names who was told); composing it audits what was sent.
	return tx.Enqueue(store.OutboxItem{IdemKey: n.IdemKey, IncidentID: incidentID, Channel: store.PlatformMail, Kind: n.Kind,
		Sender: nf.Config.Desk.Address, Recipient: n.To.Address, Payload: payload, CreatedAt: now})
}

// IsNotice reports whether an outbox payload is a notice to compose (a
// JSON object) rather than a composed message (which starts with a header
// field).
func IsNotice(payload []byte) bool { return len(payload) > 0 && payload[0] == '{' }

// Compose makes the message of a queued notice, records it on its
// incident (once, by its Message-ID, however often a retry composes it)
// and returns its bytes. A notice that cannot be sent says why in a
// permanent *responders.SendError: the outbox makes it a dead letter,
// visible on the incident, in the UI and in /metrics; never plaintext
// instead.
func (nf *Notifier) Compose(ctx context.Context, it store.OutboxItem) ([]byte, error) {
	var n Notice
	if err := json.Unmarshal(it.Payload, &n); err != nil {
		return nil, &responders.SendError{Err: fmt.Errorf("notice unreadable: %w", err)}
	}
	c := nf.compose(ctx, n, nf.Clock.Now())
	err := nf.Store.Tx(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		if c.why != "" {
			return tx.Audit(it.IncidentID, nf.Clock.Now(), "system", n.Kind+"-not-sent", "to "+n.To.Address+": "+c.why)
		}
		c.msg.IncidentID = it.IncidentID
		if it.IncidentID != 0 { // mail about no incident is in the outbox and the audit only
			added, err := tx.AddSentMessage(*c.msg)
			if err != nil || !added {
				return err
			}
		}
		return tx.Audit(it.IncidentID, c.msg.CreatedAt, "system", n.Kind+"-composed", c.audit)
	})
	if err != nil {
		return nil, &responders.SendError{Temporary: true, Err: fmt.Errorf("recording the %s mail: %w", n.Kind, err)}
	}
	if c.why != "" {
		return nil, &responders.SendError{Err: errors.New(c.why)}
	}
	return c.raw, nil
}

// composed is a notice made into a message, or why it cannot be.
type composed struct {
	raw   []byte
	msg   *store.Message
	audit string
	why   string // not sent, and why
}

// compose renders, signs and (where policy and keys say so) encrypts n.
//
// What cannot be sent never costs the report its filing: a recipient whose
// policy is "always" (or whose configured key_file cannot be read) but who
// has no usable key, or a form that fails to render, becomes a dead letter
// that says why, visible on the incident, in the UI and in /metrics. Never
// plaintext instead.
func (nf *Notifier) compose(ctx context.Context, n Notice, now time.Time) composed {
	cfg := nf.Config
	person, known := cfg.PersonByEmail(n.To.Address)
	policy, langs := cfg.Replies.Encrypt, n.Langs
	if known {
		policy, langs = person.Encrypt, append([]string{person.Language}, langs...)
		n.Data.Variant = templates.Variant(person.Variant)
		n.Data.Zone = nf.zones[strings.ToLower(person.Email)]
		if n.To.Name == "" {
			n.To.Name = person.Name
		}
	} else if k, ok := cfg.ContactByEmail(n.To.Address); ok {
		// An external contact: always encrypted when their key is
		// configured, in their language.
		policy, langs = k.Encrypt(cfg), append([]string{k.Language}, langs...)
		person = config.Person{Email: k.Email, KeyFile: k.KeyFile}
	}
	fail := func(why string) composed { return composed{why: why} }

	var ring *crypto.KeyRing
	var sealTo string
	if policy != config.EncryptNever {
		keys, problem, err := nf.recipientKeys(ctx, n.To.Address, person)
		if err != nil {
			return fail(err.Error())
		}
		r, fpr, kerr := responders.EncryptionKey(n.To.Address, now, append(keys, n.OfferedKeys...)...)
		switch {
		case problem != "":
			return fail(problem + "; nothing was sent rather than plaintext")
		case kerr == nil:
			ring, sealTo = r, fpr
		case policy == config.EncryptAlways:
			return fail(kerr.Error() + "; encrypt is always for this recipient, so nothing was sent")
		}
	}
	data := n.Data
	if sealTo == "" && n.Plain != nil {
		data = *n.Plain
	}
	data.Recipient = templates.Person{Name: n.To.Name, Address: n.To.Address}
	if data.Priority != "" {
		// The published definition, in the language the form is read in.
		data.PriorityDefinition = cfg.PriorityOf(data.Priority).In(nf.Forms.Choose(n.Form, langs...))
	}
	msg := templates.Message{Lang: "en", Subject: n.Subject, Body: n.Body}
	var err error
	if n.Form != "" {
		if msg, err = nf.Forms.Render(n.Form, data, langs...); err != nil {
			return fail(fmt.Sprintf("rendering the %s form: %v", n.Form, err))
		}
	}

	msgID := n.MessageID
	m := responders.Mail{
		From:          &mail.Address{Name: cfg.Desk.Name, Address: cfg.Desk.Address},
		To:            []*mail.Address{&n.To},
		Subject:       msg.Subject,
		PublicSubject: publicSubject(n.IncidentRef),
		Date:          now,
		MessageID:     msgID,
		InReplyTo:     n.InReplyTo,
		References:    n.References,
		AutoSubmitted: n.AutoSubmitted,
		Body:          msg.Body,
	}
	var raw []byte
	how := "signed"
	if sealTo != "" {
		raw, err = responders.ComposeEncrypted(m, nf.Key, ring)
		how = "signed and encrypted to " + sealTo
	} else {
		raw, err = responders.ComposeSigned(m, nf.Key)
	}
	if err != nil {
		return fail(fmt.Sprintf("composing the %s mail: %v", n.Form, err))
	}
	sum := sha256.Sum256(raw)
	return composed{
		raw: raw,
		msg: &store.Message{Direction: "out", MessageID: msgID, SHA256: hex.EncodeToString(sum[:]),
			Source: "outbox", From: cfg.Desk.Address, Subject: msg.Subject, CreatedAt: now},
		audit: fmt.Sprintf("to %s, %s, %s, in %s", n.To.Address, msgID, how, inWhat(msg)),
	}
}

// recipientKeys gathers the public keys that may encrypt to address, best
// first: the person's configured key, pgp.keyring, and keys the address
// sent before. problem says why a configured key_file could not be used.
func (nf *Notifier) recipientKeys(ctx context.Context, address string, p config.Person) (keys [][]byte, problem string, err error) {
	if p.KeyFile != "" {
		k, err := nf.PersonKeyFile(address)
		if err != nil {
			problem = fmt.Sprintf("people key_file of %s: %v", address, err)
		}
		keys = append(keys, k)
	}
	keys = append(keys, nf.KnownKeys[strings.ToLower(address)]...)
	sent, err := nf.Store.ReporterKeys(ctx, address)
	if err != nil {
		return nil, "", fmt.Errorf("reading keys of %s: %w", address, err)
	}
	return append(keys, sent...), problem, nil
}

func randomToken(n int) string {
	buf := make([]byte, n)
	rand.Read(buf)
	return hex.EncodeToString(buf)
}

// inWhat is the language and variant m was rendered in, for the audit.
func inWhat(m templates.Message) string {
	if m.Variant == "" {
		return m.Lang // no form: written as it is
	}
	return m.Lang + " (" + string(m.Variant) + ")"
}

// publicSubject is the subject an encrypted mail shows outside: only the
// incident's id.
func publicSubject(ref string) string {
	if ref == "" {
		return "..."
	}
	return "[" + ref + "] ..."
}

// Preview renders n as its reader would read it (their language and
// variant), without signing, sealing or queueing it. A notice with a
// Plain form previews that one: the mail says no more than it, sealed or
// not.
func (nf *Notifier) Preview(n Notice) (templates.Message, error) {
	cfg := nf.Config
	langs := n.Langs
	if n.Plain != nil {
		n.Data = *n.Plain
	}
	if person, known := cfg.PersonByEmail(n.To.Address); known {
		langs = append([]string{person.Language}, langs...)
		n.Data.Variant = templates.Variant(person.Variant)
		n.Data.Zone = nf.zones[strings.ToLower(person.Email)]
	} else if k, ok := cfg.ContactByEmail(n.To.Address); ok {
		langs = append([]string{k.Language}, langs...)
	}
	data := n.Data
	data.Recipient = templates.Person{Name: n.To.Name, Address: n.To.Address}
	if data.Priority != "" {
		data.PriorityDefinition = cfg.PriorityOf(data.Priority).In(nf.Forms.Choose(n.Form, langs...))
	}
	return nf.Forms.Render(n.Form, data, langs...)
}

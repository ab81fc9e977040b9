// Package notify turns the desk's decisions to tell someone into outbox
// items. A decision writes an intent in its own transaction (Queue: cheap,
// no crypto); Flush then renders each intent in the reader's language and
// variant, signs it, encrypts it when their policy and a known key say so,
// and moves it to the outbox in one short transaction. Signing a mail to
// each of 200 people never holds the store's write lock.
//
// An intent outlives a crash: whatever Flush did not finish, the next
// Flush (the daemon runs one at start and on a tick) does. Flushing the
// same intent twice queues it once (the outbox item's key).
package notify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
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
	// Failed is called for each notice that became a dead letter.
	Failed func()
	// Queued is called after each batch that reached the outbox, so that
	// sending starts while the rest of a large fan-out is composed.
	Queued func()

	zones map[string]*time.Location
	kick  chan struct{}
}

// New returns a Notifier for cfg.
func New(cfg *config.Config, st *store.Store, key *responders.Key, forms *templates.Set, clk clock.Clock, log *slog.Logger) *Notifier {
	n := &Notifier{Config: cfg, Store: st, Key: key, Forms: forms, Clock: clk, Log: log, Failed: func() {}, Queued: func() {}, zones: map[string]*time.Location{},
		kick: make(chan struct{}, 1)}
	for _, p := range cfg.People {
		if p.TimeZone == "" {
			continue
		}
		if loc, err := time.LoadLocation(p.TimeZone); err == nil { // checked by config
			n.zones[strings.ToLower(p.Email)] = loc
		}
	}
	return n
}

// Queue records n as an intent in the caller's transaction. It returns the
// intent's id for Flush, or 0 when n was queued before.
func (nf *Notifier) Queue(tx *store.Tx, incidentID int64, n Notice, now time.Time) (int64, error) {
	payload, err := json.Marshal(n)
	if err != nil {
		return 0, fmt.Errorf("encoding notice %s: %w", n.IdemKey, err)
	}
	return tx.AddIntent(store.Intent{IdemKey: n.IdemKey, IncidentID: incidentID, Channel: "mail", Recipient: n.To.Address, Payload: payload, CreatedAt: now})
}

// flushBatch bounds one Flush pass: its intents are composed in parallel
// and committed in one transaction.
const flushBatch = 256

// Flush composes the intents with the given ids (all waiting intents when
// none are given) and moves them to the outbox. It returns how many
// outbox items it added.
func (nf *Notifier) Flush(ctx context.Context, ids ...int64) (int, error) {
	// Passes may overlap (an Ingest flushing its own answer while Run
	// sweeps): the worst is an intent composed twice and queued once.
	added, byID := 0, len(ids) > 0
	for {
		var chunk []int64
		if byID {
			n := min(len(ids), flushBatch)
			chunk, ids = ids[:n], ids[n:]
		}
		ins, err := nf.Store.Intents(ctx, flushBatch, chunk...)
		if err != nil {
			return added, err
		}
		n, err := nf.commit(ctx, ins, nf.composeAll(ctx, ins))
		added += n
		if n > 0 {
			nf.Queued()
		}
		if err != nil || (byID && len(ids) == 0) || (!byID && len(ins) < flushBatch) {
			return added, err
		}
	}
}

// composeAll composes intents on every processor.
func (nf *Notifier) composeAll(ctx context.Context, ins []store.Intent) []composed {
	out := make([]composed, len(ins))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(ins)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = nf.composeIntent(ctx, ins[i])
			}
		}()
	}
	for i := range ins {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func (nf *Notifier) composeIntent(ctx context.Context, in store.Intent) composed {
	var n Notice
	if err := json.Unmarshal(in.Payload, &n); err != nil {
		// Written by this program: a bug, but never lose the intent
		// silently nor loop on it.
		n = Notice{IdemKey: in.IdemKey, Kind: "notice", To: mail.Address{Address: in.Recipient}}
		return composed{item: nf.deadLetter(in.IncidentID, n, in.CreatedAt, fmt.Sprintf("intent payload unreadable: %v", err))}
	}
	return nf.compose(ctx, in.IncidentID, n, nf.Clock.Now())
}

// composed is a notice ready for the outbox: the item (a dead letter when
// it could not be composed) and, when composed, the record of the sent
// message and the audit line.
type composed struct {
	item  store.OutboxItem
	msg   *store.Message
	audit string
}

// commit moves composed intents to the outbox in one transaction: an
// intent already queued (flushed by an earlier pass) is only deleted.
func (nf *Notifier) commit(ctx context.Context, ins []store.Intent, cs []composed) (int, error) {
	if len(ins) == 0 {
		return 0, nil
	}
	var failed []store.OutboxItem
	added := 0
	err := nf.Store.Tx(ctx, func(tx *store.Tx) error {
		failed, added = nil, 0
		for i, in := range ins {
			ok, err := tx.Enqueue(cs[i].item)
			if err != nil {
				return err
			}
			if ok {
				added++
				if err := nf.record(tx, cs[i]); err != nil {
					return err
				}
				if cs[i].item.State == store.OutboxFailed {
					failed = append(failed, cs[i].item)
				}
			}
			if err := tx.DeleteIntent(in.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, it := range failed {
		nf.Failed()
		nf.Log.Error("mail not sent", "kind", it.Kind, "recipient", it.Recipient, "why", it.LastError)
	}
	return added, nil
}

func (nf *Notifier) record(tx *store.Tx, c composed) error {
	it := c.item
	if it.State == store.OutboxFailed {
		return tx.Audit(it.IncidentID, it.CreatedAt, "system", it.Kind+"-not-sent", "to "+it.Recipient+": "+it.LastError)
	}
	if err := tx.AddMessage(*c.msg); err != nil {
		return err
	}
	return tx.Audit(it.IncidentID, it.CreatedAt, "system", it.Kind+"-queued", c.audit)
}

func (nf *Notifier) deadLetter(incidentID int64, n Notice, now time.Time, why string) store.OutboxItem {
	return store.OutboxItem{IdemKey: n.IdemKey, IncidentID: incidentID, Channel: "mail", Kind: n.Kind,
		Sender: nf.Config.Desk.Address, Recipient: n.To.Address, CreatedAt: now, State: store.OutboxFailed, LastError: why}
}

// compose renders, signs and (where policy and keys say so) encrypts n.
//
// What cannot be sent never costs the report its filing: a recipient whose
// policy is "always" (or whose configured key_file cannot be read) but who
// has no usable key, or a form that fails to render, becomes a dead letter
// that says why, visible on the incident, in the UI and in /metrics. Never
// plaintext instead.
func (nf *Notifier) compose(ctx context.Context, incidentID int64, n Notice, now time.Time) composed {
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
	}
	fail := func(why string) composed { return composed{item: nf.deadLetter(incidentID, n, now, why)} }

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
	msg, err := nf.Forms.Render(n.Form, data, langs...)
	if err != nil {
		return fail(fmt.Sprintf("rendering the %s form: %v", n.Form, err))
	}

	domain := cfg.Desk.Address[strings.LastIndexByte(cfg.Desk.Address, '@')+1:]
	msgID := fmt.Sprintf("%s.%s@%s", strings.ToLower(n.IncidentRef), randomToken(8), domain)
	m := responders.Mail{
		From:          &mail.Address{Name: cfg.Desk.Name, Address: cfg.Desk.Address},
		To:            []*mail.Address{&n.To},
		Subject:       msg.Subject,
		PublicSubject: "[" + n.IncidentRef + "] ...",
		Date:          now,
		MessageID:     msgID,
		InReplyTo:     n.InReplyTo,
		References:    n.References,
		AutoSubmitted: n.AutoSubmitted,
		Body:          msg.Body,
	}
	item := store.OutboxItem{IdemKey: n.IdemKey, IncidentID: incidentID, Channel: "mail", Kind: n.Kind,
		Sender: cfg.Desk.Address, Recipient: n.To.Address, CreatedAt: now}
	how := "signed"
	if sealTo != "" {
		item.Payload, err = responders.ComposeEncrypted(m, nf.Key, ring)
		how = "signed and encrypted to " + sealTo
	} else {
		item.Payload, err = responders.ComposeSigned(m, nf.Key)
	}
	if err != nil {
		return fail(fmt.Sprintf("composing the %s mail: %v", n.Form, err))
	}
	sum := sha256.Sum256(item.Payload)
	return composed{
		item: item,
		msg: &store.Message{IncidentID: incidentID, Direction: "out", MessageID: msgID, SHA256: hex.EncodeToString(sum[:]),
			Source: "outbox", From: cfg.Desk.Address, Subject: msg.Subject, CreatedAt: now},
		audit: fmt.Sprintf("to %s, %s, %s, in %s (%s)", n.To.Address, msgID, how, msg.Lang, data.Variant),
	}
}

// recipientKeys gathers the public keys that may encrypt to address, best
// first: the person's configured key, pgp.keyring, and keys the address
// sent before. problem says why a configured key_file could not be used.
func (nf *Notifier) recipientKeys(ctx context.Context, address string, p config.Person) (keys [][]byte, problem string, err error) {
	if p.KeyFile != "" {
		k, err := os.ReadFile(p.KeyFile)
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

// flushEvery is how often Run looks for intents that a crash, or a failed
// Flush, left behind.
const flushEvery = 30 * time.Second

// Kick makes Run compose waiting intents now.
func (nf *Notifier) Kick() {
	select {
	case nf.kick <- struct{}{}:
	default:
	}
}

// Run flushes waiting intents at once, when kicked, and every flushEvery
// until ctx ends.
func (nf *Notifier) Run(ctx context.Context) {
	for {
		if _, err := nf.Flush(ctx); err != nil && ctx.Err() == nil {
			nf.Log.Error("composing notifications", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-nf.kick:
		case <-nf.Clock.After(flushEvery):
		}
	}
}

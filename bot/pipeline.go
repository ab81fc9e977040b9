package bot

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"tocsin/bot/act"
	"tocsin/bot/engine"
	"tocsin/bot/intake"
	"tocsin/bot/notify"
	"tocsin/bot/store"
	"tocsin/internal/printable"
	"tocsin/parsers"
	"tocsin/templates"
)

// Result is what Ingest did with a message.
type Result struct {
	Incident  string // the incident ref it is filed on
	New       bool   // it opened the incident
	Duplicate bool   // it was filed before; nothing changed
	Answered  bool   // an acknowledgement was queued
	Withheld  string // why no acknowledgement was queued, if none was
	// Unfiled says why automatic mail opened no incident (it is kept
	// unfiled); "" when it was filed.
	Unfiled string
	// NewSender: filed on an incident its sender had no part in.
	NewSender bool
	// Playbook is the call tree the new incident started, if any.
	Playbook string
	// Answer says what a call-tree answer in the message did, or why it
	// did not count.
	Answer  string
	carded  bool           // chat cards were queued
	effects engine.Effects // of a call-tree answer
}

// Ingest files one raw message: keeps its bytes, parses it, and in one
// transaction threads it onto an incident or opens one, writes the audit
// entry and queues the acknowledgement. It is idempotent: the same message
// again (same Message-ID, or same bytes) changes nothing, so intake may
// mark a message processed only after Ingest returns nil and simply retry
// after a crash. An error means nothing was committed.
func (b *Bot) Ingest(ctx context.Context, source string, raw []byte, received time.Time) (Result, error) {
	return b.IngestRaw(ctx, source, intake.Raw{Bytes: raw}, received)
}

// IngestRaw is Ingest for a message as intake took it: when it was
// spooled to a file, that file becomes the kept raw copy (renamed, not
// written again) and its digest is not computed twice.
func (b *Bot) IngestRaw(ctx context.Context, source string, in intake.Raw, received time.Time) (Result, error) {
	raw := in.Bytes
	hexSum := in.SHA256
	if hexSum == "" {
		sum := sha256.Sum256(raw)
		hexSum = hex.EncodeToString(sum[:])
	}
	// The same bytes again (a re-fetch after a crash, a rescan after a
	// UIDVALIDITY change) are known by their hash: skip the parse. The
	// transaction below still decides, for Message-IDs and races.
	if ref, dup, err := b.store.InboundByHash(ctx, hexSum); err != nil {
		return Result{}, fmt.Errorf("looking up message: %w", err)
	} else if dup {
		return b.done(Result{Incident: ref, Duplicate: true}, received), nil
	}
	opt := parsers.Options{
		Limits: parsers.Limits{MaxParts: b.cfg.Limits.MaxParts, MaxDepth: b.cfg.Limits.MaxDepth,
			MaxAttachmentBytes: b.cfg.Limits.MaxAttachmentBytes, MaxDecodedBytes: b.cfg.Limits.MaxDecodedBytes},
		Keys:               b.keyring,
		Now:                b.clock.Now(),
		TrustedAuthServIDs: trustedAuthServIDs(source, b.cfg.Trust.AuthServIDs),
		OwnDomains:         b.cfg.Trust.OwnDomains,
		Policy:             b.policy,
		Attachments:        blobSink{dir: b.blobDir()},
	}
	rep, perr := parsers.ParseWith(raw, opt)
	if perr == nil && rep.PGP.Signed && !rep.PGP.Verified && rep.From != "" {
		// Signed by a key we do not know: perhaps one this sender sent us
		// before. Read again with those keys.
		if earlier, err := b.store.ReporterKeys(ctx, rep.From); err == nil && len(earlier) > 0 {
			if opt.EarlierKeys, err = parsers.ReadKeyring(earlier...); err == nil {
				rep, perr = parsers.ParseWith(raw, opt)
			}
		}
	}
	if perr != nil {
		// Not mail at all: file it anyway, so nothing is lost, and answer
		// nobody (there is nobody to answer).
		rep = &parsers.Report{Subject: "(unreadable message)", Category: parsers.CategoryOther, Priority: "P4",
			Warnings: []string{perr.Error()}}
	}
	rawPath, err := b.keepRaw(hexSum, in)
	if err != nil {
		return Result{}, fmt.Errorf("keeping raw message: %w", err)
	}
	for _, a := range rep.Attachments {
		if !a.Stored {
			return Result{}, fmt.Errorf("keeping attachment %q: not stored (see the report's warnings)", a.Name)
		}
	}
	repJSON, err := json.Marshal(rep)
	if err != nil {
		return Result{}, fmt.Errorf("encoding report: %w", err)
	}

	unfiled := opensNoIncident(rep)
	var res Result
	err = b.store.Tx(ctx, func(tx *store.Tx) error {
		res = Result{}
		ref, dup, err := tx.FindMessage(rep.Thread.MessageID, hexSum)
		if err != nil {
			return err
		}
		if dup {
			res.Duplicate, res.Incident = true, ref
			return nil
		}
		now := b.clock.Now()
		// The answer references the message quotes are kept and shown
		// as marks only (store.Redactor).
		red, err := tx.References(repJSON)
		if err != nil {
			return fmt.Errorf("finding answer references: %w", err)
		}
		keptJSON, subject := red.Bytes(repJSON), red.String(rep.Subject)
		refs := append(append([]string{}, rep.Thread.References...), rep.Thread.InReplyTo)
		inc, err := tx.FindThread(rep.Thread.IncidentTag, refs)
		switch {
		case errors.Is(err, store.ErrNotFound) && unfiled != "":
			// Automatic mail about nothing we know (an out-of-office reply
			// to a newsletter, a bounce for mail we never sent) is kept and
			// listed, never an incident.
			res.Unfiled = unfiled
			if err := tx.AddMessage(store.Message{Direction: "in", MessageID: rep.Thread.MessageID, SHA256: hexSum, Source: source,
				From: rep.From, Subject: subject, Report: keptJSON, RawPath: rawPath, CreatedAt: now,
				Category: string(rep.Category), UnfiledReason: res.Unfiled}); err != nil {
				return err
			}
			return tx.Audit(0, now, actorOf(rep), "not-filed", fmt.Sprintf("%s from %s via %s (%q) opened no incident: %s",
				rep.Category, cmp.Or(rep.From, "(unknown)"), source, printable.Runes(subject, 80), res.Unfiled))
		case errors.Is(err, store.ErrNotFound):
			inc, err = tx.CreateIncident(b.cfg.Desk.IncidentPrefix, store.Incident{
				Priority: rep.Priority, Category: string(rep.Category), Subject: cmp.Or(subject, "(no subject)"),
				Reporter: rep.From, ReporterName: rep.FromName, Language: rep.Language, CreatedAt: now,
			})
			if err != nil {
				return err
			}
			res.New = true
			detail := fmt.Sprintf("from %s via %s: %s [%s, %s]", cmp.Or(rep.From, "(unknown)"), source, inc.Subject, inc.Category, inc.Priority)
			if rep.PGP.Reason != "" {
				detail += "; OpenPGP: " + rep.PGP.Reason
			}
			if len(rep.SpoofSigns) > 0 {
				detail += "; SENDER DOUBTFUL: " + strings.Join(rep.SpoofSigns, "; ")
			}
			if src := rep.FromSource; src != "" && src != "from" {
				detail += fmt.Sprintf("; no From header: the reporter address was taken from %s", map[string]string{"sender": "Sender", "return-path": "Return-Path (the envelope sender)"}[src])
			}
			if err := tx.Audit(inc.ID, now, actorOf(rep), "opened", detail); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if res.NewSender, err = b.isNewSender(tx, inc, rep.From); err != nil {
				return err
			}
			action, detail := "message-added", fmt.Sprintf("via %s: %s", source, subject)
			if res.NewSender {
				// Tags are sequential and easy to guess: a stranger's mail is
				// kept on the incident but moves nothing.
				action = "message-added-new-sender"
				detail = fmt.Sprintf("NEW SENDER %s, who had no part in this incident (not the reporter, not on the roster, not in the thread); via %s: %s; nothing triggered",
					cmp.Or(rep.From, "(unknown)"), source, subject)
			}
			if err := tx.Audit(inc.ID, now, actorOf(rep), action, detail); err != nil {
				return err
			}
			if err := tx.Touch(inc.ID, now); err != nil {
				return err
			}
		}
		res.Incident = inc.Ref
		if err := b.pinKeys(tx, inc, rep, now); err != nil {
			return err
		}
		if err := tx.AddMessage(store.Message{IncidentID: inc.ID, Direction: "in", MessageID: rep.Thread.MessageID, SHA256: hexSum,
			Source: source, From: rep.From, Subject: subject, Report: keptJSON, RawPath: rawPath, CreatedAt: now,
			Category: string(rep.Category), NewSender: res.NewSender}); err != nil {
			return err
		}
		if res.NewSender {
			return nil
		}
		if res.carded, err = b.cards.Queue(tx, inc, "msg:"+hexSum[:16], now); err != nil {
			return err
		}
		if !res.New {
			return b.takeAnswer(tx, inc, rep, hexSum, red, now, &res)
		}
		res.Withheld = b.mustNotAnswer(tx, rep, now)
		notReporter := res.Withheld
		if notReporter == "" && source == SourceForm {
			notReporter = "the address was typed into the public form"
		}
		if res.Playbook, err = b.engine.StartTree(tx, inc, b.affectedUnits(rep, now), notReporter, now); err != nil {
			return err
		}
		if res.Withheld != "" {
			return tx.Audit(inc.ID, now, "system", "no-answer", res.Withheld)
		}
		if source == SourceForm {
			// Anyone can type any address into the public form: the desk
			// signs nothing to it until its owner confirms.
			if err := b.queueConfirmation(tx, inc, rep, now); err != nil {
				return err
			}
			res.Answered = true
			return nil
		}
		if _, err = b.queueAcknowledgement(tx, inc, rep, now); err != nil {
			return err
		}
		res.Answered = true
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("filing message: %w", err)
	}
	b.engine.Flush(ctx, res.effects)
	if res.Playbook != "" {
		b.engine.Kick()
	}
	return b.done(res, received), nil
}

// trustedAuthServIDs are the receiving servers whose
// Authentication-Results a message from source is read with. Only mail
// taken from the desk's mailbox passed a receiving server that stamped it;
// a message posted to the API, typed into the form or logged in chat
// carries whatever headers its sender wrote, and a forged "dmarc=pass"
// there would pin the sender's key for any address (issue 15 §4).
func trustedAuthServIDs(source string, ids []string) []string {
	if !strings.HasPrefix(source, intake.SourcePrefix) {
		return nil
	}
	return ids
}

// opensNoIncident returns why rep, when it threads onto no incident, must
// not open one, or "". Machine mail (auto-replies, bounces, read receipts,
// challenge-response, list and bulk mail) is about nothing by itself;
// machine-made reports of abuse (ARF, X-ARF, IODEF) are reports and do
// open incidents, unanswered.
func opensNoIncident(rep *parsers.Report) string {
	if !rep.AutoSubmitted || rep.Category == parsers.CategoryAbuse || rep.Feedback != nil || rep.IODEF != nil {
		return ""
	}
	return fmt.Sprintf("automatic mail (%s: %s) that refers to no incident", rep.Category, rep.AutoReason)
}

// isNewSender reports whether from had no part in inc before: not its
// reporter, nobody on the roster or the desk itself, and nobody who wrote
// or was written to in its thread.
func (b *Bot) isNewSender(tx *store.Tx, inc *store.Incident, from string) (bool, error) {
	if from == "" {
		return true, nil
	}
	if strings.EqualFold(from, b.cfg.Desk.Address) {
		return false, nil
	}
	if _, ok := b.cfg.PersonByEmail(from); ok {
		return false, nil
	}
	known, err := tx.IsParticipant(inc.ID, from)
	return !known, err
}

// done counts what Ingest did and wakes the dispatcher if it queued mail.
func (b *Bot) done(res Result, received time.Time) Result {
	m := b.metrics
	m.Fetched.Inc()
	switch {
	case res.Duplicate:
		m.Duplicates.Inc()
	case res.Unfiled != "":
		m.Unfiled.Inc()
	case res.New:
		m.IncidentsOpened.Inc()
	default:
		m.Threaded.Inc()
		if res.NewSender {
			m.NewSender.Inc()
		}
	}
	if res.Withheld != "" {
		m.RepliesWithheld.Inc()
	}
	if res.Answered || res.carded {
		b.Kick()
	}
	m.IntakeLatency.Observe(b.clock.Now().Sub(received).Seconds())
	return res
}

func actorOf(rep *parsers.Report) string {
	if rep.From != "" {
		return rep.From
	}
	return "unknown sender"
}

// mustNotAnswer returns why rep must get no automatic answer, or "".
// RFC 3834 section 2: never answer automatic mail; and never more than
// replies.per_sender answers to one address per window, so that a loop with
// a misbehaving responder, or a flood, stays small.
func (b *Bot) mustNotAnswer(tx *store.Tx, rep *parsers.Report, now time.Time) string {
	switch notWritable(rep, b.cfg.Desk.Address) {
	case act.AutomaticSender:
		return fmt.Sprintf("%s mail is never answered (%s)", rep.Category, rep.AutoReason)
	case act.NoAddress:
		return "no reporter address to answer"
	case act.DeskAddress:
		return "mail from the desk's own address is never answered (loop)"
	case act.DMARCFailed:
		return fmt.Sprintf("DMARC failed at %s: the From address may be forged; filed and flagged, not answered", rep.Authentication.Server)
	}
	n, err := tx.RecentTo("mail", rep.From, now.Add(-b.cfg.Replies.Window))
	if err != nil {
		return "rate limit could not be checked: " + err.Error()
	}
	if n >= b.cfg.Replies.PerSender {
		return fmt.Sprintf("rate limit: %s already got %d answers in %v", rep.From, n, b.cfg.Replies.Window)
	}
	return ""
}

// queueAcknowledgement queues the acknowledgement to the reporter in the
// standard notification form, in the caller's transaction.
func (b *Bot) queueAcknowledgement(tx *store.Tx, inc *store.Incident, rep *parsers.Report, now time.Time) (bool, error) {
	n := reporterNotice("acknowledgement", inc, rep, b.form(inc, rep))
	n.IdemKey, n.AutoSubmitted = "ack:"+inc.Ref, "auto-replied"
	return b.notify.Queue(tx, inc.ID, n, now)
}

// reporterNotice is a mail of form to the reporter of rep about inc, in
// their language, threaded on their mail (the acknowledgement, /reply).
// Keys the mail carries encrypt it only when its From is authenticated:
// else it could be sealed to a forger's key. Sent in clear, it must not
// repeat anything the reporter chose to encrypt.
func reporterNotice(form string, inc *store.Incident, rep *parsers.Report, data templates.Form) notify.Notice {
	var refs []string
	if rep.Thread.MessageID != "" {
		refs = append(append(refs, rep.Thread.References...), rep.Thread.MessageID)
	}
	var offered [][]byte
	if rep.SenderAuthenticated() {
		for _, k := range rep.OfferedKeyData {
			offered = append(offered, []byte(k.Armored))
		}
	}
	n := notify.Notice{Form: form, Kind: form, IncidentRef: inc.Ref,
		To: mail.Address{Name: rep.FromName, Address: rep.From}, Langs: []string{rep.Language}, Data: data,
		InReplyTo: rep.Thread.MessageID, References: refs, OfferedKeys: offered}
	if rep.PGP.Encrypted {
		plain := data
		plain.Summary = "(encrypted report: content not repeated in this unencrypted mail)"
		plain.Facts = templates.Facts{Encrypted: true, Decrypted: rep.PGP.Decrypted, DecryptProblem: rep.PGP.Reason}
		n.Plain = &plain
	}
	return n
}

// form fills the standard notification form from an incident and the
// report that opened it.
func (b *Bot) form(inc *store.Incident, rep *parsers.Report) templates.Form {
	def := b.cfg.PriorityOf(inc.Priority)
	facts := templates.Facts{
		CVEs: rep.CVEs, CWEs: rep.CWEs, Attachments: len(rep.Attachments),
		Reasons:   reasonsOf(rep.PriorityReasonCodes),
		Encrypted: rep.PGP.Encrypted, Decrypted: rep.PGP.Decrypted,
	}
	if rep.PGP.Encrypted && !rep.PGP.Decrypted {
		facts.DecryptProblem = rep.PGP.Reason
	}
	for _, c := range rep.CVSS {
		s := c.Vector
		if c.BaseScore >= 0 {
			s += fmt.Sprintf(" (%.1f %s)", c.BaseScore, c.Severity)
		}
		facts.CVSS = append(facts.CVSS, s)
	}
	ind := rep.Indicators
	facts.Indicators = len(ind.IPv4) + len(ind.IPv6) + len(ind.Domains) + len(ind.URLs) + len(ind.Hashes)
	return templates.Form{
		IncidentID:         inc.Ref,
		Date:               inc.CreatedAt,
		Reporter:           templates.Person{Name: rep.FromName, Address: rep.From},
		Contacts:           b.contacts(rep.From, rep.Language),
		Priority:           inc.Priority,
		PriorityDefinition: def.Definition,
		Category:           inc.Category,
		Status:             "new",
		Summary:            printable.Runes(inc.Subject, 120), // the reporter's words, echoed: keep them short
		Facts:              facts,
		NextUpdate:         inc.CreatedAt.Add(def.Respond),
		Desk: templates.Desk{Name: b.cfg.Desk.Name, Address: b.cfg.Desk.Address,
			Fingerprint: b.key.Fingerprint(), PublicURL: b.cfg.Desk.PublicURL},
	}
}

func reasonsOf(rs []parsers.Reason) []templates.Reason {
	out := make([]templates.Reason, len(rs))
	for i, r := range rs {
		out[i] = templates.Reason{Code: r.Code, Concept: string(r.Concept), Arg: r.Arg}
	}
	return out
}

// contacts are the geo-based points of contact for a reporter: the
// region's security officer and account manager, or its stand-in when
// neither is set. None: the desk itself, as the form then says.
func (b *Bot) contacts(address, lang string) []templates.Contact {
	r, ok := b.cfg.RegionFor(address, lang)
	if !ok {
		return nil
	}
	var out []templates.Contact
	add := func(role, addr string) {
		if addr == "" {
			return
		}
		p, _ := b.cfg.PersonByEmail(addr)
		out = append(out, templates.Contact{Name: cmp.Or(p.Name, addr), Role: role, Region: r.Name, Address: addr})
	}
	add("security-officer", r.SecurityOfficer)
	add("account-manager", r.AccountManager)
	if len(out) == 0 {
		add("stand-in", r.StandIn)
	}
	return out
}

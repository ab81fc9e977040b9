package bot

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"tocsin/bot/act"
	"tocsin/bot/clock"
	"tocsin/bot/engine"
	"tocsin/bot/notify"
	"tocsin/bot/outbox"
	"tocsin/bot/store"
	"tocsin/bot/web"
	"tocsin/config"
	"tocsin/internal/printable"
	"tocsin/parsers"
	"tocsin/responders"
	"tocsin/templates"
)

// webhookSenders resolves the configured webhooks' secrets.
func webhookSenders(cfg *config.Config) (outbox.Webhooks, error) {
	w := outbox.Webhooks{Hooks: map[string]outbox.Hook{}, Client: &http.Client{Timeout: 20 * time.Second}, Now: time.Now}
	for _, h := range cfg.Webhooks {
		secret, err := h.Secret.Resolve()
		if err != nil {
			return w, fmt.Errorf("webhooks %s secret: %w", h.Name, err)
		}
		w.Hooks[h.Name] = outbox.Hook{URL: h.URL, Format: h.Format, Secret: secret}
	}
	return w, nil
}

// formOf fills the standard notification form of an incident from the
// report that opened it.
func (b *Bot) formOf(tx *store.Tx, inc *store.Incident) (templates.Form, error) {
	_, repJSON, err := tx.IncidentByID(inc.ID)
	if err != nil {
		return templates.Form{}, err
	}
	var rep parsers.Report
	if len(repJSON) > 0 {
		if err := json.Unmarshal(repJSON, &rep); err != nil {
			return templates.Form{}, fmt.Errorf("reading the report of %s: %w", inc.Ref, err)
		}
	}
	f := b.form(inc, &rep)
	f.Date = inc.EventAt
	f.Status = "investigating"
	f.NextUpdate, err = b.engine.NextUpdate(tx, inc, b.clock.Now()) // after now, whenever it is written
	if err != nil {
		return f, err
	}
	// The team's actions (the enhanced alert's), as written: the current
	// version when the mail is written.
	a, ok, err := tx.Actions(inc.ID)
	if ok {
		f.Actions, f.ActionsVersion = []templates.Action{{Text: a.Text}}, a.Version
	}
	return f, err
}

// affectedUnits are the units the report names, as the tree records them.
func (b *Bot) affectedUnits(rep *parsers.Report, now time.Time) []store.TreeUnit {
	var out []store.TreeUnit
	for _, m := range b.roster.Affected(rep) {
		out = append(out, store.TreeUnit{Unit: m.Unit, Evidence: strings.Join(m.Evidence, ", "), Owners: m.Owners, AddedAt: now, Assets: m.Assets})
	}
	return out
}

// personKeys are the roster people's key_files (as keyFile gives them,
// read once): the keys verify their signed replies, and a reply counts as
// theirs only when signed by one of their own keys (by lower-case
// address).
func personKeys(cfg *config.Config, keyFile func(address string) ([]byte, error)) (blocks [][]byte, signers map[string][]string, err error) {
	signers = map[string][]string{}
	for _, p := range cfg.People {
		if p.KeyFile == "" {
			continue
		}
		armored, err := keyFile(p.Email)
		if err != nil {
			// tocsin check reports it; mail to them becomes a dead letter
			// that says why, and their signed answers do not count.
			continue
		}
		fprs, err := responders.Fingerprints(armored)
		if err != nil {
			return nil, nil, fmt.Errorf("people %s key_file: %w", p.Email, err)
		}
		signers[strings.ToLower(p.Email)] = append(signers[strings.ToLower(p.Email)], fprs...)
		blocks = append(blocks, armored)
	}
	return blocks, signers, nil
}

// verbRefuse is no answer to a step: its author declines it ("not my
// system", "wrong person"). The step stays waiting, and the team member
// on call is told, so that someone finds who it belongs to.
const verbRefuse = "refuse"

// parseAnswer reads an answer from the first line of a reply that is not
// quoted: its first word says ack or done, the rest of the line and the
// lines up to the quote or signature are the note. Words that decline
// the step (the lexicon's refusals, in the forms' languages) make it
// verbRefuse, whatever word it starts with: "OK, but this is not my
// system" acknowledges nothing. Words that say the work is stuck (the
// lexicon's blockers: "fails", "need help") make it engine.VerbBlocked,
// unless it starts with done.
func parseAnswer(text string) (verb, note string, ok bool) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, ">") {
			return "", "", false
		}
		first, rest, _ := strings.Cut(l, " ")
		verb = parsers.AnswerVerb(strings.TrimRight(first, ".,:;!。、"))
		parts := []string{strings.TrimSpace(strings.TrimLeft(rest, "-–:, "))}
		for _, more := range lines[i+1:] {
			if strings.HasPrefix(more, ">") || strings.TrimSpace(more) == "--" || strings.HasPrefix(more, "-- ") || quoteIntro.MatchString(more) {
				break
			}
			parts = append(parts, strings.TrimSpace(more))
		}
		said := strings.TrimSpace(strings.Join(parts, " "))
		if parsers.Refusal(l+" "+said) != "" {
			verb, said = verbRefuse, strings.TrimSpace(l+" "+strings.Join(parts[1:], " "))
		} else if verb != parsers.AnswerDone && parsers.Blocker(l+" "+said) != "" {
			// Stuck: neither ack nor done, whatever word it starts with
			// ("OK, but the patch fails"); done stays done.
			verb, said = engine.VerbBlocked, strings.TrimSpace(l+" "+strings.Join(parts[1:], " "))
		}
		if verb == "" {
			return "", "", false
		}
		return verb, printable.Runes(said, 500), true
	}
	return "", "", false
}

// quoteIntro is the line mail clients put above a quote ("On ..., X wrote:").
var quoteIntro = regexp.MustCompile(`(?i)(wrote|schrieb|a écrit|escribió)\s*:\s*$|書きました`)

// tokenRE finds answer references in a reply (engine tokens: 10 of a
// 31-character alphabet).
var tokenRE = regexp.MustCompile(`\b[a-hj-km-np-z2-9]{10}\b`)

// notCounted is why a message on an incident is no answer that counts;
// team: the team member on call must hear of it (a refusal, an
// unauthenticated out-of-office reply), not only the audit.
type notCounted struct {
	why  string
	team bool
}

// ownReference finds, among the references text quotes, the one sent to
// person about inc: its step. foreign is a reference sent to someone
// else or about another incident (already redacted by red), "" if none.
func ownReference(tx *store.Tx, inc *store.Incident, person, text string, red store.Redactor) (stepID int64, foreign string, err error) {
	for _, tok := range tokenRE.FindAllString(text, 50) {
		incID, id, who, err := tx.StepToken(tok)
		if err == store.ErrNotFound {
			continue
		}
		if err != nil {
			return 0, "", err
		}
		if incID != inc.ID || !strings.EqualFold(who, person) {
			foreign = red.String(tok)
			continue
		}
		return id, "", nil
	}
	return 0, foreign, nil
}

// answerOf decides whether an incoming message on inc is a call-tree
// answer that counts. It returns the command, or why it does not count
// (a zero notCounted and command when the message is no answer at all).
// red hides the answer references the message quotes from what is kept.
func (b *Bot) answerOf(tx *store.Tx, inc *store.Incident, rep *parsers.Report, red store.Redactor) (engine.Command, notCounted, error) {
	if rep.AutoSubmitted {
		// An out-of-office reply from someone on the roster to a call-tree
		// mail is evidence that they are away: what waits for them goes to
		// the next level now. Anyone can write such a mail with a guessable
		// subject, so it counts only authenticated (DMARC pass at a trusted
		// server) or quoting the person's own reference; else the team is
		// told and the deadlines stand.
		p, ok := b.cfg.PersonByEmail(rep.From)
		if !ok || rep.Category != parsers.CategoryAutoReply {
			return engine.Command{}, notCounted{}, nil
		}
		cmd := engine.Command{Incident: inc.ID, Person: strings.ToLower(p.Email), Verb: engine.VerbAway, Via: "auto-reply",
			Note: printable.Runes(red.String(rep.Subject), 120), Platform: "email", RequestID: rep.Thread.MessageID}
		if rep.SenderAuthenticated() {
			return cmd, notCounted{}, nil
		}
		stepID, _, err := ownReference(tx, inc, cmd.Person, rep.Text, red)
		if err != nil {
			return engine.Command{}, notCounted{}, err
		}
		if stepID != 0 && !(rep.Authentication.Server != "" && rep.Authentication.DMARC == "fail") {
			cmd.Via = "auto-reply-token"
			return cmd, notCounted{}, nil
		}
		return engine.Command{}, notCounted{why: fmt.Sprintf("an out-of-office reply from %s is not authenticated (no DMARC pass at a trusted server) and quotes no answer reference of theirs: nobody is marked away, the deadlines stand", cmd.Person), team: true}, nil
	}
	verb, note, ok := parseAnswer(rep.Text)
	if !ok {
		return engine.Command{}, notCounted{}, nil
	}
	note = red.String(note)
	person, onRoster := b.cfg.PersonByEmail(rep.From)
	if !onRoster && (verb == verbRefuse || verb == engine.VerbBlocked) {
		return engine.Command{}, notCounted{}, nil // a reporter's "wrong address" is mail, not an answer
	}
	if !onRoster {
		return engine.Command{}, notCounted{why: fmt.Sprintf("%q from %s, who is not on the roster", verb, cmp.Or(rep.From, "(unknown)"))}, nil
	}
	cmd := engine.Command{Incident: inc.ID, Person: strings.ToLower(person.Email), Verb: verb, Note: note, Platform: "email", RequestID: rep.Thread.MessageID}
	signed := rep.PGP.Signed && rep.PGP.Verified && slices.Contains(b.signers[cmd.Person], strings.ToUpper(rep.PGP.Signer))
	if signed {
		cmd.Via = "email-signed"
	}
	stepID, foreign, err := ownReference(tx, inc, cmd.Person, rep.Text, red)
	if err != nil {
		return engine.Command{}, notCounted{}, err
	}
	if stepID != 0 {
		if cmd.Via == "" {
			if rep.Authentication.Server != "" && rep.Authentication.DMARC == "fail" {
				return engine.Command{}, notCounted{why: fmt.Sprintf("%q from %s quotes their answer reference, but DMARC failed at %s: the From may be forged", verb, rep.From, rep.Authentication.Server)}, nil
			}
			cmd.Via = "email-token"
		}
		cmd.StepID = stepID
	}
	if cmd.Via == "" {
		why := fmt.Sprintf("%q from %s is neither signed by their key nor quotes an answer reference sent to them", verb, rep.From)
		switch {
		case foreign != "":
			why = fmt.Sprintf("%q from %s quotes an answer reference (%s) that was sent to someone else or about another incident", verb, rep.From, foreign)
		case rep.PGP.Signed && !signed:
			why = fmt.Sprintf("%q from %s is signed, but not verifiably by a key of theirs on the roster (%s)", verb, rep.From, cmp.Or(rep.PGP.Reason, "signer "+rep.PGP.Signer))
		}
		return engine.Command{}, notCounted{why: why}, nil
	}
	return cmd, notCounted{}, nil
}

// takeAnswer applies a call-tree answer the message carries, in the
// transaction that files it, and confirms it to the person; an answer
// that does not count is filed and audited with why (and told to the
// team member on call where it needs a person: a refusal, a doubtful
// out-of-office reply).
func (b *Bot) takeAnswer(tx *store.Tx, inc *store.Incident, rep *parsers.Report, hexSum string, red store.Redactor, now time.Time, res *Result) error {
	if text, ok := parseActions(rep.Text); ok && !rep.AutoSubmitted {
		return b.takeActions(tx, inc, rep, text, red, now, res)
	}
	cmd, not, err := b.answerOf(tx, inc, rep, red)
	switch {
	case err != nil:
		return err
	case not.why != "":
		res.Answer = "not counted: " + not.why
		if err := tx.Audit(inc.ID, now, actorOf(rep), "answer-not-counted", not.why); err != nil {
			return err
		}
		if !not.team {
			return nil
		}
		return b.tellTeam(tx, inc, actorOf(rep), templates.ToldUnverifiedAway, "told:"+inc.Ref+":"+hexSum[:16], now, res)
	case cmd.Verb == verbRefuse:
		why := fmt.Sprintf("%s (%s) declines the step: %q; it is no answer, the step stays waiting", cmd.Person, cmd.Via, cmd.Note)
		res.Answer = "not counted: " + why
		if err := tx.AuditFrom(inc.ID, now, cmd.Person, "answer-refused", why, cmd.Platform, cmd.RequestID); err != nil {
			return err
		}
		return b.tellTeamOf(tx, inc, templates.TeamTold{Reason: templates.ToldDeclined, About: cmd.Person, Text: cmd.Note, At: now}, why, "told:"+inc.Ref+":"+hexSum[:16], now, res, false)
	case cmd.Verb == "":
		return nil
	}
	out, eff, err := b.act.DoTx(tx, act.Actor{Person: cmd.Person, Platform: cmd.Platform, RequestID: cmd.RequestID, Via: cmd.Via},
		act.Command{Name: act.Name(cmd.Verb), Incident: inc.Ref, Text: cmd.Note, Step: cmd.StepID, Evidence: evidenceOf(rep, red)})
	if err != nil {
		return err
	}
	ans, ok := out.(act.Answered)
	if !ok {
		res.Answer = "not counted: no open step waits for " + cmd.Verb + " from " + cmd.Person
		return nil
	}
	res.effects = eff
	res.Answer = fmt.Sprintf("%s of %q by %s (%s): step %s", cmd.Verb, ans.Step, cmd.Person, cmd.Via, ans.State)
	if cmd.Verb == engine.VerbAway {
		return nil // never an answer to an auto-reply
	}
	form, err := b.formOf(tx, inc)
	if err != nil {
		return err
	}
	form.Status = "investigating"
	form.Recorded = &templates.Recorded{Verb: cmd.Verb, Step: ans.StepName, At: now, State: ans.State, Note: cmd.Note}
	added, err := b.notify.Queue(tx, inc.ID, notifyNotice("status-update", "answer-confirmed", "answer:"+inc.Ref+":"+hexSum[:16], inc.Ref, cmd.Person, form, rep), now)
	res.effects.Queued = res.effects.Queued || added
	return err
}

// evidenceOf are the files an answer brought (the team's scan output),
// kept whole with the message: an asset's state refers to them.
func evidenceOf(rep *parsers.Report, red store.Redactor) []store.Evidence {
	var out []store.Evidence
	for _, a := range rep.Attachments {
		if a.Stored && !a.Truncated {
			out = append(out, store.Evidence{Name: printable.Runes(red.String(a.Name), 120), SHA256: a.SHA256, Size: a.Size})
		}
	}
	return out
}

// actionsMarker starts a reply that brings the team's actions for the
// enhanced alert: the word in the forms' languages, then a colon.
var actionsMarker = regexp.MustCompile(`^(?i)(actions|maßnahmen|massnahmen|acciones|対応)\s*[:：]`)

// parseActions reads the actions from a reply whose first line that is
// not empty starts with the marker: the rest of that line and the lines
// up to the quote or signature, as written.
func parseActions(text string) (string, bool) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		m := actionsMarker.FindStringIndex(t)
		if m == nil {
			return "", false
		}
		out := []string{strings.TrimSpace(t[m[1]:])}
		for _, more := range lines[i+1:] {
			if strings.HasPrefix(more, ">") || strings.TrimSpace(more) == "--" || strings.HasPrefix(more, "-- ") || quoteIntro.MatchString(more) {
				break
			}
			out = append(out, strings.TrimRight(more, " \t"))
		}
		s := strings.TrimSpace(strings.Join(out, "\n"))
		return s, s != ""
	}
	return "", false
}

// takeActions keeps the actions a reply brings, in the transaction that
// files it: from someone on the roster, signed by their key or quoting a
// reference sent to them (Do's table decides whether they may).
func (b *Bot) takeActions(tx *store.Tx, inc *store.Incident, rep *parsers.Report, text string, red store.Redactor, now time.Time, res *Result) error {
	person, ok := b.cfg.PersonByEmail(rep.From)
	if !ok {
		return nil // mail, not actions
	}
	who := strings.ToLower(person.Email)
	via := ""
	if rep.PGP.Signed && rep.PGP.Verified && slices.Contains(b.signers[who], strings.ToUpper(rep.PGP.Signer)) {
		via = "email-signed"
	}
	stepID, _, err := ownReference(tx, inc, who, rep.Text, red)
	if err != nil {
		return err
	}
	if via == "" && stepID != 0 && !(rep.Authentication.Server != "" && rep.Authentication.DMARC == "fail") {
		via = "email-token"
	}
	if via == "" {
		why := fmt.Sprintf("actions from %s are neither signed by their key nor quote an answer reference sent to them (or DMARC failed)", who)
		res.Answer = "not counted: " + why
		return tx.Audit(inc.ID, now, actorOf(rep), "answer-not-counted", why)
	}
	out, eff, err := b.act.DoTx(tx, act.Actor{Person: who, Platform: "email", RequestID: rep.Thread.MessageID, Via: via},
		act.Command{Name: act.Actions, Incident: inc.Ref, Text: red.String(text)})
	if err != nil {
		return err
	}
	res.effects.Queued = res.effects.Queued || eff.Queued
	if w, ok := out.(act.ActionsWritten); ok {
		res.Answer = fmt.Sprintf("actions version %d by %s (%s)", w.Version, who, via)
	} else if r, ok := out.(act.Refused); ok {
		res.Answer = fmt.Sprintf("not counted: actions from %s: %s", who, r.Reason)
	}
	return nil
}

// tellTeam queues the team-told form about inc to the team member on
// call (the secondary when the primary is who it is about), under key:
// what is the reason (templates.ToldUnverifiedAway, ...), worded by the
// form in their language. What it is told of is what anyone can cause
// (a forged auto-reply), so it folds: one mail per incident and person
// an hour, repeats within the hour audited, not mailed.
func (b *Bot) tellTeam(tx *store.Tx, inc *store.Incident, about, what, key string, now time.Time, res *Result) error {
	return b.tellTeamOf(tx, inc, templates.TeamTold{Reason: what, About: about, At: now}, what, key, now, res, true)
}

// tellTeamOf is tellTeam with what they wrote; detail is the audit's;
// fold as tellTeam does.
func (b *Bot) tellTeamOf(tx *store.Tx, inc *store.Incident, told templates.TeamTold, detail, key string, now time.Time, res *Result, fold bool) error {
	primary, secondary := b.roster.TeamOnCall(now)
	to := primary
	if strings.EqualFold(primary, told.About) && secondary != "" {
		to = secondary
	}
	if to == "" {
		return tx.Audit(inc.ID, now, "system", "team-not-told", "nobody of the team is on call to tell: "+detail)
	}
	if fold {
		again, err := tx.AuditedSince(inc.ID, "team-told", to+" told: ", now.Add(-TeamToldEvery))
		if err != nil {
			return err
		}
		if again {
			return tx.Audit(inc.ID, now, "system", "team-told-again", fmt.Sprintf("%s told within the hour already, not mailed again: %s", to, detail))
		}
	}
	form, err := b.formOf(tx, inc)
	if err != nil {
		return err
	}
	form.Told = &told
	added, err := b.notify.Queue(tx, inc.ID, notify.Notice{Form: "team-told", Kind: "team-told", IdemKey: key, IncidentRef: inc.Ref, To: mail.Address{Address: to},
		Data: form}, now)
	res.effects.Queued = res.effects.Queued || added
	if err != nil {
		return err
	}
	return tx.Audit(inc.ID, now, "system", "team-told", fmt.Sprintf("%s told: %s", to, detail))
}

// TeamToldEvery is how often at most the team member on call is mailed
// about one incident for what anyone can cause (tellTeam's fold).
const TeamToldEvery = time.Hour

// notifyNotice is a mail to a roster person about inc, in reply to rep.
func notifyNotice(form, kind, key, ref, to string, data templates.Form, rep *parsers.Report) notify.Notice {
	var refs []string
	if rep.Thread.MessageID != "" {
		refs = append(append(refs, rep.Thread.References...), rep.Thread.MessageID)
	}
	return notify.Notice{Form: form, Kind: kind, IdemKey: key, IncidentRef: ref, To: mail.Address{Address: to}, Data: data,
		InReplyTo: rep.Thread.MessageID, References: refs, AutoSubmitted: "auto-replied"}
}

// ActionClockMoved is the audit entry of a move of the sandbox's clock;
// its detail is a ClockMoved.
const ActionClockMoved = "clock-moved"

// ClockMoved is what a clock-moved entry records.
type ClockMoved struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Advance string    `json:"advance"`
}

// sandboxClock is the sandbox's clock control, or nil outside the
// sandbox: it moves the clock forward, runs the engine at once (the
// deadlines that passed fire now, in order) and wakes the outbox.
func (b *Bot) sandboxClock() func(ctx context.Context, d time.Duration, by web.Caller) (time.Time, error) {
	if !b.cfg.Sandbox {
		return nil
	}
	return func(ctx context.Context, d time.Duration, by web.Caller) (time.Time, error) {
		if d > 0 {
			from := b.clock.Now()
			switch c := b.clock.(type) {
			case *clock.Shifted:
				if _, err := c.Advance(d); err != nil {
					return time.Time{}, err
				}
			case *clock.Fake:
				c.Advance(d)
			default:
				return time.Time{}, fmt.Errorf("this clock cannot be moved")
			}
			// Every deadline the move passes fires: the log says why.
			to := b.clock.Now()
			detail, _ := json.Marshal(ClockMoved{From: from, To: to, Advance: d.String()})
			if err := b.store.Tx(ctx, func(tx *store.Tx) error {
				return tx.AuditFrom(0, to, by.Actor(), ActionClockMoved, string(detail), "api", by.RequestID())
			}); err != nil {
				return time.Time{}, fmt.Errorf("auditing the clock's move: %w", err)
			}
			if err := b.engine.Tick(ctx); err != nil {
				return time.Time{}, err
			}
			b.Kick()
		}
		return b.clock.Now(), nil
	}
}

// apiActor is the API's caller as the desk's actor: a roster person, or a
// named integration, whose token's officer scope makes it act as an
// officer (a person's role comes from the roster, whatever the scope).
func apiActor(by web.Caller) act.Actor {
	a := act.Actor{Person: by.Person, Platform: "api", RequestID: by.RequestID()}
	if by.Person == "" {
		a.Integration, a.Grants = by.Integration, act.Roster
		if by.Can(config.ScopeOfficer) {
			a.Grants |= act.Officer
		}
	}
	return a
}

// apiDo has the desk carry out c for the API's caller, and says what the
// result is to the web package: nil when it was done; store.ErrNotFound
// for no such incident or tree; web.ErrForbidden and web.ErrBadInput for
// refusals (Do audits the refusals of a role).
func (b *Bot) apiDo(ctx context.Context, by web.Caller, c act.Command, what string) error {
	res, err := b.act.Do(ctx, apiActor(by), c)
	if err != nil {
		return err
	}
	r, ok := res.(act.Refused)
	if !ok {
		return nil
	}
	return refusalErr(by, r, what)
}

// refusalErr is a refusal as the web package takes it.
func refusalErr(by web.Caller, r act.Refused, what string) error {
	switch r.Reason {
	case act.NoSuchIncident, act.NoTree:
		return store.ErrNotFound
	case act.NotPermitted, act.NotOnRoster, act.NotInTree:
		return fmt.Errorf("%w: %s: only the response team and the officers may %s", web.ErrForbidden, by.Actor(), what)
	case act.AlreadyClosed:
		return fmt.Errorf("%w: %w", web.ErrBadInput, engine.ErrAlreadyClosed)
	case act.UnknownUnit:
		return fmt.Errorf("%w: %w", web.ErrBadInput, &act.UnitError{Unit: r.Arg})
	}
	return fmt.Errorf("%w: %s", web.ErrBadInput, r.Reason)
}

// moveEvent sets E of the incident ref.
func (b *Bot) moveEvent(ctx context.Context, ref string, at time.Time, by web.Caller) error {
	return b.apiDo(ctx, by, act.Command{Name: act.Event, Incident: ref, Args: []string{at.UTC().Format(time.RFC3339Nano)}}, "move E")
}

// setUnits changes the units the incident ref affects.
func (b *Bot) setUnits(ctx context.Context, ref string, add, remove []string, why string, by web.Caller) error {
	var args []string
	for _, u := range add {
		args = append(args, "+"+u)
	}
	for _, u := range remove {
		args = append(args, "-"+u)
	}
	return b.apiDo(ctx, by, act.Command{Name: act.Affects, Incident: ref, Args: args, Text: why}, "change the units")
}

func (b *Bot) changeUnits(ctx context.Context, id int64, add, remove []string, why, actor, via string) error {
	for _, u := range append(append([]string{}, add...), remove...) {
		if _, ok := b.cfg.UnitByID(u); !ok {
			return fmt.Errorf("%w: %w", web.ErrBadInput, &act.UnitError{Unit: u})
		}
	}
	var units []store.TreeUnit
	for _, u := range add {
		unit, _ := b.cfg.UnitByID(u)
		units = append(units, store.TreeUnit{Unit: u, Evidence: "set by " + actor, Owners: unit.Owners})
	}
	return b.engine.SetUnits(ctx, id, units, remove, why, actor, via)
}

// setActions writes the team's actions for the incident ref's enhanced
// alert.
func (b *Bot) setActions(ctx context.Context, ref, text string, by web.Caller) error {
	return b.apiDo(ctx, by, act.Command{Name: act.Actions, Incident: ref, Text: text}, "write the actions")
}

// setAsset adds an asset to the incident ref or sets its state.
func (b *Bot) setAsset(ctx context.Context, ref, unit, asset, state, note string, by web.Caller) error {
	name := asset
	if unit != "" {
		name = unit + ":" + asset
	}
	return b.apiDo(ctx, by, act.Command{Name: act.SetAsset, Incident: ref, Args: []string{name, state}, Text: note}, "set an asset's state")
}

// closeIncident closes the incident ref and skips its tree's open steps;
// closing it again is refused as bad input, saying it is already closed.
func (b *Bot) closeIncident(ctx context.Context, ref string, by web.Caller) error {
	return b.apiDo(ctx, by, act.Command{Name: act.Close, Incident: ref}, "close")
}

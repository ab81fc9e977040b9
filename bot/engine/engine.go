package engine

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"tocsin/bot/clock"
	"tocsin/bot/notify"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/internal/printable"
	"tocsin/templates"
)

// Engine policy.
const (
	leaseName  = "engine"
	leaseFor   = 30 * time.Second
	renewEvery = 10 * time.Second
	batch      = 500
)

// Engine applies decisions. Its fields are set once, before Run.
type Engine struct {
	Config *config.Config
	Store  *store.Store
	Roster Roster
	Notify *notify.Notifier
	Clock  clock.Clock
	Log    *slog.Logger
	// Form fills the standard notification form of an incident (from the
	// report that opened it), in the caller's transaction.
	Form func(tx *store.Tx, inc *store.Incident) (templates.Form, error)
	// Queued wakes the outbox.
	Queued func()
	// Changed is called, in the transaction, when a tree changed in a way
	// people see (cards).
	Changed func(tx *store.Tx, inc *store.Incident, event string, now time.Time) error
	// Platforms are the chat platforms that can take direct messages.
	Platforms map[string]bool

	holder string
	kick   chan struct{}
}

// New returns an engine; holder names this instance in the lease.
func New(cfg *config.Config, st *store.Store, r Roster, nf *notify.Notifier, clk clock.Clock, log *slog.Logger) *Engine {
	host, _ := os.Hostname()
	e := &Engine{Config: cfg, Store: st, Roster: r, Notify: nf, Clock: clk, Log: log, Queued: func() {},
		Platforms: map[string]bool{}, holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), token()), kick: make(chan struct{}, 1)}
	return e
}

// Kick makes the loop look at due steps now.
func (e *Engine) Kick() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// StartTree starts the call tree of a new incident in the caller's
// transaction: the playbook its priority and category choose, the units
// its report affects, one row per step (per unit for unit steps) due
// from E, all looked at by the engine at once. It returns the playbook's
// name, or "" when none applies.
//
// notReporter says why the reporter must not be written to ("" when they
// may be): the steps for them are then skipped, saying so.
func (e *Engine) StartTree(tx *store.Tx, inc *store.Incident, units []store.TreeUnit, notReporter string, now time.Time) (string, error) {
	pb, ok := e.Config.PlaybookFor(inc.Priority, inc.Category)
	if !ok {
		return "", nil
	}
	rows := Rows(pb, inc, units, now)
	for i := range rows {
		if rows[i].Audience == config.AudienceReporter && notReporter != "" && rows[i].State != store.StepSkipped {
			rows[i].State, rows[i].Why, rows[i].NextAt = store.StepSkipped, "the reporter is not written to: "+notReporter, time.Time{}
		}
	}
	started, err := tx.StartTree(inc.ID, pb.Name, units, rows, now)
	if err != nil || !started {
		return "", err
	}
	var names []string
	for _, u := range units {
		names = append(names, u.Unit+" ("+u.Evidence+")")
	}
	detail := fmt.Sprintf("playbook %s, E = %s; affected units: %s", pb.Name, inc.EventAt.UTC().Format(time.RFC3339), orNone(names))
	return pb.Name, tx.Audit(inc.ID, now, "engine", "calltree-started", detail)
}

// Rows are the step rows of a playbook for an incident and its affected
// units. A step for other priorities than the incident's is there,
// skipped, saying so.
func Rows(pb config.Playbook, inc *store.Incident, units []store.TreeUnit, now time.Time) []store.StepRow {
	var rows []store.StepRow
	for pos, s := range pb.Steps {
		row := store.StepRow{Key: s.ID, Position: pos, Title: s.Title, Audience: s.Audience, Needs: s.Needs,
			DueAt: s.DueFrom(inc.EventAt), State: store.StepWaiting, NextAt: now}
		if len(s.Priorities) > 0 && !slices.Contains(s.Priorities, inc.Priority) {
			row.State, row.Why, row.NextAt = store.StepSkipped, "only for "+strings.Join(s.Priorities, ", ")+" incidents", time.Time{}
		}
		if s.Audience != config.AudienceUnits && s.Audience != config.AudienceOwners {
			rows = append(rows, row)
			continue
		}
		live := 0
		for _, u := range units {
			if u.Removed {
				continue
			}
			r := row
			r.Unit = u.Unit
			rows = append(rows, r)
			live++
		}
		if live == 0 {
			// Shown, not silently absent: the team identifies the units
			// (and an officer adds them).
			row.State, row.Why, row.NextAt = store.StepSkipped, "no affected unit identified from the report", time.Time{}
			rows = append(rows, row)
		}
	}
	return rows
}

// Run runs the engine until ctx ends, while this instance holds the
// lease: on a tick, at the next due step, and when kicked.
func (e *Engine) Run(ctx context.Context) {
	for {
		now := e.Clock.Now()
		held, err := e.Store.TakeLease(ctx, leaseName, e.holder, now, leaseFor)
		if err != nil && ctx.Err() == nil {
			e.Log.Error("engine lease", "err", err)
		}
		wait := renewEvery
		if held {
			if err := e.Tick(ctx); err != nil && ctx.Err() == nil {
				e.Log.Error("engine", "err", err)
			}
			if next, ok, err := e.Store.NextStepDue(ctx); err == nil && ok {
				wait = min(wait, max(next.Sub(e.Clock.Now()), 10*time.Millisecond))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-e.kick:
		case <-e.Clock.After(wait):
		}
	}
}

// Tick advances every tree with a step due by now.
func (e *Engine) Tick(ctx context.Context) error {
	for {
		ids, err := e.Store.DueTrees(ctx, e.Clock.Now(), batch)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := e.Advance(ctx, id); err != nil {
				return fmt.Errorf("incident %d: %w", id, err)
			}
		}
		if len(ids) < batch {
			return nil
		}
	}
}

// Advance decides and applies one incident's tree now.
func (e *Engine) Advance(ctx context.Context, incidentID int64) error {
	var eff Effects
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		eff = Effects{}
		tree, err := tx.Tree(incidentID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		pb, _ := e.Config.PlaybookByName(tree.Playbook)
		d := Decide(pb, *tree, e.Roster, e.Clock.Now(), token)
		eff.Queued, err = e.apply(tx, pb, d, origin{})
		return err
	})
	if err != nil {
		return err
	}
	e.Flush(ctx, eff)
	return nil
}

// origin is where the request a decision follows came from (a command's
// platform and request id; none for the engine's own tick): every audit
// entry the decision writes carries it.
type origin struct{ platform, request string }

// apply writes decision d: the changed step rows and people, the audit
// entries, and each message as an outbox row (mail to compose at sending,
// chat, pager) under its key. It reports whether it queued anything.
func (e *Engine) apply(tx *store.Tx, pb config.Playbook, d Decision, o origin) (bool, error) {
	inc := &d.Tree.Incident
	now := e.Clock.Now()
	touched := map[int]bool{}
	for _, i := range d.Changed {
		touched[i] = true
		if err := tx.UpdateStep(d.Tree.Steps[i]); err != nil {
			return false, err
		}
	}
	for i := range d.Added {
		touched[i] = true
	}
	for _, m := range d.Messages {
		touched[m.Step] = true
	}
	for i := range touched {
		for _, p := range d.Tree.Steps[i].People {
			if err := tx.PutStepPerson(d.Tree.Steps[i].ID, p); err != nil {
				return false, err
			}
		}
	}
	for _, ev := range d.Events {
		s := d.Tree.Steps[ev.Step]
		name := s.Key
		if s.Unit != "" {
			name += " [" + s.Unit + "]"
		}
		if err := tx.AuditFrom(inc.ID, now, "engine", "step-"+ev.Action, name+": "+ev.Detail, o.platform, o.request); err != nil {
			return false, err
		}
	}
	queued := false
	if len(d.Messages) == 0 {
		if len(d.Events) > 0 && e.Changed != nil {
			return false, e.Changed(tx, inc, "tree:"+token(), now)
		}
		return false, nil
	}
	form, err := e.Form(tx, inc)
	if err != nil {
		return false, err
	}
	defs := map[string]config.Step{}
	for _, s := range pb.Steps {
		defs[s.ID] = s
	}
	// Whatever the incident's form said when it was opened, the next
	// update is after now.
	form.NextUpdate = e.nextUpdate(&d.Tree, pb, now)
	for _, m := range d.Messages {
		s := d.Tree.Steps[m.Step]
		def := defs[s.Key]
		key := "ct:" + inc.Ref + ":" + m.Key
		switch {
		case s.Audience == config.AudienceAuthorities:
			// Nothing goes outside without a person's approval: a draft.
			added, err := e.draftOutside(tx, inc, s, def.Form, m.Person, now, o)
			if err != nil {
				return false, err
			}
			queued = queued || added
		case m.Via == config.ViaEmail:
			data := form
			data.Request = &templates.Request{Step: stepName(s), Needs: s.Needs, Due: s.DueAt, Token: m.Token,
				Reminder: m.Kind == MsgReminder, Missing: m.Missing}
			// Sent before the team's actions: marked so ("actions follow").
			data.Preliminary = s.Why == PreliminaryWhy && data.ActionsVersion == 0
			if def.Form == "status-report" {
				data.Steps = statusSteps(d.Tree)
				data.Assets = statusAssets(d.Tree)
				data.Elapsed = max(now.Sub(inc.EventAt), 0).Truncate(time.Minute)
				data.Request.Token = "" // nothing to answer
				// The signed report anchors the audit log outside the
				// desk: its length and last seal as this report is written.
				a, err := tx.AuditHead()
				if err != nil {
					return false, fmt.Errorf("reading the audit chain's head: %w", err)
				}
				data.Anchor = &templates.AuditAnchor{Count: a.Count, Head: a.Head, At: now}
			}
			n := notify.Notice{Form: def.Form, Kind: "calltree-" + m.Kind, IdemKey: key, IncidentRef: inc.Ref,
				To: mail.Address{Address: m.Person}, Data: data}
			if s.Audience == config.AudienceReporter {
				// The reporter's own update: in their language, with when
				// the next one comes; nothing about the desk's roster.
				n.Data.Request = nil
				if s.DueAt.After(now) {
					n.Data.NextUpdate = s.DueAt // the next round
				}
				n.To.Name, n.Langs = inc.ReporterName, []string{inc.Language}
			}
			added, err := e.Notify.Queue(tx, inc.ID, n, now)
			if err != nil {
				return false, err
			}
			queued = queued || added
		case m.Via == config.ViaSlack || m.Via == config.ViaDiscord || m.Via == config.ViaPager:
			it, why := e.chatItem(inc, s, m, key, now)
			if why != "" {
				if err := tx.AuditFrom(inc.ID, now, "engine", "page-not-sent", fmt.Sprintf("%s to %s: %s", m.Via, m.Person, why), o.platform, o.request); err != nil {
					return false, err
				}
				continue
			}
			added, err := tx.Enqueue(it)
			if err != nil {
				return false, err
			}
			queued = queued || added
		}
	}
	if e.Changed != nil {
		if err := e.Changed(tx, inc, "tree:"+token(), now); err != nil {
			return false, err
		}
	}
	return queued, nil
}

// NextUpdate is when the forms of incident inc, written now, say its
// next update comes: its tree's next open deadline after now, else its
// playbook's cadence, else its priority's response time from now. Never
// in the past (zero: none planned).
func (e *Engine) NextUpdate(tx *store.Tx, inc *store.Incident, now time.Time) (time.Time, error) {
	tree, err := tx.Tree(inc.ID)
	if errors.Is(err, store.ErrNotFound) {
		tree, err = &store.Tree{Incident: *inc}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	pb, _ := e.Config.PlaybookByName(tree.Playbook)
	return e.nextUpdate(tree, pb, now), nil
}

func (e *Engine) nextUpdate(tree *store.Tree, pb config.Playbook, now time.Time) time.Time {
	var next time.Time
	if !tree.Closed {
		for _, s := range tree.Steps {
			if s.State == store.StepDone || s.State == store.StepSkipped || !s.DueAt.After(now) {
				continue
			}
			if next.IsZero() || s.DueAt.Before(next) {
				next = s.DueAt
			}
		}
	}
	if !next.IsZero() {
		return next
	}
	for _, s := range pb.Steps {
		if s.Repeat > 0 && !tree.Closed {
			return now.Add(s.Repeat)
		}
	}
	if d := e.Config.PriorityOf(tree.Incident.Priority).Respond; d > 0 && !tree.Closed {
		return now.Add(d)
	}
	return time.Time{}
}

// Page is what a pager (webhook) receives, as JSON.
type Page struct {
	Incident string    `json:"incident"`
	Priority string    `json:"priority"`
	Kind     string    `json:"kind"` // alert, method, reminder, escalation
	Step     string    `json:"step"`
	Needs    string    `json:"needs"`
	Due      time.Time `json:"due"`
	Person   string    `json:"person"`
	Summary  string    `json:"summary"` // from the report: untrusted
	URL      string    `json:"url"`
}

// chatItem is a direct message or a page for m, or why there is none.
func (e *Engine) chatItem(inc *store.Incident, s store.StepRow, m Message, key string, now time.Time) (store.OutboxItem, string) {
	p, _ := e.Roster.Person(m.Person)
	it := store.OutboxItem{IdemKey: key, IncidentID: inc.ID, Kind: "calltree-" + m.Kind, Sender: e.Config.Desk.Address, CreatedAt: now}
	url := strings.TrimRight(e.Config.Desk.PublicURL, "/") + "/incidents/" + inc.Ref
	switch m.Via {
	case config.ViaSlack, config.ViaDiscord:
		id := p.SlackID
		if m.Via == config.ViaDiscord {
			id = p.DiscordID
		}
		if !e.Platforms[m.Via] {
			return it, m.Via + " is not configured"
		}
		it.To(store.DirectTo(m.Via, id))
		it.Payload = []byte(DirectText(inc, s, m, url))
	case config.ViaPager:
		it.To(store.Hook(p.Pager))
		it.Payload, _ = json.Marshal(Page{Incident: inc.Ref, Priority: inc.Priority, Kind: m.Kind, Step: s.Title, Needs: s.Needs,
			Due: s.DueAt, Person: m.Person, Summary: printable.Line(inc.Subject), URL: url}) // a pager shows it as it comes
	}
	return it, ""
}

// DirectText is a chat page: what, by when, and how to answer. The
// platforms' posters escape all of it.
func DirectText(inc *store.Incident, s store.StepRow, m Message, url string) string {
	what := map[string]string{MsgAlert: "Call tree", MsgMethod: "Still no answer", MsgReminder: "Reminder", MsgEscalation: "ESCALATED to you"}[m.Kind]
	ask := map[string]string{config.NeedsAck: "acknowledge", config.NeedsDone: "confirm when done", config.NeedsNone: "for your information"}[s.Needs]
	text := fmt.Sprintf("%s: [%s] %s %s\nStep: %s (%s by %s)\n", what, inc.Ref, inc.Priority, printable.Runes(inc.Subject, 120), s.Title, ask, s.DueAt.UTC().Format("2006-01-02 15:04 UTC"))
	if len(m.Missing) > 0 {
		text += "No answer from: " + strings.Join(m.Missing, ", ") + "\n"
	}
	return text + fmt.Sprintf("Answer with /ack %s or /done %s, or reply to the mail (reference %s). %s", inc.Ref, inc.Ref, m.Token, url)
}

// stepName names s for a form: a shipped step by its id, so that the form
// words it in the reader's language.
func stepName(s store.StepRow) templates.StepName {
	n := templates.StepName{Title: s.Title}
	if config.ShippedStep(s.Key, s.Title) {
		n.Key = s.Key
	}
	return n
}

// statusSteps is the tree as the status report shows it.
func statusSteps(tree store.Tree) []templates.Step {
	var out []templates.Step
	for _, s := range tree.Steps {
		st := templates.Step{Name: stepName(s), Unit: s.Unit, Due: s.DueAt, State: s.State}
		var who, by []string
		var at time.Time
		for _, p := range s.People {
			who = append(who, p.Person)
			if !p.DoneAt.IsZero() || !p.AckedAt.IsZero() {
				by = append(by, p.Person)
				if t := later(p.DoneAt, p.AckedAt); t.After(at) {
					at = t
				}
			}
		}
		st.Who, st.By, st.At = strings.Join(who, ", "), strings.Join(by, ", "), at
		if st.Who == "" {
			st.Who = s.Audience
		}
		switch s.State {
		case store.StepOverdue:
			st.State = "late"
		case store.StepWaiting, store.StepNotified:
			st.State = "pending"
		}
		out = append(out, st)
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// token is a reply token: 10 characters a mail client keeps intact and a
// person can read out.
func token() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	b := make([]byte, 10)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Command is an answer from a person: ack or done on an incident.
type Command struct {
	Incident int64
	StepID   int64 // the step whose token the answer quoted; 0: choose
	Person   string
	Verb     string
	Note     string
	Via      string // how, for the audit's detail: "slack t1", "email-signed"
	// Platform and RequestID are where the command came from, typed in
	// its audit entry.
	Platform, RequestID string
}

// Act applies an answer and advances the tree in one transaction; it
// returns what the answer changed.
func (e *Engine) Act(ctx context.Context, c Command) (Answered, error) {
	var res Answered
	var eff Effects
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		res, eff, err = e.ActTx(tx, c)
		return err
	})
	if err != nil {
		return Answered{}, err
	}
	e.Flush(ctx, eff)
	return res, nil
}

// Effects are what a transaction did that matters after its commit.
type Effects struct {
	Queued bool // outbox items: wake the outbox
}

// Flush wakes the outbox for the effects of a committed transaction.
func (e *Engine) Flush(_ context.Context, eff Effects) {
	if eff.Queued {
		e.Queued()
	}
}

// ActTx applies an answer in the caller's transaction (the one that files
// the mail it came in), and advances the tree; Flush the effects after
// the commit.
func (e *Engine) ActTx(tx *store.Tx, c Command) (Answered, Effects, error) {
	tree, err := tx.Tree(c.Incident)
	if errors.Is(err, store.ErrNotFound) {
		return Answered{}, Effects{}, ErrNothingToAnswer
	}
	if err != nil {
		return Answered{}, Effects{}, err
	}
	if tree.Closed {
		return Answered{}, Effects{}, ErrNothingToAnswer
	}
	now := e.Clock.Now()
	pb, _ := e.Config.PlaybookByName(tree.Playbook)
	res, err := Answer(pb, tree, e.Roster, c.StepID, c.Person, c.Verb, c.Note, c.Via, now)
	if err != nil {
		return Answered{}, Effects{}, err
	}
	for _, i := range res.Touched {
		s := tree.Steps[i]
		if err := tx.UpdateStep(s); err != nil {
			return Answered{}, Effects{}, err
		}
		for _, p := range s.People {
			if p.Token == "" {
				// Who answered without being told was sent no reference:
				// theirs is unique (the column is) and unquotable.
				p.Token = "-" + token()
			}
			if err := tx.PutStepPerson(s.ID, p); err != nil {
				return Answered{}, Effects{}, err
			}
		}
		if err := tx.PutStepBlock(s); err != nil {
			return Answered{}, Effects{}, err
		}
	}
	s := tree.Steps[res.Step]
	name := s.Key
	if s.Unit != "" {
		name += " [" + s.Unit + "]"
	}
	detail := fmt.Sprintf("%s via %s; step now %s", name, c.Via, s.State)
	if res.Behalf {
		detail += " (the unit contact, for the owners)"
	}
	if len(res.For) > 0 {
		detail += fmt.Sprintf(" (taken by %s for %s)", strings.ToLower(c.Person), strings.Join(res.For, ", "))
	}
	if c.Note != "" {
		detail += "; note: " + c.Note
	}
	// People appear by their roster address, lower case, whatever they typed.
	if err := tx.AuditFrom(c.Incident, now, strings.ToLower(c.Person), "step-"+c.Verb, detail, c.Platform, c.RequestID); err != nil {
		return Answered{}, Effects{}, err
	}
	d := Decide(pb, *tree, e.Roster, now, token)
	queued, err := e.apply(tx, pb, d, origin{c.Platform, c.RequestID})
	if err != nil {
		return Answered{}, Effects{}, err
	}
	if c.Verb == VerbBlocked {
		told, err := e.tellBlocked(tx, &tree.Incident, s, c, now)
		if err != nil {
			return Answered{}, Effects{}, err
		}
		queued = queued || told
	}
	if len(d.Messages) == 0 && len(d.Events) == 0 && e.Changed != nil {
		err = e.Changed(tx, &tree.Incident, "answer:"+token(), now)
	}
	return res, Effects{Queued: queued}, err
}

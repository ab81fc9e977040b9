package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tocsin/bot/clock"
	"tocsin/bot/notify"
	"tocsin/bot/roster"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/responders"
	"tocsin/templates"
)

const rosterYAML = `desk: {address: security@example.com}
people:
  - {name: Pia, email: pia@example.com, slack_id: U0PIA, pager: phone}
  - {name: Sol, email: sol@example.com}
  - {name: Cal, email: cal@example.com}
  - {name: Bo, email: bo@example.com}
  - {name: Ona, email: ona@example.com}
  - {name: Oli, email: oli@example.com}
  - {name: Ofe, email: ofe@example.com}
  - {name: Cio, email: cio@example.com}
team: {members: [pia@example.com, sol@example.com]}
units:
  - {id: pay, contact: cal@example.com, backup: bo@example.com, owners: [ona@example.com, oli@example.com], assets: [{host: pay.example.com}]}
  - {id: web, contact: bo@example.com, assets: [{host: www.example.com}]}
officers: [ofe@example.com]
cio: cio@example.com
regions: [{name: Global, default: true, security_officer: ofe@example.com}]
webhooks: [{name: phone, url: "https://ntfy.example.com/x", format: ntfy}]
`

// newTestEngine is an engine on a fresh store for the roster in yml, with
// a desk key, the embedded forms and Slack DMs enabled.
func newTestEngine(tb testing.TB, yml string, clk clock.Clock) (*Engine, *store.Store) {
	tb.Helper()
	cfg, err := config.Parse("r.yaml", []byte(yml))
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "t.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	key, _, err := responders.LoadOrCreateKey(filepath.Join(dir, "k.asc"), "Desk", "security@example.com", "")
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	nf := notify.New(cfg, st, key, templates.Default(), clk, log)
	e := New(cfg, st, roster.New(cfg), nf, clk, log)
	e.Platforms["slack"] = true
	e.Form = func(tx *store.Tx, inc *store.Incident) (templates.Form, error) {
		return templates.Form{IncidentID: inc.Ref, Date: inc.EventAt, Priority: inc.Priority, Category: inc.Category, Status: "investigating", Summary: inc.Subject,
			Desk: templates.Desk{Name: "Desk", Address: "security@example.com", Fingerprint: key.Fingerprint()}}, nil
	}
	return e, st
}

type harness struct {
	t     *testing.T
	e     *Engine
	st    *store.Store
	clock *clock.Fake
	inc   *store.Incident
	start time.Time
}

// newHarness opens a store with one P1 incident on unit pay (and web when
// both) and starts its significant-event tree.
func newHarness(t *testing.T, units ...string) *harness {
	t.Helper()
	return newHarnessFor(t, rosterYAML, units...)
}

// newHarnessFor is newHarness on the roster in yml.
func newHarnessFor(t *testing.T, yml string, units ...string) *harness {
	t.Helper()
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	fake := clock.NewFake(start)
	e, st := newTestEngine(t, yml, fake)
	h := &harness{t: t, e: e, st: st, clock: fake, start: start}
	var err error
	var tu []store.TreeUnit
	for _, u := range units {
		tu = append(tu, store.TreeUnit{Unit: u, Evidence: "host", AddedAt: start})
	}
	if err := st.Tx(context.Background(), func(tx *store.Tx) error {
		h.inc, err = tx.CreateIncident("SEC", store.Incident{Priority: "P1", Category: "incident", Subject: "RCE", Reporter: "r@example.org", CreatedAt: start})
		if err != nil {
			return err
		}
		// The report that opened it (an approval's form reads it).
		if err := tx.AddMessage(store.Message{IncidentID: h.inc.ID, Direction: "in", SHA256: "report", Source: "api", From: "r@example.org", Subject: "RCE", Report: []byte("{}"), CreatedAt: start}); err != nil {
			return err
		}
		_, err = e.StartTree(tx, h.inc, tu, "", start)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	h.tick()
	return h
}

func (h *harness) tick() {
	h.t.Helper()
	if err := h.e.Tick(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) at(d time.Duration) {
	h.t.Helper()
	h.clock.Advance(h.start.Add(d).Sub(h.clock.Now()))
	h.tick()
}

func (h *harness) step(key string) store.StepRow {
	h.t.Helper()
	tr, err := h.st.Tree(context.Background(), h.inc.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, s := range tr.Steps {
		if s.Key+map[bool]string{true: ":" + s.Unit, false: ""}[s.Unit != ""] == key {
			return s
		}
	}
	h.t.Fatalf("no step %s", key)
	return store.StepRow{}
}

// outbox lists "KIND to RECIPIENT" of every queued item.
func (h *harness) outbox() []string {
	h.t.Helper()
	d, err := h.st.GetIncident(context.Background(), h.inc.Ref)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, o := range d.Outbox {
		out = append(out, o.Kind+" to "+o.Channel+":"+o.Recipient)
	}
	return out
}

func (h *harness) answer(person, verb string) Answered {
	h.t.Helper()
	res, err := h.e.Act(context.Background(), Command{Incident: h.inc.ID, Person: person, Verb: verb, Via: "test"})
	if err != nil {
		h.t.Fatalf("%s %s: %v", person, verb, err)
	}
	return res
}

// audit is the incident's audit log, oldest first.
func (h *harness) audit() []store.AuditEntry {
	h.t.Helper()
	d, err := h.st.GetIncident(context.Background(), h.inc.Ref)
	if err != nil {
		h.t.Fatal(err)
	}
	return d.Audit
}

func count(list []string, sub string) int {
	n := 0
	for _, s := range list {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// TestDecidingTwiceChangesNothing: running the engine again at the same
// instant, or from a second engine after a "restart", sends nothing more.
func TestDecidingTwiceChangesNothing(t *testing.T) {
	h := newHarness(t, "pay")
	h.at(30 * time.Minute) // pager at 10m, reminder at 30m
	h.at(70 * time.Minute) // escalation at 60m
	before := h.outbox()
	h.tick()
	again := New(h.e.Config, h.st, h.e.Roster, h.e.Notify, h.clock, h.e.Log)
	again.Form, again.Platforms = h.e.Form, h.e.Platforms
	if err := again.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := h.outbox(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("deciding again queued more:\nbefore %v\nafter  %v", before, after)
	}
	if count(before, "calltree-escalation to mail:sol@example.com") != 1 || count(before, "calltree-method to webhook:hook:phone") != 1 ||
		count(before, "calltree-reminder to mail:pia@example.com") != 1 {
		t.Errorf("outbox %v: want one reminder, one page and one escalation", before)
	}
}

// TestAckStopsReminderAndPager: an acknowledgement before the pager's
// delay and the half-time reminder stops both, and the step's
// escalation: never a page after the ack.
func TestAckStopsReminderAndPager(t *testing.T) {
	h := newHarness(t, "pay")
	h.at(5 * time.Minute)
	h.answer("pia@example.com", VerbAck)
	h.at(2 * time.Hour)
	out := h.outbox()
	if n := count(out, "pia@example.com") + count(out, "hook:phone") + count(out, "U0PIA"); n != 2 {
		t.Errorf("pia got %d items, want the first mail and the Slack DM only: %v", n, out)
	}
	if count(out, "reminder to mail:pia") != 0 || count(out, "escalation to mail:sol") != 0 {
		t.Errorf("reminded or escalated after the ack: %v", out)
	}
	if s := h.step("team-alerted"); s.State != store.StepAcknowledged {
		t.Errorf("team-alerted %s", s.State)
	}
}

// TestForgottenAckIsEscalated: owners who acknowledged but did not report
// the fix done by its deadline are escalated like silence, to the unit
// contact; one owner's answer does not meet a group step; the contact
// answers for the unit's owners.
func TestForgottenAckIsEscalated(t *testing.T) {
	h := newHarness(t, "pay")
	h.answer("pia@example.com", VerbAck)
	h.answer("cal@example.com", VerbAck)
	if s := h.step("owners-told:pay"); s.State != store.StepNotified {
		t.Fatalf("owners-told %s", s.State)
	}
	h.answer("ona@example.com", VerbAck)
	if s := h.step("owners-told:pay"); s.State != store.StepNotified {
		t.Errorf("one of two owners met the group step: %s", s.State)
	}
	h.answer("oli@example.com", VerbAck)
	if s := h.step("owners-told:pay"); s.State != store.StepAcknowledged {
		t.Errorf("both owners acked: %s", s.State)
	}
	// fix-installed: both ack, nobody reports it done.
	h.answer("ona@example.com", VerbAck)
	h.answer("oli@example.com", VerbAck)
	h.at(12*time.Hour + time.Minute)
	s := h.step("fix-installed:pay")
	if s.State != store.StepOverdue || s.Level != 1 {
		t.Fatalf("fix-installed acked, not done, past due: %s level %d", s.State, s.Level)
	}
	if out := h.outbox(); count(out, "calltree-escalation to mail:cal@example.com") != 1 {
		t.Errorf("no escalation to the unit contact: %v", out)
	}
	res := h.answer("cal@example.com", VerbDone)
	if !res.Behalf && res.Title != "Fix tested and installed" {
		t.Errorf("the contact's done went to %+v", res)
	}
	if s := h.step("fix-installed:pay"); s.State != store.StepDone {
		t.Errorf("the contact's done for the owners: %s", s.State)
	}
	if s := h.step("unit-confirmed:pay"); s.State != store.StepNotified {
		t.Errorf("unit-confirmed %s after the fix", s.State)
	}
}

// TestMovingEMovesOpenDeadlines: setting E earlier moves every deadline
// not yet met (a past-due one escalates at once); met steps keep theirs.
func TestMovingEMovesOpenDeadlines(t *testing.T) {
	h := newHarness(t, "pay")
	h.at(10 * time.Minute)
	h.answer("pia@example.com", VerbAck)
	metDue := h.step("team-alerted").DueAt
	earlier := h.start.Add(-3 * time.Hour)
	if err := h.e.MoveEvent(context.Background(), h.inc.ID, earlier, "ofe@example.com", "test"); err != nil {
		t.Fatal(err)
	}
	if s := h.step("team-alerted"); !s.DueAt.Equal(metDue) {
		t.Errorf("a met step moved: %v -> %v", metDue, s.DueAt)
	}
	s := h.step("units-alerted:pay")
	if !s.DueAt.Equal(earlier.Add(2*time.Hour)) || s.State != store.StepOverdue || s.Level != 1 {
		t.Errorf("units-alerted after E moved 3h back: due %v, %s, level %d; want due E+2h, escalated at once", s.DueAt, s.State, s.Level)
	}
	if out := h.outbox(); count(out, "calltree-escalation to mail:bo@example.com") != 1 {
		t.Errorf("the backup was not told at once: %v", out)
	}
	if s := h.step("status-report"); !s.DueAt.Equal(earlier.Add(24 * time.Hour)) {
		t.Errorf("status-report due %v", s.DueAt)
	}
}

// TestRemovedUnitIsSkippedAndRollUpGoesOn: a unit found not affected has
// its open steps skipped with who and why; the team's validation waits
// only for the units still affected.
func TestRemovedUnitIsSkippedAndRollUpGoesOn(t *testing.T) {
	h := newHarness(t, "pay", "web")
	h.answer("pia@example.com", VerbAck)
	if err := h.e.SetUnits(context.Background(), h.inc.ID, nil, []string{"web"}, "static site, not affected", "pia@example.com", "test"); err != nil {
		t.Fatal(err)
	}
	if s := h.step("units-alerted:web"); s.State != store.StepSkipped || !strings.Contains(s.Why, "not affected") {
		t.Errorf("web's alert %s %q", s.State, s.Why)
	}
	for _, who := range []string{"cal", "ona", "oli"} {
		h.answer(who+"@example.com", VerbAck)
	}
	h.answer("ona@example.com", VerbDone)
	h.answer("oli@example.com", VerbDone)
	h.answer("cal@example.com", VerbDone)
	if s := h.step("team-validated"); s.State != store.StepNotified {
		t.Errorf("team-validated %s: the roll-up waits for a removed unit", s.State)
	}
	// Adding it back starts its steps again: its contact is alerted anew,
	// with a new reference (the old one counts no more).
	oldToken := h.step("units-alerted:web").People[0].Token
	if n := count(h.outbox(), "calltree-alert to mail:bo@example.com"); n != 1 {
		t.Fatalf("bo alerted %d times before the removal, want 1", n)
	}
	if err := h.e.SetUnits(context.Background(), h.inc.ID, []store.TreeUnit{{Unit: "web", Evidence: "officer"}}, nil, "it is affected after all", "ofe@example.com", "test"); err != nil {
		t.Fatal(err)
	}
	s := h.step("units-alerted:web")
	if s.State != store.StepNotified || s.Why != "" || s.Round != 1 || len(s.People) != 1 || s.People[0].Person != "bo@example.com" || s.People[0].Token == oldToken {
		t.Errorf("units-alerted:web added back: %s %q round %d people %+v; want notified anew, round 1, bo with a new reference", s.State, s.Why, s.Round, s.People)
	}
	if n := count(h.outbox(), "calltree-alert to mail:bo@example.com"); n != 2 {
		t.Errorf("bo alerted %d times after web was added back, want 2: %v", n, h.outbox())
	}
	if s := h.step("owners-told:web"); s.State != store.StepWaiting || s.Round != 1 {
		t.Errorf("owners-told:web added back: %s round %d, want waiting for the alert, round 1", s.State, s.Round)
	}
	if s := h.step("team-validated"); s.State != store.StepNotified {
		t.Errorf("team-validated %s after web was added back", s.State)
	}
	var detail string
	for _, a := range h.audit() {
		if a.Action == "units-changed" {
			detail = a.Detail
		}
	}
	if !strings.Contains(detail, "+web") || !strings.Contains(detail, "4 skipped steps") {
		t.Errorf("the units-changed entry: %q", detail)
	}
}

// TestNobodyToTellIsNeverSilent: a step whose audience resolves to nobody
// is skipped with why, visible; a team with nobody on call falls to the
// officers.
func TestNobodyToTellIsNeverSilent(t *testing.T) {
	h := newHarness(t) // no unit identified
	if s := h.step("units-alerted"); s.State != store.StepSkipped || !strings.Contains(s.Why, "no affected unit") {
		t.Errorf("units-alerted %s %q", s.State, s.Why)
	}
	h.e.Config.Team.Members = nil
	h.e.Roster = roster.New(h.e.Config)
	h.answer("pia@example.com", VerbAck)
	if s := h.step("team-validated"); s.State != store.StepNotified {
		t.Fatalf("team-validated %s", s.State)
	}
	tr, _ := h.st.Tree(context.Background(), h.inc.ID)
	for _, s := range tr.Steps {
		if s.Key == "team-validated" && (len(s.People) != 1 || s.People[0].Person != "ofe@example.com") {
			t.Errorf("with nobody on the team, validation went to %+v", s.People)
		}
	}
}

// TestAwayEscalatesAtOnce: evidence that the person told is away (their
// auto-reply) escalates the step now, not at its deadline.
func TestAwayEscalatesAtOnce(t *testing.T) {
	h := newHarness(t, "pay")
	h.at(2 * time.Minute)
	if _, err := h.e.Act(context.Background(), Command{Incident: h.inc.ID, Person: "pia@example.com", Verb: VerbAway, Via: "auto-reply", Note: "Out of office"}); err != nil {
		t.Fatal(err)
	}
	s := h.step("team-alerted")
	if s.Level != 1 || s.State != store.StepNotified {
		t.Errorf("team-alerted level %d %s after pia's auto-reply, want escalated at once, %s (not overdue before its deadline)", s.Level, s.State, store.StepNotified)
	}
	if out := h.outbox(); count(out, "calltree-escalation to mail:sol@example.com") != 1 {
		t.Errorf("the secondary was not told: %v", out)
	}
	h.at(time.Hour)
	if s := h.step("team-alerted"); s.State != store.StepOverdue {
		t.Errorf("at the deadline: %s, want %s", s.State, store.StepOverdue)
	}
}

// TestRegionToldOfP1AndP2: the shipped vulnerability-report tells the
// reporter's regional point of contact of a P2 report, and of a P3 says
// in the tree why it did not.
func TestRegionToldOfP1AndP2(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct{ prio, want string }{{"P2", store.StepDone}, {"P3", store.StepSkipped}} {
		var inc *store.Incident
		if err := h.st.Tx(context.Background(), func(tx *store.Tx) error {
			var err error
			inc, err = tx.CreateIncident("SEC", store.Incident{Priority: c.prio, Category: "vulnerability", Subject: "XSS", Reporter: "r@example.org", CreatedAt: h.start})
			if err != nil {
				return err
			}
			pb, err := h.e.StartTree(tx, inc, nil, "", h.start)
			if pb != "vulnerability-report" {
				t.Errorf("%s vulnerability runs %q", c.prio, pb)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		h.tick()
		tr, _ := h.st.Tree(context.Background(), inc.ID)
		for _, s := range tr.Steps {
			if s.Key == "region-told" && (s.State != c.want || c.want == store.StepDone && (len(s.People) != 1 || s.People[0].Person != "ofe@example.com") ||
				c.want == store.StepSkipped && !strings.Contains(s.Why, "only for P1, P2")) {
				t.Errorf("%s: region-told %s %q %+v", c.prio, s.State, s.Why, s.People)
			}
		}
	}
}

// TestVulnerabilityReportRhythm: the shipped vulnerability-report wants
// triage by the next business day (a Friday report by Monday) and writes
// to the reporter every seven days until the incident is closed; a
// reporter who may not be written to gets nothing, and the tree says why.
func TestVulnerabilityReportRhythm(t *testing.T) {
	h := newHarness(t)
	friday := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	start := func(notReporter string) *store.Incident {
		var inc *store.Incident
		if err := h.st.Tx(context.Background(), func(tx *store.Tx) error {
			var err error
			inc, err = tx.CreateIncident("SEC", store.Incident{Priority: "P3", Category: "vulnerability", Subject: "XSS", Reporter: "r@example.org",
				Language: "de", CreatedAt: friday})
			if err != nil {
				return err
			}
			_, err = h.e.StartTree(tx, inc, nil, notReporter, h.clock.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return inc
	}
	h.clock.Advance(friday.Sub(h.clock.Now()))
	inc, quiet := start(""), start("DMARC failed")
	h.tick()
	step := func(inc *store.Incident, key string) store.StepRow {
		tr, _ := h.st.Tree(context.Background(), inc.ID)
		for _, s := range tr.Steps {
			if s.Key == key {
				return s
			}
		}
		return store.StepRow{}
	}
	if due := step(inc, "triaged").DueAt; !due.Equal(time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)) {
		t.Errorf("triage of a Friday report due %v, want Monday", due)
	}
	updates := func() int {
		d, _ := h.st.GetIncident(context.Background(), inc.Ref)
		return count(func() []string {
			var out []string
			for _, o := range d.Outbox {
				out = append(out, o.Kind+" "+o.Recipient)
			}
			return out
		}(), "calltree-update r@example.org")
	}
	for _, c := range []struct{ days, want int }{{6, 0}, {7, 1}, {13, 1}, {14, 2}} {
		h.clock.Advance(friday.Add(time.Duration(c.days)*24*time.Hour + time.Minute).Sub(h.clock.Now()))
		h.tick()
		if n := updates(); n != c.want {
			t.Errorf("day %d: %d updates to the reporter, want %d", c.days, n, c.want)
		}
	}
	if s := step(quiet, "reporter-updated"); s.State != store.StepSkipped || !strings.Contains(s.Why, "DMARC failed") {
		t.Errorf("the quiet reporter's updates: %s %q", s.State, s.Why)
	}
	if err := h.e.Close(context.Background(), inc.ID, "ofe@example.com", "test"); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(21 * 24 * time.Hour)
	h.tick()
	if n := updates(); n != 2 {
		t.Errorf("%d updates after closing, want still 2", n)
	}
	if s := step(inc, "reporter-updated"); s.State != store.StepSkipped {
		t.Errorf("after closing, the updates are %s", s.State)
	}
}

// TestEscalateBeforeTheDeadline: a person escalates their step now: the
// next level is told at once; the officers' level only by the team.
func TestEscalateBeforeTheDeadline(t *testing.T) {
	h := newHarness(t, "pay")
	h.answer("pia@example.com", VerbAck)
	h.at(10 * time.Minute)
	if err := h.e.Escalate(context.Background(), h.inc.ID, "cal is in a meeting", "cal@example.com", "test", false); err != nil {
		t.Fatal(err)
	}
	if s := h.step("units-alerted:pay"); s.Level != 1 {
		t.Errorf("units-alerted level %d, want 1 at once", s.Level)
	}
	if out := h.outbox(); count(out, "calltree-escalation to mail:bo@example.com") != 1 {
		t.Errorf("the backup was not told: %v", out)
	}
	// The next level of units-alerted is the team; then the officers, which
	// only the team may call.
	if err := h.e.Escalate(context.Background(), h.inc.ID, "still nobody", "cal@example.com", "test", false); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Escalate(context.Background(), h.inc.ID, "and again", "cal@example.com", "test", false); err != ErrCannotEscalate {
		t.Errorf("a unit contact escalated to the officers: %v", err)
	}
	if err := h.e.Escalate(context.Background(), h.inc.ID, "officers please", "pia@example.com", "test", true); err != nil {
		t.Fatal(err)
	}
	if s := h.step("units-alerted:pay"); s.Level != 3 {
		t.Errorf("units-alerted level %d, want 3", s.Level)
	}
}

// stepID is the row id of the step key ("owners-told:pay"): what an
// answer quoting that step's reference names.
func (h *harness) stepID(key string) int64 { return h.step(key).ID }

// TestReferenceCountsOncePerVerb pins issue 15 §5: a reference counts
// once for each verb, and only while its step waits for that verb. A
// second ack quoting it, a "done" on a step that needed only the ack, and
// a replayed "done" after it counted move nothing.
func TestReferenceCountsOncePerVerb(t *testing.T) {
	h := newHarness(t, "pay")
	h.answer("pia@example.com", VerbAck)
	h.answer("cal@example.com", VerbAck)
	told := h.stepID("owners-told:pay")
	act := func(person, verb string, step int64) error {
		_, err := h.e.Act(context.Background(), Command{Incident: h.inc.ID, StepID: step, Person: person, Verb: verb, Via: "email-token"})
		return err
	}
	if err := act("ona@example.com", VerbAck, told); err != nil {
		t.Fatal(err)
	}
	if err := act("ona@example.com", VerbAck, told); err != ErrNothingToAnswer {
		t.Errorf("a second ack quoting the same reference: got %v, want %v", err, ErrNothingToAnswer)
	}
	if err := act("ona@example.com", VerbDone, told); err != ErrNothingToAnswer {
		t.Errorf("a done quoting the reference of a step that needed only her ack: got %v, want %v", err, ErrNothingToAnswer)
	}
	if s := h.step("owners-told:pay"); s.State != store.StepNotified {
		t.Errorf("owners-told %s, want %s (oli has not answered)", s.State, store.StepNotified)
	}
	if err := act("oli@example.com", VerbAck, told); err != nil {
		t.Fatal(err)
	}
	if s := h.step("owners-told:pay"); s.State != store.StepAcknowledged {
		t.Fatalf("owners-told %s, want %s", s.State, store.StepAcknowledged)
	}
	if err := act("oli@example.com", VerbDone, told); err != ErrNothingToAnswer {
		t.Errorf("a done on an acknowledged step that needs an ack: got %v, want %v", err, ErrNothingToAnswer)
	}
	// fix-installed needs done: ona's done counts once.
	fix := h.stepID("fix-installed:pay")
	if err := act("ona@example.com", VerbDone, fix); err != nil {
		t.Fatal(err)
	}
	before := h.step("fix-installed:pay")
	for _, verb := range []string{VerbDone, VerbAck} {
		if err := act("ona@example.com", verb, fix); err != ErrNothingToAnswer {
			t.Errorf("%s replayed after her done: got %v, want %v", verb, err, ErrNothingToAnswer)
		}
	}
	if after := h.step("fix-installed:pay"); after.State != before.State || after.State != store.StepNotified {
		t.Errorf("fix-installed %s after the replays, want %s", after.State, store.StepNotified)
	}
	d, err := h.st.GetIncident(context.Background(), h.inc.Ref)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range d.Audit {
		if a.Actor == "ona@example.com" && strings.HasPrefix(a.Action, "step-") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d answers of ona audited, want 2 (one ack, one done)", n)
	}
}

// TestEscalateOnlyFromTheTree pins issue 15 §6: an owner of another unit
// may not escalate an incident (it pages the team); the affected unit's
// contact and the team may.
func TestEscalateOnlyFromTheTree(t *testing.T) {
	h := newHarness(t, "web")
	h.answer("pia@example.com", VerbAck)
	h.at(10 * time.Minute)
	before := h.outbox()
	if err := h.e.Escalate(context.Background(), h.inc.ID, "pay owner", "ona@example.com", "test", false); err != ErrNotInTree {
		t.Errorf("a payments owner escalated a web incident: got %v, want %v", err, ErrNotInTree)
	}
	if after := h.outbox(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the refused escalation queued %v", after[len(before):])
	}
	if s := h.step("units-alerted:web"); s.Level != 0 {
		t.Errorf("units-alerted:web level %d after a refused escalation, want 0", s.Level)
	}
	if err := h.e.Escalate(context.Background(), h.inc.ID, "web contact", "bo@example.com", "test", false); err != nil {
		t.Errorf("the web unit's contact: got %v, want nil", err)
	}
	if err := h.e.Escalate(context.Background(), h.inc.ID, "team", "sol@example.com", "test", true); err != nil {
		t.Errorf("the team: got %v, want nil", err)
	}
}

// TestEarlyEscalationIsNotOverdue pins issue 15 §8 ("a manual escalation
// marks its step overdue before its deadline"): escalated early, the step
// keeps its state and is told at the next level; it shows overdue only
// once its deadline passes.
func TestEarlyEscalationIsNotOverdue(t *testing.T) {
	h := newHarness(t, "pay")
	h.at(10 * time.Minute)
	if err := h.e.Escalate(context.Background(), h.inc.ID, "pia is on a plane", "pia@example.com", "test", true); err != nil {
		t.Fatal(err)
	}
	s := h.step("team-alerted")
	if s.Level != 1 || s.State != store.StepNotified {
		t.Errorf("escalated at 10 minutes: level %d, state %s; want level 1, %s", s.Level, s.State, store.StepNotified)
	}
	if out := h.outbox(); count(out, "calltree-escalation to mail:sol@example.com") != 1 {
		t.Errorf("the secondary was not told: %v", out)
	}
	h.at(time.Hour)
	if s := h.step("team-alerted"); s.State != store.StepOverdue {
		t.Errorf("at the deadline: %s, want %s", s.State, store.StepOverdue)
	}
}

// TestCloseTwiceAndWithoutTree pins issue 15 §4 ("closing twice writes
// two closed entries") and §8 ("an incident without a call tree cannot
// be closed"): the second close changes nothing and says so; an incident
// that runs no tree closes.
func TestCloseTwiceAndWithoutTree(t *testing.T) {
	h := newHarness(t, "pay")
	ctx := context.Background()
	if err := h.e.Close(ctx, h.inc.ID, "ofe@example.com", "test"); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Close(ctx, h.inc.ID, "ofe@example.com", "test"); err != ErrAlreadyClosed {
		t.Errorf("closing again: got %v, want %v", err, ErrAlreadyClosed)
	}
	closed := func(ref string) int {
		d, err := h.st.GetIncident(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, a := range d.Audit {
			if a.Action == "closed" {
				n++
			}
		}
		if d.Status != "closed" {
			t.Errorf("%s is %s, want closed", ref, d.Status)
		}
		return n
	}
	if n := closed(h.inc.Ref); n != 1 {
		t.Errorf("%d closed entries, want 1", n)
	}
	var bare *store.Incident
	if err := h.st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		bare, err = tx.CreateIncident("SEC", store.Incident{Priority: "P4", Category: "other", Subject: "spam", Reporter: "r@example.org", CreatedAt: h.start})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Close(ctx, bare.ID, "ofe@example.com", "test"); err != nil {
		t.Fatalf("closing an incident without a call tree: %v", err)
	}
	if n := closed(bare.Ref); n != 1 {
		t.Errorf("%d closed entries on the incident without a tree, want 1", n)
	}
}

// entries are the audit entries of action whose detail starts with prefix.
func (h *harness) entries(action, prefix string) []store.AuditEntry {
	h.t.Helper()
	var out []store.AuditEntry
	for _, a := range h.audit() {
		if a.Action == action && strings.HasPrefix(a.Detail, prefix) {
			out = append(out, a)
		}
	}
	return out
}

// TestEscalationClimbsPastNobodyNew pins issue 16: a level that finds
// nobody new to tell (web has no backup, so its first level is the team on
// call, and so is its second) climbs on to the next level at once.
func TestEscalationClimbsPastNobodyNew(t *testing.T) {
	h := newHarness(t, "web")
	h.answer("pia@example.com", VerbAck)
	h.at(2*time.Hour + time.Minute)
	if s := h.step("units-alerted:web"); s.Level != 1 || s.State != store.StepOverdue {
		t.Fatalf("at E+2h: level %d %s, want 1 overdue", s.Level, s.State)
	}
	h.at(2*time.Hour + 31*time.Minute)
	s := h.step("units-alerted:web")
	if s.Level != 3 {
		t.Errorf("level %d after the team's level found nobody new, want 3 (the officers) at once", s.Level)
	}
	if n := count(h.outbox(), "calltree-escalation to mail:ofe@example.com"); n != 1 {
		t.Errorf("the officer was told %d times, want 1: %v", n, h.outbox())
	}
	if got := h.entries("step-escalated", "units-alerted [web]: level 2 (team): nobody new to tell"); len(got) != 1 {
		t.Errorf("level 2 entries %+v, want one saying nobody new", got)
	}
	if got := h.entries("step-escalated", "units-alerted [web]: level 3 (officers): told ofe@example.com"); len(got) != 1 || !got[0].At.Equal(h.start.Add(2*time.Hour+31*time.Minute)) {
		t.Errorf("level 3 entries %+v, want one at E+2h31m", got)
	}
}

// TestAnyTeamMemberTakesTheTeamStep pins issue 16: a team member the step
// did not tell (sol; pia is on call) takes the team's step, recorded as
// taken by sol for pia; pia's later contact methods and reminders stop;
// someone off the team cannot.
func TestAnyTeamMemberTakesTheTeamStep(t *testing.T) {
	h := newHarness(t, "pay")
	h.at(5 * time.Minute)
	if _, err := h.e.Act(context.Background(), Command{Incident: h.inc.ID, Person: "ona@example.com", Verb: VerbAck, Via: "test"}); err != ErrNothingToAnswer {
		t.Errorf("an owner off the team acked the team's step: got %v, want %v", err, ErrNothingToAnswer)
	}
	res, err := h.e.Act(context.Background(), Command{Incident: h.inc.ID, Person: "Sol@example.com", Verb: VerbAck, Via: "slack", Platform: "slack", RequestID: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Title != "Team alerted, works on the enhanced alert" || res.State != store.StepAcknowledged || fmt.Sprint(res.For) != "[pia@example.com]" || res.Behalf {
		t.Errorf("sol's ack: %+v; want team-alerted acknowledged, taken for pia", res)
	}
	s := h.step("team-alerted")
	var roles []string
	for _, p := range s.People {
		roles = append(roles, p.Person+":"+p.Role)
	}
	if s.State != store.StepAcknowledged || fmt.Sprint(roles) != "[pia@example.com:audience sol@example.com:taken]" {
		t.Errorf("team-alerted %s, people %v", s.State, roles)
	}
	tr, _ := h.st.Tree(context.Background(), h.inc.ID)
	if v := tr.View().Steps[0]; fmt.Sprint(v.Notified) != "[pia@example.com]" || fmt.Sprint(v.AckedBy) != "[sol@example.com]" {
		t.Errorf("the view: notified %v, acked by %v", v.Notified, v.AckedBy)
	}
	e := h.entries("step-ack", "team-alerted via slack; step now acknowledged (taken by sol@example.com for pia@example.com)")
	if len(e) != 1 || e[0].Actor != "sol@example.com" || e[0].Platform != "slack" || e[0].RequestID != "t1" {
		t.Errorf("audit entries %+v, want one of sol's, from slack t1", e)
	}
	if s := h.step("units-alerted:pay"); s.State != store.StepNotified {
		t.Errorf("units-alerted %s after the team's step was taken", s.State)
	}
	h.at(2 * time.Hour)
	out := h.outbox()
	if count(out, "hook:phone") != 0 || count(out, "calltree-reminder to mail:pia") != 0 || count(out, "calltree-escalation to mail:sol") != 0 {
		t.Errorf("pia paged, reminded or the step escalated after sol took it: %v", out)
	}
	// A second member's done completes a step that needs done, too.
	h2 := newHarness(t)
	h2.answer("pia@example.com", VerbAck)
	if s := h2.step("team-validated"); s.State != store.StepNotified {
		t.Fatalf("team-validated %s", s.State)
	}
	if res := h2.answer("sol@example.com", VerbDone); res.State != store.StepDone || fmt.Sprint(res.For) != "[pia@example.com]" {
		t.Errorf("sol's done on team-validated: %+v", res)
	}
}

// TestAuthoritiesReportAwaitsApproval pins issue 16: the authorities'
// report is drafted, not sent: its step awaits approval (and the CIO's
// report says so) until a second person approves it; then it is done.
func TestAuthoritiesReportAwaitsApproval(t *testing.T) {
	h := newHarnessFor(t, rosterYAML+"contacts: [{id: cert, name: CERT, kind: cert, email: cert@cert.example, status_report: true}]\n", "pay")
	h.at(24*time.Hour + time.Minute)
	s := h.step("authorities-report")
	if s.State != store.StepAwaitingApproval || !s.DoneAt.IsZero() || !s.NextAt.IsZero() {
		t.Fatalf("authorities-report %s, done at %v, next %v; want %s", s.State, s.DoneAt, s.NextAt, store.StepAwaitingApproval)
	}
	if e := h.entries("draft-created", "D1: status-report to CERT <cert@cert.example>"); len(e) != 1 || e[0].Actor != "engine" {
		t.Errorf("draft entries %+v", e)
	}
	tr, _ := h.st.Tree(context.Background(), h.inc.ID)
	states := map[string]string{}
	for _, st := range statusSteps(*tr) {
		states[st.Name.Key] = st.State
	}
	if states["authorities-report"] != store.StepAwaitingApproval || states["status-report"] != store.StepDone {
		t.Errorf("the CIO's report shows %v", states)
	}
	h.clock.Advance(time.Minute)
	if _, err := h.e.Approve(context.Background(), h.inc.ID, "D1", h.clock.Now(), "ofe@example.com", "slack", "t9"); err != nil {
		t.Fatal(err)
	}
	s = h.step("authorities-report")
	if s.State != store.StepDone || !s.DoneAt.Equal(h.clock.Now()) {
		t.Errorf("after the approval: %s at %v, want done now", s.State, s.DoneAt)
	}
	e := h.entries("step-done", "authorities-report: every draft approved")
	if len(e) != 1 || e[0].Actor != "ofe@example.com" || e[0].Platform != "slack" || e[0].RequestID != "t9" {
		t.Errorf("step-done entries %+v", e)
	}
	h.tick()
	if s := h.step("authorities-report"); s.State != store.StepDone || !s.NextAt.IsZero() {
		t.Errorf("after a tick: %s next %v", s.State, s.NextAt)
	}
}

// notices are the call-tree mails queued for the incident, as queued.
func (h *harness) notices() []notify.Notice {
	h.t.Helper()
	d, err := h.st.GetIncident(context.Background(), h.inc.Ref)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []notify.Notice
	for _, o := range d.Outbox {
		var n notify.Notice
		if !strings.HasPrefix(o.Kind, "calltree-") || o.Channel != store.PlatformMail || !notify.IsNotice(o.Payload) {
			continue
		}
		if err := json.Unmarshal(o.Payload, &n); err != nil {
			h.t.Fatal(err)
		}
		n.Data.Date = o.CreatedAt // (when it was queued, for the test)
		out = append(out, n)
	}
	return out
}

// TestNextUpdateIsAhead pins issue 16: every call-tree mail says its next
// update comes after it was written (the tree's next deadline, else the
// priority's rhythm), and the status report says how long after E it was
// written, not "24 hours".
func TestNextUpdateIsAhead(t *testing.T) {
	h := newHarness(t, "pay")
	for _, at := range []time.Duration{5 * time.Minute, 31 * time.Minute, 70 * time.Minute, 5 * time.Hour, 13 * time.Hour, 24*time.Hour + 17*time.Minute} {
		h.at(at)
	}
	reports := 0
	for _, n := range h.notices() {
		if !n.Data.NextUpdate.After(n.Data.Date) {
			t.Errorf("%s to %s queued at %v says the next update is at %v", n.Kind, n.To.Address, n.Data.Date, n.Data.NextUpdate)
		}
		if n.Form == "status-report" {
			reports++
			if n.Data.Elapsed != 24*time.Hour+17*time.Minute || !n.Data.NextUpdate.Equal(h.clock.Now().Add(h.e.Config.PriorityOf("P1").Respond)) {
				t.Errorf("the status report: elapsed %v, next update %v; want 24h17m, the P1 rhythm from now", n.Data.Elapsed, n.Data.NextUpdate)
			}
		}
	}
	if reports != 1 {
		t.Errorf("%d status reports, want 1", reports)
	}
	if h.e.Config.PriorityOf("P1").Respond <= 0 {
		t.Errorf("P1 has no response time: the test proves nothing")
	}
}

// TestAckOnANeedsDoneStepStopsRemindersNotTheDeadline pins issue 16: an
// owner's ack on the fix step (which needs done) stops her reminder, not
// her colleague's, and not the deadline: past it the step is overdue and
// escalated to the unit contact, naming both as missing.
func TestAckOnANeedsDoneStepStopsRemindersNotTheDeadline(t *testing.T) {
	h := newHarness(t, "pay")
	for _, who := range []string{"pia", "cal", "ona", "oli"} {
		h.answer(who+"@example.com", VerbAck)
	}
	if s := h.step("fix-installed:pay"); s.State != store.StepNotified {
		t.Fatalf("fix-installed %s", s.State)
	}
	h.answer("ona@example.com", VerbAck)
	h.at(10*time.Hour + time.Minute) // the reminder, 2h before E+12h
	out := h.outbox()
	if count(out, "calltree-reminder to mail:ona@example.com") != 0 || count(out, "calltree-reminder to mail:oli@example.com") != 1 {
		t.Errorf("reminders after ona's ack: %v; want oli's only", out)
	}
	if s := h.step("fix-installed:pay"); s.State != store.StepNotified || s.RemindersSent != 1 || s.Level != 0 {
		t.Errorf("before the deadline: %s, %d reminders, level %d", s.State, s.RemindersSent, s.Level)
	}
	h.at(12*time.Hour + time.Minute)
	s := h.step("fix-installed:pay")
	if s.State != store.StepOverdue || s.Level != 1 {
		t.Errorf("past the deadline: %s level %d, want overdue, escalated", s.State, s.Level)
	}
	if e := h.entries("step-escalated", "fix-installed [pay]: level 1 (contact): told cal@example.com; no answer from oli@example.com, ona@example.com"); len(e) != 1 {
		t.Errorf("escalation entries %+v", h.entries("step-escalated", ""))
	}
}

// TestWaitingPastItsDeadlineIsOverdueOnce pins issue 16: a step still
// waiting for its predecessor past its own deadline shows overdue, with
// one audit entry however often the engine looks, and does not start.
//
// The shipped playbook sends the units' alert preliminary at its deadline
// (TestPreliminaryUnitAlert): this is the same tree with that turned off.
func TestWaitingPastItsDeadlineIsOverdueOnce(t *testing.T) {
	h := newHarnessFor(t, strings.Replace(preliminaryYAML, "preliminary: true, ", "", 1), "pay")
	h.at(2*time.Hour + time.Minute) // nobody answered team-alerted
	for _, d := range []time.Duration{2*time.Hour + 30*time.Minute, 3 * time.Hour} {
		h.at(d)
	}
	s := h.step("units-alerted:pay")
	if s.State != store.StepOverdue || !s.StartedAt.IsZero() || len(s.People) != 0 {
		t.Errorf("units-alerted %s, started %v, people %v; want overdue, not started", s.State, s.StartedAt, s.People)
	}
	if e := h.entries("step-overdue", "units-alerted [pay]: deadline passed while waiting for team-alerted"); len(e) != 1 || !e[0].At.Equal(h.start.Add(2*time.Hour+time.Minute)) {
		t.Errorf("overdue entries %+v, want one at E+2h01m", e)
	}
	// Its predecessor met, it starts and escalates at once: its deadline passed.
	h.answer("pia@example.com", VerbAck)
	if s := h.step("units-alerted:pay"); s.StartedAt.IsZero() || s.Level != 1 || s.State != store.StepOverdue {
		t.Errorf("units-alerted after the team's ack: started %v, level %d, %s", s.StartedAt, s.Level, s.State)
	}
}

// TestAcknowledgedPastTheDeadline pins issue 16: a step that needs only an
// ack, acknowledged, stays acknowledged past its deadline and escalates
// no further; one that needs done, acked only, is overdue and escalated.
func TestAcknowledgedPastTheDeadline(t *testing.T) {
	h := newHarness(t, "pay")
	h.answer("pia@example.com", VerbAck)
	h.answer("cal@example.com", VerbAck)
	h.at(3 * time.Hour)
	if s := h.step("units-alerted:pay"); s.State != store.StepAcknowledged || s.Level != 0 || !s.NextAt.IsZero() {
		t.Errorf("units-alerted acked, past due: %s level %d next %v", s.State, s.Level, s.NextAt)
	}
	if n := len(h.entries("step-overdue", "units-alerted")) + len(h.entries("step-escalated", "units-alerted")); n != 0 {
		t.Errorf("%d overdue or escalation entries for an acknowledged step", n)
	}
	// The team's validation needs done: pia's ack does not meet it.
	h2 := newHarness(t)
	h2.answer("pia@example.com", VerbAck)
	h2.answer("pia@example.com", VerbAck) // team-validated
	if s := h2.step("team-validated"); s.State != store.StepAcknowledged || !s.DoneAt.IsZero() {
		t.Fatalf("team-validated after an ack: %s", s.State)
	}
	h2.at(20*time.Hour + time.Minute)
	if s := h2.step("team-validated"); s.State != store.StepOverdue || s.Level != 1 {
		t.Errorf("team-validated acked, not done, past due: %s level %d", s.State, s.Level)
	}
	if out := h2.outbox(); count(out, "calltree-escalation to mail:sol@example.com") != 1 {
		t.Errorf("the secondary was not told: %v", out)
	}
}

// TestUnitWithoutOwnersToldToItsContact pins issue 16: web has no owners,
// so its owners' steps go to its contact, who answers them as their own.
func TestUnitWithoutOwnersToldToItsContact(t *testing.T) {
	h := newHarness(t, "web")
	h.answer("pia@example.com", VerbAck)
	h.answer("bo@example.com", VerbAck) // units-alerted:web
	s := h.step("owners-told:web")
	if s.State != store.StepNotified || len(s.People) != 1 || s.People[0].Person != "bo@example.com" || s.People[0].Role != "audience" {
		t.Fatalf("owners-told:web %s, people %+v; want bo told as its audience", s.State, s.People)
	}
	if res := h.answer("bo@example.com", VerbAck); res.Behalf || res.State != store.StepAcknowledged {
		t.Errorf("bo's ack of owners-told: %+v, want his own, acknowledged", res)
	}
}

// TestUnitContactAnswersForTheOwners pins issue 16: the unit contact's
// done on the owners' step counts for them (behalf), recorded as the
// contact's, not as told; the owners were not answered for one by one.
func TestUnitContactAnswersForTheOwners(t *testing.T) {
	h := newHarness(t, "pay")
	h.answer("pia@example.com", VerbAck)
	h.answer("cal@example.com", VerbAck)
	res := h.answer("cal@example.com", VerbAck) // owners-told:pay, for ona and oli
	if !res.Behalf || res.State != store.StepAcknowledged || res.Title != "Owners and administrators told" {
		t.Fatalf("cal's ack: %+v; want owners-told acknowledged on their behalf", res)
	}
	s := h.step("owners-told:pay")
	for _, p := range s.People {
		switch p.Person {
		case "cal@example.com":
			if p.Role != RoleContact || p.AckedAt.IsZero() {
				t.Errorf("cal on owners-told: %+v", p)
			}
		default:
			if !p.AckedAt.IsZero() {
				t.Errorf("%s answered for by name: %+v", p.Person, p)
			}
		}
	}
	if e := h.entries("step-ack", "owners-told [pay] via test; step now acknowledged (the unit contact, for the owners)"); len(e) != 1 || e[0].Actor != "cal@example.com" {
		t.Errorf("entries %+v", e)
	}
	if s := h.step("fix-installed:pay"); s.State != store.StepNotified {
		t.Errorf("fix-installed %s after the contact's ack for the owners", s.State)
	}
	// A second answer for the owners (each is recorded without a reference).
	if res := h.answer("cal@example.com", VerbDone); !res.Behalf || res.State != store.StepDone || res.Title != "Fix tested and installed" {
		t.Errorf("cal's done: %+v; want fix-installed done on their behalf", res)
	}
}

// TestAwayWithNoOpenStep pins issue 16: an auto-reply from someone with
// no open step changes nothing and writes nothing.
func TestAwayWithNoOpenStep(t *testing.T) {
	h := newHarness(t, "pay")
	before, steps := len(h.audit()), fmt.Sprint(h.step("team-alerted"))
	_, err := h.e.Act(context.Background(), Command{Incident: h.inc.ID, Person: "ona@example.com", Verb: VerbAway, Via: "auto-reply", Note: "Out of office"})
	if err != ErrNothingToAnswer {
		t.Errorf("away from ona, told of nothing yet: got %v, want %v", err, ErrNothingToAnswer)
	}
	h.answer("pia@example.com", VerbAck)
	if _, err := h.e.Act(context.Background(), Command{Incident: h.inc.ID, Person: "pia@example.com", Verb: VerbAway, Via: "auto-reply"}); err != ErrNothingToAnswer {
		t.Errorf("away from pia after her ack: got %v, want %v", err, ErrNothingToAnswer)
	}
	_ = steps
	n := 0
	for _, a := range h.audit()[before:] {
		if a.Actor == "ona@example.com" || a.Action == "step-away" {
			n++
		}
	}
	if n != 0 {
		t.Errorf("%d entries for an away without an open step", n)
	}
}

// TestEscalatingAtTheLastLevel pins issue 16: a step at its last level
// cannot be escalated further (ErrCannotEscalate, nothing written), and
// the engine tells nobody more.
func TestEscalatingAtTheLastLevel(t *testing.T) {
	h := newHarness(t)
	for _, d := range []time.Duration{time.Hour, 90 * time.Minute, 2 * time.Hour} {
		h.at(d) // team-alerted: secondary at 1h, officers at 1h30
	}
	s := h.step("team-alerted")
	if s.Level != 2 || !s.NextAt.IsZero() {
		t.Fatalf("team-alerted level %d, next %v; want 2 (the last), nothing planned", s.Level, s.NextAt)
	}
	before := len(h.audit())
	if err := h.e.Escalate(context.Background(), h.inc.ID, "more", "ofe@example.com", "slack t1", true); err != ErrCannotEscalate {
		t.Errorf("escalating at the last level: got %v, want %v", err, ErrCannotEscalate)
	}
	if after := h.audit(); len(after) != before {
		t.Errorf("the refused escalation wrote %+v", after[before:])
	}
	out := h.outbox()
	h.at(10 * time.Hour)
	if after := h.outbox(); len(after) != len(out) {
		t.Errorf("more after the last level: %v", after[len(out):])
	}
}

// TestForcedEscalationNextLevelWaits pins issue 16: after a person
// escalates early, the next level comes no earlier than the deadline plus
// the interval.
func TestForcedEscalationNextLevelWaits(t *testing.T) {
	h := newHarness(t, "pay")
	h.at(10 * time.Minute)
	if err := h.e.Escalate(context.Background(), h.inc.ID, "pia is away", "sol@example.com", "slack t2", true); err != nil {
		t.Fatal(err)
	}
	if s := h.step("team-alerted"); s.Level != 1 {
		t.Fatalf("level %d after the escalation, want 1", s.Level)
	}
	h.at(time.Hour + 29*time.Minute)
	if s := h.step("team-alerted"); s.Level != 1 {
		t.Errorf("level %d at E+1h29m, want still 1 (next at E+1h + 30m)", s.Level)
	}
	h.at(time.Hour + 30*time.Minute)
	if s := h.step("team-alerted"); s.Level != 2 {
		t.Errorf("level %d at E+1h30m, want 2", s.Level)
	}
	if out := h.outbox(); count(out, "calltree-escalation to mail:ofe@example.com") != 1 {
		t.Errorf("the officer: %v", out)
	}
}

// TestEngineEntriesCarryTheRequest pins issue 16: every audit entry the
// engine writes for a request (an answer, a change of units, an
// escalation, closing) carries its platform and request id.
func TestEngineEntriesCarryTheRequest(t *testing.T) {
	h := newHarness(t, "pay")
	ctx := context.Background()
	check := func(what string, from int, platform, request string) int {
		t.Helper()
		all := h.audit()
		n := 0
		for _, a := range all[from:] {
			if a.Action == store.ActionState {
				continue // the store's record of the state, not an action
			}
			n++
			if a.Platform != platform || a.RequestID != request {
				t.Errorf("%s: entry %s %s %q from %q %q, want %s %s", what, a.Actor, a.Action, a.Detail, a.Platform, a.RequestID, platform, request)
			}
		}
		if n < 2 {
			t.Errorf("%s: %d entries, want the command's and the engine's", what, n)
		}
		return len(all)
	}
	n := len(h.audit())
	if _, err := h.e.Act(ctx, Command{Incident: h.inc.ID, Person: "pia@example.com", Verb: VerbAck, Via: "slack", Platform: "slack", RequestID: "t1"}); err != nil {
		t.Fatal(err)
	}
	n = check("ack", n, "slack", "t1") // and units-alerted started
	if err := h.e.SetUnits(ctx, h.inc.ID, []store.TreeUnit{{Unit: "web", Evidence: "officer"}}, nil, "also web", "ofe@example.com", "discord d2"); err != nil {
		t.Fatal(err)
	}
	n = check("units", n, "discord", "d2")
	if err := h.e.Escalate(ctx, h.inc.ID, "now", "ofe@example.com", "slack t3", true); err != nil {
		t.Fatal(err)
	}
	n = check("escalate", n, "slack", "t3")
	if err := h.e.Close(ctx, h.inc.ID, "ofe@example.com", "api r4"); err != nil {
		t.Fatal(err)
	}
	check("close", n, "api", "r4")
}

// TestEarlyEscalationClimbsPastNobodyNew pins issue 16 for a person's
// escalation: web has no owners, so its owners' step told its contact bo;
// bo escalates, the first level (the contact) is bo again, and the team
// on call is told at once instead.
func TestEarlyEscalationClimbsPastNobodyNew(t *testing.T) {
	h := newHarness(t, "web")
	h.answer("pia@example.com", VerbAck)
	h.answer("bo@example.com", VerbAck)
	h.at(10 * time.Minute)
	if err := h.e.Escalate(context.Background(), h.inc.ID, "I need the team", "bo@example.com", "test", false); err != nil {
		t.Fatal(err)
	}
	s := h.step("owners-told:web")
	if s.Level != 2 || s.State != store.StepNotified {
		t.Errorf("owners-told:web level %d %s, want 2 (the team) at once, not overdue", s.Level, s.State)
	}
	if e := h.entries("step-escalated", "owners-told [web]: level 2 (team): told pia@example.com"); len(e) != 1 {
		t.Errorf("entries %+v", h.entries("step-escalated", ""))
	}
	// The officers' level is not reached early by a unit contact.
	h2 := newHarness(t, "web")
	h2.answer("pia@example.com", VerbAck)
	h2.at(10 * time.Minute)
	for _, why := range []string{"once", "twice"} { // backup (none: pia), then the team (pia: nobody new)
		if err := h2.e.Escalate(context.Background(), h2.inc.ID, why, "bo@example.com", "test", false); err != nil {
			t.Fatal(err)
		}
	}
	if s := h2.step("units-alerted:web"); s.Level != 2 {
		t.Errorf("units-alerted:web level %d after two escalations by bo, want 2 (never the officers early)", s.Level)
	}
}

// TestCloseKeepsMetSteps: closing skips the open steps only; a step met
// before (acknowledged where an ack is what it needs) keeps its state.
func TestCloseKeepsMetSteps(t *testing.T) {
	h := newHarness(t, "pay")
	h.at(5 * time.Minute)
	h.answer("pia@example.com", VerbAck)
	if err := h.e.Close(context.Background(), h.inc.ID, "ofe@example.com", "test"); err != nil {
		t.Fatal(err)
	}
	tr, err := h.st.Tree(context.Background(), h.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	skipped := 0
	for _, s := range tr.Steps {
		switch {
		case s.Key == "team-alerted" && s.State != store.StepAcknowledged:
			t.Errorf("team-alerted, acknowledged before the close: %s (%s), want %s", s.State, s.Why, store.StepAcknowledged)
		case s.State == store.StepSkipped:
			skipped++
		case s.State != store.StepDone && s.Key != "team-alerted":
			t.Errorf("%s after the close: %s, want skipped", s.Key, s.State)
		}
	}
	if skipped == 0 {
		t.Errorf("no open step skipped by the close: %+v", tr.Steps)
	}
}

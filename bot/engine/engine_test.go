package engine

import (
	"context"
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
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	fake := clock.NewFake(start)
	e, st := newTestEngine(t, rosterYAML, fake)
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
	// Adding it back starts its steps again.
	if err := h.e.SetUnits(context.Background(), h.inc.ID, []store.TreeUnit{{Unit: "web", Evidence: "officer"}}, nil, "it is affected after all", "ofe@example.com", "test"); err != nil {
		t.Fatal(err)
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

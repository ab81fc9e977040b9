package act

import (
	"context"
	"fmt"
	"testing"

	"tocsin/bot/store"
)

// outbox lists "KIND to CHANNEL:RECIPIENT" of the incident's queued items.
func (f *fixture) outbox() []string {
	f.t.Helper()
	d, err := f.st.GetIncident(context.Background(), f.inc.Ref)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, o := range d.Outbox {
		out = append(out, o.Kind+" to "+o.Channel+":"+o.Recipient)
	}
	return out
}

func (f *fixture) step(key string) store.StepRow {
	f.t.Helper()
	tr, err := f.st.Tree(context.Background(), f.inc.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, s := range tr.Steps {
		if s.Key == key && s.Unit == "" {
			return s
		}
	}
	f.t.Fatalf("no step %s", key)
	return store.StepRow{}
}

func countOf(list []string, s string) int {
	n := 0
	for _, l := range list {
		if l == s {
			n++
		}
	}
	return n
}

// TestBlockedByChat: /blocked ID text marks the person's step blocked
// through Do, tells the team member on call (the secondary: the primary
// is who is blocked), audits it with the request, and answers a typed
// result; a later /ack clears it.
func TestBlockedByChat(t *testing.T) {
	f := newFixture(t)
	pia := Actor{Person: "pia@example.com", Platform: "slack", RequestID: "b1"}
	res := f.do(pia, Command{Name: Blocked, Incident: f.inc.Ref, Text: "the vendor's advisory is gone, need help"})
	want := Answered{Incident: f.inc.Ref, Verb: "blocked", Step: "Team alerted, works on the enhanced alert", State: store.StepBlocked, By: "Pia"}
	if a, ok := res.(Answered); !ok || a.Incident != want.Incident || a.Verb != want.Verb || a.State != want.State || a.By != want.By || a.Step != want.Step {
		t.Fatalf("got %+v, want %+v", res, want)
	}
	s := f.step("team-alerted")
	if s.State != store.StepBlocked || s.Blocked == nil || s.Blocked.By != "pia@example.com" || s.Blocked.Text != "the vendor's advisory is gone, need help" {
		t.Errorf("team-alerted: %s %+v", s.State, s.Blocked)
	}
	if out := f.outbox(); countOf(out, "team-told to mail:sol@example.com") != 1 {
		t.Errorf("the secondary was not told: %v", out)
	}
	if a := f.audits("step-blocked"); len(a) != 1 || a[0].Actor != "pia@example.com" || a[0].Platform != "slack" || a[0].RequestID != "b1" {
		t.Errorf("audited as %+v", a)
	}
	f.do(Actor{Person: "pia@example.com", Platform: "slack", RequestID: "b2"}, Command{Name: Ack, Incident: f.inc.Ref})
	if s := f.step("team-alerted"); s.State != store.StepAcknowledged || s.Blocked != nil {
		t.Errorf("after the ack: %s %+v", s.State, s.Blocked)
	}
}

// TestUnpagedTeamMemberAcksWithoutID: a team member the tree did not page
// may take the team's step with /ack and no id; the result says for whom.
func TestUnpagedTeamMemberAcksWithoutID(t *testing.T) {
	f := newFixture(t)
	res := f.do(Actor{Person: "sol@example.com", Platform: "slack", RequestID: "a1"}, Command{Name: Ack})
	a, ok := res.(Answered)
	if !ok || a.Incident != f.inc.Ref || a.State != store.StepAcknowledged || fmt.Sprint(a.For) != "[Pia]" || a.By != "Sol" {
		t.Fatalf("got %+v", res)
	}
	// Not for others: an owner with nothing open still gets no-open-step.
	if r, ok := f.do(Actor{Person: "rex@example.com", Platform: "slack", RequestID: "a2"}, Command{Name: Ack}).(Refused); !ok || r.Reason != NoOpenStep {
		t.Errorf("rex: %+v", r)
	}
}

// TestAssignTwiceSendsOneMail: /assign to whoever is responsible already
// is a typed no-op: one mail, one audit entry.
func TestAssignTwiceSendsOneMail(t *testing.T) {
	f := newFixture(t)
	if res := f.do(Actor{Person: "pia@example.com", Platform: "slack", RequestID: "s1"}, Command{Name: Assign, Incident: f.inc.Ref, Args: []string{"sol"}}); res.Kind() != KindAssigned {
		t.Fatalf("first: %+v", res)
	}
	res := f.do(Actor{Person: "pia@example.com", Platform: "slack", RequestID: "s2"}, Command{Name: Assign, Incident: f.inc.Ref, Args: []string{"sol@example.com"}})
	if r, ok := res.(Refused); !ok || r.Reason != AlreadyAssigned || r.Arg != "Sol" {
		t.Errorf("second: %+v", res)
	}
	if out := f.outbox(); countOf(out, "assigned to mail:sol@example.com") != 1 {
		t.Errorf("assign mails: %v", out)
	}
	if a := f.audits("assigned"); len(a) != 1 {
		t.Errorf("assigned entries: %+v", a)
	}
}

package engine

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"tocsin/bot/notify"
	"tocsin/bot/store"
)

// preliminaryYAML is the roster with a two-step tree whose units' alert
// goes out preliminary at its deadline.
const preliminaryYAML = rosterYAML + `playbooks:
  - name: significant-event
    when: {priorities: [P1]}
    steps:
      - {id: team-alerted, title: Team alerted, audience: team, form: action-alert, due: 1h, needs: ack, escalate: [secondary, officers]}
      - {id: units-alerted, title: Units alerted, audience: units, form: action-alert, due: 2h, needs: ack, after: [team-alerted], preliminary: true, escalate: [backup, team]}
`

// TestPreliminaryUnitAlert (issue 16): the units' alert whose deadline
// comes while it still waits for the team goes out then, marked
// preliminary, with the time it would have had after the team (1h); the
// team's step escalates as before.
//
// The shipped significant-event playbook does so.
func TestPreliminaryUnitAlert(t *testing.T) {
	h := newHarness(t, "pay")
	h.at(time.Hour + 59*time.Minute)
	if s := h.step("units-alerted:pay"); !s.StartedAt.IsZero() {
		t.Fatalf("units-alerted started before its deadline: %+v", s)
	}
	h.at(2*time.Hour + time.Minute)
	s := h.step("units-alerted:pay")
	if s.State != store.StepNotified || s.Why != PreliminaryWhy || len(s.People) != 1 || s.People[0].Person != "cal@example.com" ||
		!s.DueAt.Equal(h.start.Add(3*time.Hour+time.Minute)) || s.Level != 0 {
		t.Errorf("units-alerted at E+2h01m: %s (%s), due %v, level %d, people %v", s.State, s.Why, s.DueAt, s.Level, s.People)
	}
	if team := h.step("team-alerted"); team.State != store.StepOverdue || team.Level == 0 {
		t.Errorf("team-alerted %s level %d: its missed deadline escalates as before", team.State, team.Level)
	}
	if e := h.entries("step-preliminary", ""); len(e) != 1 {
		t.Errorf("preliminary entries %+v", e)
	}
	d, err := h.st.GetIncident(context.Background(), h.inc.Ref)
	if err != nil {
		t.Fatal(err)
	}
	marked := false
	for _, o := range d.Outbox {
		var n notify.Notice
		if o.Recipient == "cal@example.com" && json.Unmarshal(o.Payload, &n) == nil {
			marked = marked || n.Data.Preliminary
		}
	}
	if !marked {
		t.Error("cal's alert is not marked preliminary")
	}
}

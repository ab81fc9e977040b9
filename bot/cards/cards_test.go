package cards

import (
	"strings"
	"testing"
	"time"

	"tocsin/bot/store"
)

// TestProgressShowsBlockerAndTaker: the card's line of a blocked step
// carries who is blocked and what they wrote; a needs-done team step
// someone took waits for the taker, not for whom it paged.
func TestProgressShowsBlockerAndTaker(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tr := &store.Tree{Playbook: "significant-event", Steps: []store.StepRow{
		{Key: "fix-installed", Title: "Fix tested and installed", Unit: "pay", Needs: "done", State: store.StepBlocked, StartedAt: at, DueAt: at.Add(12 * time.Hour),
			People:  []store.StepPerson{{Person: "ona@example.com", Role: "audience", NotifiedAt: at}},
			Blocked: &store.StepBlock{By: "ona@example.com", At: at.Add(time.Hour), Text: "the patch fails\non pay-db-2"}},
		{Key: "team-validated", Title: "Team validated the fixes", Needs: "done", State: store.StepAcknowledged, StartedAt: at, DueAt: at.Add(20 * time.Hour),
			People: []store.StepPerson{{Person: "pia@example.com", Role: "audience", NotifiedAt: at}, {Person: "sol@example.com", Role: "taken", NotifiedAt: at, AckedAt: at}}},
	}}
	p := Progress(tr)
	if !strings.Contains(p, "blocked: ona@example.com, 12-01 11:00 UTC: the patch fails") || strings.Contains(p, "fails\non") {
		t.Errorf("the blocker is not shown on one line:\n%s", p)
	}
	if !strings.Contains(p, "waiting for sol@example.com (sol@example.com acked)") {
		t.Errorf("the taken step does not wait for its taker:\n%s", p)
	}
}

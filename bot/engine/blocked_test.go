package engine

import (
	"context"
	"testing"
	"time"

	"tocsin/bot/store"
)

// TestBlockedStepTellsTheTeamAndKeepsItsDeadline pins issue 16 "Blockers
// go somewhere": an owner's blocked answer marks their step blocked with
// who, when and what they wrote; the team member on call is told at once
// by mail and chat message; the deadline still escalates; the blocked
// owner's later done clears it; the audit has the blocker and the telling.
func TestBlockedStepTellsTheTeamAndKeepsItsDeadline(t *testing.T) {
	h := newHarness(t, "pay")
	h.answer("pia@example.com", VerbAck)
	h.answer("cal@example.com", VerbAck)
	h.answer("ona@example.com", VerbAck)
	h.answer("oli@example.com", VerbAck)
	h.at(5 * time.Hour)
	text := "The patch fails to install on pay-db-2, need help from the CIRT"
	res, err := h.e.Act(context.Background(), Command{Incident: h.inc.ID, Person: "ona@example.com", Verb: VerbBlocked, Note: text, Via: "email-token", Platform: "email", RequestID: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	s := h.step("fix-installed:pay")
	if res.State != store.StepBlocked || s.State != store.StepBlocked || s.Blocked == nil || s.Blocked.By != "ona@example.com" || s.Blocked.Text != text || !s.Blocked.At.Equal(h.start.Add(5*time.Hour)) {
		t.Fatalf("after the blocker: result %s, step %s, blocked %+v", res.State, s.State, s.Blocked)
	}
	if v := (&store.Tree{Steps: []store.StepRow{s}}).View(); v.Steps[0].Blocked == nil || v.Steps[0].State != "blocked" {
		t.Errorf("the view: %+v", v.Steps[0])
	}
	out := h.outbox()
	if count(out, "team-told to mail:pia@example.com") != 1 || count(out, "team-told to slack:user:U0PIA") != 1 {
		t.Errorf("the team on call was not told by mail and chat: %v", out)
	}
	if !hasAudit(h.audit(), "ona@example.com", "step-blocked") || !hasAudit(h.audit(), "engine", "team-told") {
		t.Errorf("no step-blocked and team-told entries: %+v", h.audit())
	}
	// Another owner's ack does not clear it; the deadline stands.
	h.answer("oli@example.com", VerbDone)
	if s := h.step("fix-installed:pay"); s.State != store.StepBlocked || s.Blocked == nil {
		t.Errorf("oli's done cleared ona's blocker: %s %+v", s.State, s.Blocked)
	}
	h.at(12*time.Hour + time.Minute)
	s = h.step("fix-installed:pay")
	if s.State != store.StepOverdue || s.Level != 1 || s.Blocked == nil {
		t.Fatalf("blocked past its deadline: %s level %d blocked %+v; want overdue, escalated, still blocked", s.State, s.Level, s.Blocked)
	}
	if out := h.outbox(); count(out, "calltree-escalation to mail:cal@example.com") != 1 {
		t.Errorf("no escalation to the unit contact: %v", out)
	}
	h.answer("ona@example.com", VerbDone)
	if s := h.step("fix-installed:pay"); s.State != store.StepDone || s.Blocked != nil {
		t.Errorf("after ona's done: %s %+v", s.State, s.Blocked)
	}
}

// TestBlockedOwnAckClears: the blocked person's own later ack clears the
// blocker, even after an earlier ack of theirs; nothing open to block is
// ErrNothingToAnswer.
func TestBlockedOwnAckClears(t *testing.T) {
	h := newHarness(t, "pay")
	h.answer("pia@example.com", VerbAck)
	if _, err := h.e.Act(context.Background(), Command{Incident: h.inc.ID, Person: "ona@example.com", Verb: VerbBlocked, Note: "cannot"}); err != ErrNothingToAnswer {
		t.Errorf("blocked with no step told: %v", err)
	}
	h.answer("cal@example.com", VerbAck)
	h.answer("cal@example.com", VerbBlocked)
	h.answer("ona@example.com", VerbBlocked)
	if s := h.step("owners-told:pay"); s.State != store.StepBlocked || s.Blocked.By != "ona@example.com" {
		t.Fatalf("owners-told: %s %+v", s.State, s.Blocked)
	}
	h.answer("ona@example.com", VerbAck)
	if s := h.step("owners-told:pay"); s.State != store.StepNotified || s.Blocked != nil {
		t.Errorf("after ona's ack: %s %+v", s.State, s.Blocked)
	}
}

func hasAudit(entries []store.AuditEntry, actor, action string) bool {
	for _, a := range entries {
		if a.Actor == actor && a.Action == action {
			return true
		}
	}
	return false
}

package store

import (
	"context"
	"strings"
	"testing"
)

// TestReferencesHiddenWhenShown pins issue 15 §5 for what was kept before
// references were hidden at writing: a report and an audit entry that
// quote a step's reference (in any case) show its mark, never the
// reference; a word of the same shape that is no reference stays.
func TestReferencesHiddenWhenShown(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	const tok, word = "k7m3pq9xwz", "strengthen"
	var ref string
	err := s.Tx(ctx, func(tx *Tx) error {
		inc, err := tx.CreateIncident("SEC", Incident{CreatedAt: t0, Priority: "P1", Category: "incident", Subject: "RCE"})
		if err != nil {
			return err
		}
		ref = inc.Ref
		if _, err := tx.StartTree(inc.ID, "significant-event", nil, []StepRow{{Key: "team-alerted", Title: "Team", Needs: "ack", DueAt: t0}}, t0); err != nil {
			return err
		}
		tree, err := tx.Tree(inc.ID)
		if err != nil {
			return err
		}
		if err := tx.PutStepPerson(tree.Steps[0].ID, StepPerson{Person: "pia@example.com", Role: "audience", NotifiedAt: t0, Token: tok}); err != nil {
			return err
		}
		rep := `{"subject": "Re: [` + inc.Ref + `]", "text": "ack ` + strings.ToUpper(tok) + ` to ` + word + `\n> Answer reference: ` + tok + `"}`
		if err := tx.AddMessage(Message{IncidentID: inc.ID, Direction: "in", MessageID: "m1", SHA256: "00", Source: "test", From: "pia@example.com",
			Subject: "Re: " + tok, Report: []byte(rep), CreatedAt: t0}); err != nil {
			return err
		}
		return tx.Audit(inc.ID, t0, "pia@example.com", "answer-not-counted", "quotes an answer reference ("+tok+") sent to someone else")
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.GetIncident(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	shown := d.Messages[0].Subject + string(d.Messages[0].Report) + d.Audit[len(d.Audit)-1].Detail
	if strings.Contains(strings.ToLower(shown), tok) {
		t.Errorf("the reference is shown: %s", shown)
	}
	if n := strings.Count(shown, ReferenceMark(tok)); n != 4 {
		t.Errorf("%d marks %s shown, want 4 (subject, text twice, audit): %s", n, ReferenceMark(tok), shown)
	}
	if !strings.Contains(shown, word) {
		t.Errorf("%q, which is no reference, was hidden: %s", word, shown)
	}
}

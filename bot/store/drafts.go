package store

import (
	"context"
	"fmt"
	"time"
)

// Draft states.
const (
	DraftPending  = "pending"
	DraftApproved = "approved"
)

// Draft is mail to an external contact that waits for a second person's
// approval: what goes outside is never one person's decision.
type Draft struct {
	Key string // idempotency key: drafting the same thing twice drafts once
	// ID is the draft's short id on its incident (D1, D2, ...), given by
	// AddDraft and never reused: /approve names it, so an approval is of
	// the draft its approver saw, not of whatever waits when it arrives.
	ID         string
	IncidentID int64
	Contact    string // the contact's id
	Form       string
	Note       string // the drafter's words, for the approver (never sent)
	DraftedBy  string // roster address, or "engine"
	DraftedAt  time.Time
	State      string
	ApprovedBy string
	ApprovedAt time.Time
}

// AddDraft records d as pending with the incident's next short id,
// unless a draft with its key exists; it returns the draft's id (the
// existing one's when it was there) and whether it added it.
func (t *Tx) AddDraft(d Draft) (string, bool, error) {
	if err := t.touchDraft(d.Key, d.IncidentID, d.DraftedAt); err != nil {
		return "", false, err
	}
	var n int
	if err := t.queryRow(`SELECT COUNT(*) FROM drafts WHERE incident_id = ?`, d.IncidentID).Scan(&n); err != nil {
		return "", false, err
	}
	res, err := t.exec(`INSERT INTO drafts (idem_key, incident_id, short_id, contact, form, note, drafted_by, drafted_at, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING`,
		d.Key, d.IncidentID, fmt.Sprintf("D%d", n+1), d.Contact, d.Form, d.Note, d.DraftedBy, ms(d.DraftedAt), DraftPending)
	if err != nil {
		return "", false, err
	}
	added, err := res.RowsAffected()
	if err != nil {
		return "", false, err
	}
	var id string
	if err := t.queryRow(`SELECT short_id FROM drafts WHERE idem_key = ?`, d.Key).Scan(&id); err != nil {
		return "", false, err
	}
	return id, added > 0, nil
}

// ApproveDraft marks the pending draft key approved by who; it reports
// whether it was pending (a second approval changes nothing).
func (t *Tx) ApproveDraft(key, who string, now time.Time) (bool, error) {
	if err := t.touchDraft(key, 0, now); err != nil {
		return false, err
	}
	res, err := t.exec(`UPDATE drafts SET state = ?, approved_by = ?, approved_at = ? WHERE idem_key = ? AND state = ?`,
		DraftApproved, who, ms(now), key, DraftPending)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Drafts are the incident's drafts, oldest first, in the transaction.
func (t *Tx) Drafts(incidentID int64) ([]Draft, error) {
	return loadDrafts(t.ctx, t.tx, incidentID)
}

// Drafts are the incident's drafts, oldest first.
func (s *Store) Drafts(ctx context.Context, incidentID int64) ([]Draft, error) {
	return loadDrafts(ctx, s.r, incidentID)
}

func loadDrafts(ctx context.Context, q querier, incidentID int64) ([]Draft, error) {
	rows, err := q.QueryContext(ctx, `SELECT idem_key, short_id, incident_id, contact, form, note, drafted_by, drafted_at, state, approved_by, approved_at
		FROM drafts WHERE incident_id = ? ORDER BY drafted_at, rowid`, incidentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Draft
	for rows.Next() {
		var d Draft
		var drafted, approved int64
		if err := rows.Scan(&d.Key, &d.ID, &d.IncidentID, &d.Contact, &d.Form, &d.Note, &d.DraftedBy, &drafted, &d.State, &d.ApprovedBy, &approved); err != nil {
			return nil, err
		}
		d.DraftedAt, d.ApprovedAt = fromMS(drafted), fromMS(approved)
		out = append(out, d)
	}
	return out, rows.Err()
}

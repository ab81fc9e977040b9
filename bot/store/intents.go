package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Intent is a notification decided but not yet composed: the decision's
// transaction writes it cheaply; composing (rendering, signing,
// encrypting) happens outside any transaction, and then the intent
// becomes its outbox item in a short one (Store.Tx with Tx.Enqueue and
// Tx.DeleteIntent).
type Intent struct {
	ID         int64
	IdemKey    string // of the outbox item it becomes
	IncidentID int64
	Channel    string
	Recipient  string // as written; read back as its mailbox key
	Payload    []byte
	CreatedAt  time.Time
}

// AddIntent records an intent unless one, or an outbox item, with the same
// key exists; it returns the new intent's id, or 0.
func (t *Tx) AddIntent(in Intent) (int64, error) {
	var queued int
	if err := t.queryRow(`SELECT COUNT(*) FROM outbox WHERE idem_key = ?`, in.IdemKey).Scan(&queued); err != nil || queued > 0 {
		return 0, err
	}
	rows, err := t.query(`INSERT INTO intents (idem_key, incident_id, channel, recipient_key, payload, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING RETURNING id`,
		in.IdemKey, nullID(in.IncidentID), in.Channel, MailboxKey(in.Recipient), in.Payload, ms(in.CreatedAt))
	if err != nil {
		return 0, fmt.Errorf("recording intent %s: %w", in.IdemKey, err)
	}
	defer rows.Close()
	var id int64
	if rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return 0, err
		}
	}
	return id, rows.Err()
}

// DeleteIntent removes an intent that became its outbox item.
func (t *Tx) DeleteIntent(id int64) error {
	_, err := t.exec(`DELETE FROM intents WHERE id = ?`, id)
	return err
}

// Intents returns up to limit intents not yet composed, oldest first;
// with ids, only those.
func (s *Store) Intents(ctx context.Context, limit int, ids ...int64) ([]Intent, error) {
	q, args := `SELECT id, idem_key, COALESCE(incident_id, 0), channel, recipient_key, payload, created_at FROM intents`, []any{}
	if len(ids) > 0 {
		q += ` WHERE id IN (?` + strings.Repeat(",?", len(ids)-1) + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Intent
	for rows.Next() {
		var in Intent
		var at int64
		if err := rows.Scan(&in.ID, &in.IdemKey, &in.IncidentID, &in.Channel, &in.Recipient, &in.Payload, &at); err != nil {
			return nil, err
		}
		in.CreatedAt = fromMS(at)
		out = append(out, in)
	}
	return out, rows.Err()
}

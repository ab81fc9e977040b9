package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Outbox states.
const (
	OutboxPending = "pending"
	OutboxSending = "sending"
	OutboxSent    = "sent"
	OutboxFailed  = "failed"
)

// OutboxItem is one external effect waiting to happen, or its outcome.
type OutboxItem struct {
	ID         int64     `json:"id"`
	IdemKey    string    `json:"key"`
	IncidentID int64     `json:"-"`
	Channel    string    `json:"channel"`
	Kind       string    `json:"kind"`
	Sender     string    `json:"sender"`
	Recipient  string    `json:"recipient"`
	Payload    []byte    `json:"-"`
	State      string    `json:"state"`
	Attempts   int       `json:"attempts"`
	NextAt     time.Time `json:"next_at"`
	LastError  string    `json:"last_error,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	DoneAt     time.Time `json:"done_at,omitzero"`
}

// Enqueue adds an effect unless one with the same IdemKey exists; it
// reports whether a row was added.
//
// An item with State "failed" and a LastError is recorded as a dead letter
// from the start: an effect that must not be attempted (a mail that policy
// says must be encrypted, to someone without a key) but must be seen.
func (t *Tx) Enqueue(it OutboxItem) (bool, error) {
	state, doneAt := "pending", int64(0)
	if it.State == "failed" {
		state, doneAt = "failed", ms(it.CreatedAt)
	}
	if it.Payload == nil {
		it.Payload = []byte{}
	}
	res, err := t.exec(`INSERT INTO outbox (idem_key, incident_id, channel, kind, sender, recipient, payload, state, next_at, created_at, last_error, done_at, recipient_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING`,
		it.IdemKey, nullID(it.IncidentID), it.Channel, it.Kind, it.Sender, it.Recipient, it.Payload, state, ms(it.CreatedAt), ms(it.CreatedAt), it.LastError, doneAt,
		MailboxKey(it.Recipient))
	if err != nil {
		return false, fmt.Errorf("queueing %s: %w", it.IdemKey, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// RecentTo counts the effects queued on channel since since for the
// mailbox of recipient, for rate limiting: addresses that reach the same
// mailbox count together (case, and "+tag" subaddresses, RFC 5233).
func (t *Tx) RecentTo(channel, recipient string, since time.Time) (int, error) {
	var n int
	err := t.queryRow(recentToQuery, MailboxKey(recipient), channel, ms(since)).Scan(&n)
	return n, err
}

const recentToQuery = `SELECT COUNT(*) FROM outbox WHERE recipient_key = ? AND channel = ? AND created_at >= ?`

// MailboxKey is an address reduced to the mailbox it reaches: lower case,
// without a "+tag" in the local part.
func MailboxKey(addr string) string {
	addr = strings.ToLower(strings.TrimSpace(addr))
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	local, domain := addr[:at], addr[at:]
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	return local + domain
}

// Claim leases up to limit due items for lease: pending ones whose next_at
// has come, and sending ones whose lease ran out (their sender died). A
// leased item is not claimed again until the lease ends, so several
// dispatchers never send the same item at once.
func (s *Store) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxItem, error) {
	var out []OutboxItem
	err := s.Tx(ctx, func(tx *Tx) error {
		// One statement picks and leases: the outer condition is checked
		// again on each row as it is updated, so two dispatchers on a
		// shared database never lease the same item.
		rows, err := tx.tx.QueryContext(ctx, `UPDATE outbox SET state = 'sending', lease_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM outbox WHERE (state = 'pending' AND next_at <= ?) OR (state = 'sending' AND lease_until <= ?) ORDER BY next_at, id LIMIT ?)
			AND ((state = 'pending' AND next_at <= ?) OR (state = 'sending' AND lease_until <= ?))
			RETURNING `+outboxCols, ms(now.Add(lease)), ms(now), ms(now), limit, ms(now), ms(now))
		if err != nil {
			return err
		}
		out, err = scanOutbox(rows)
		return err
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].NextAt.Equal(out[j].NextAt) {
			return out[i].NextAt.Before(out[j].NextAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

// Done records the outcome of an attempt at the claimed item it: sent
// (err nil), retry at next (temporary failure), or failed for good (next
// zero). Failures also go into the incident's audit log.
func (s *Store) Done(ctx context.Context, it OutboxItem, now time.Time, sendErr error, next time.Time) error {
	return s.Tx(ctx, func(tx *Tx) error {
		var err error
		switch {
		case sendErr == nil:
			_, err = tx.tx.ExecContext(ctx, `UPDATE outbox SET state = 'sent', done_at = ?, last_error = '' WHERE id = ?`, ms(now), it.ID)
		case !next.IsZero():
			_, err = tx.tx.ExecContext(ctx, `UPDATE outbox SET state = 'pending', next_at = ?, lease_until = 0, last_error = ? WHERE id = ?`, ms(next), sendErr.Error(), it.ID)
		default:
			_, err = tx.tx.ExecContext(ctx, `UPDATE outbox SET state = 'failed', done_at = ?, last_error = ? WHERE id = ?`, ms(now), sendErr.Error(), it.ID)
		}
		if err != nil || sendErr == nil {
			return err
		}
		action := "send-retry"
		if next.IsZero() {
			action = "send-failed"
		}
		return tx.Audit(it.IncidentID, now, "system", action, it.IdemKey+": "+sendErr.Error())
	})
}

// NextDue returns when the earliest pending item is due.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var v sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT MIN(CASE WHEN state = 'pending' THEN next_at ELSE lease_until END) FROM outbox WHERE state IN ('pending', 'sending')`).Scan(&v)
	if err != nil || !v.Valid {
		return time.Time{}, false, err
	}
	return fromMS(v.Int64), true, nil
}

// OutboxCounts returns the number of items in each state.
func (s *Store) OutboxCounts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{OutboxPending: 0, OutboxSending: 0, OutboxSent: 0, OutboxFailed: 0}
	return out, s.countBy(ctx, out, `SELECT state, COUNT(*) FROM outbox GROUP BY state`)
}

// countBy adds the rows of a "SELECT key, COUNT(*) ... GROUP BY key" query
// to out.
func (s *Store) countBy(ctx context.Context, out map[string]int, query string) error {
	rows, err := s.r.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var n int
		if err := rows.Scan(&key, &n); err != nil {
			return err
		}
		out[key] = n
	}
	return rows.Err()
}

// FailedOutbox lists the dead letters, newest first.
func (s *Store) FailedOutbox(ctx context.Context, limit int) ([]OutboxItem, error) {
	return s.outboxWhere(ctx, `state = 'failed' ORDER BY id DESC LIMIT ?`, limit)
}

const outboxCols = `id, idem_key, COALESCE(incident_id, 0), channel, kind, sender, recipient, payload, state, attempts, next_at, last_error, created_at, done_at`

func (s *Store) outboxWhere(ctx context.Context, where string, args ...any) ([]OutboxItem, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+outboxCols+` FROM outbox WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	return scanOutbox(rows)
}

func scanOutbox(rows *sql.Rows) ([]OutboxItem, error) {
	defer rows.Close()
	out := []OutboxItem{}
	for rows.Next() {
		var it OutboxItem
		var next, cr, done int64
		if err := rows.Scan(&it.ID, &it.IdemKey, &it.IncidentID, &it.Channel, &it.Kind, &it.Sender, &it.Recipient, &it.Payload, &it.State, &it.Attempts, &next, &it.LastError, &cr, &done); err != nil {
			return nil, err
		}
		it.NextAt, it.CreatedAt, it.DoneAt = fromMS(next), fromMS(cr), fromMS(done)
		out = append(out, it)
	}
	return out, rows.Err()
}

// MailboxState is where intake stands in one IMAP mailbox.
type MailboxState struct {
	UIDValidity uint32
	LastUID     uint32
}

// MailboxState returns the stored position, zero if none.
func (s *Store) MailboxState(ctx context.Context, account, mailbox string) (MailboxState, error) {
	var st MailboxState
	err := s.r.QueryRowContext(ctx, `SELECT uid_validity, last_uid FROM mailbox_state WHERE account = ? AND mailbox = ?`, account, mailbox).Scan(&st.UIDValidity, &st.LastUID)
	if errors.Is(err, sql.ErrNoRows) {
		return MailboxState{}, nil
	}
	return st, err
}

// SetMailboxState stores the position.
func (s *Store) SetMailboxState(ctx context.Context, account, mailbox string, st MailboxState) error {
	return s.Tx(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO mailbox_state (account, mailbox, uid_validity, last_uid) VALUES (?, ?, ?, ?)
			ON CONFLICT (account, mailbox) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = excluded.last_uid`,
			account, mailbox, st.UIDValidity, st.LastUID)
		return err
	})
}

// ReleaseClaims returns every item still marked sending to pending. Only a
// daemon that holds the store alone may call it (the embedded SQLite store,
// guarded by the data directory lock): the claims are then its dead
// predecessor's, and waiting for their leases would only delay answers.
func (s *Store) ReleaseClaims(ctx context.Context) (int, error) {
	var n int64
	err := s.Tx(ctx, func(tx *Tx) error {
		res, err := tx.tx.ExecContext(ctx, `UPDATE outbox SET state = 'pending', lease_until = 0 WHERE state = 'sending'`)
		if err == nil {
			n, _ = res.RowsAffected()
		}
		return err
	})
	return int(n), err
}

// KeyOutcome is what OfferReporterKey did with a key.
type KeyOutcome string

// The outcomes of offering a key.
const (
	KeyPinned   KeyOutcome = "pinned"   // the first key of the address: now pinned
	KeyUpdated  KeyOutcome = "updated"  // the pinned key again (new signatures, expiry, revocation): replaced
	KeyConflict KeyOutcome = "conflict" // another key than the pinned one: kept aside for a person to settle
)

// OfferReporterKey records a key an authenticated sender sent for their
// own address: the first is pinned, the pinned one again updates it, any
// other is a conflict (the pinned key stays in use). pinned is the
// fingerprint of the key in use afterwards.
func (t *Tx) OfferReporterKey(address, fingerprint, armored string, incidentID int64, now time.Time) (out KeyOutcome, pinned string, err error) {
	err = t.queryRow(`SELECT fingerprint FROM reporter_keys WHERE address = ? AND state = 'pinned'`, address).Scan(&pinned)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = t.exec(`INSERT INTO reporter_keys (address, fingerprint, armored, first_seen, incident_id, state) VALUES (?, ?, ?, ?, ?, 'pinned')
			ON CONFLICT (address, fingerprint) DO UPDATE SET state = 'pinned', armored = excluded.armored`, address, fingerprint, armored, ms(now), nullID(incidentID))
		return KeyPinned, fingerprint, err
	case err != nil:
		return "", "", err
	case pinned == fingerprint:
		_, err = t.exec(`UPDATE reporter_keys SET armored = ? WHERE address = ? AND fingerprint = ?`, armored, address, fingerprint)
		return KeyUpdated, pinned, err
	}
	_, err = t.exec(`INSERT INTO reporter_keys (address, fingerprint, armored, first_seen, incident_id, state) VALUES (?, ?, ?, ?, ?, 'conflict')
		ON CONFLICT (address, fingerprint) DO UPDATE SET armored = excluded.armored`, address, fingerprint, armored, ms(now), nullID(incidentID))
	return KeyConflict, pinned, err
}

// SettleReporterKey makes fingerprint the pinned key of address (a person
// decided a key change); the key pinned before is kept as replaced. The
// decision is audited, by actor at now, on the incident that offered the
// key (the desk's own log when none).
func (s *Store) SettleReporterKey(ctx context.Context, address, fingerprint, actor string, now time.Time) error {
	return s.Tx(ctx, func(tx *Tx) error {
		var inc sql.NullInt64
		err := tx.tx.QueryRowContext(ctx, `SELECT incident_id FROM reporter_keys WHERE address = ? AND fingerprint = ?`, address, fingerprint).Scan(&inc)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("no key %s was offered for %s: %w", fingerprint, address, ErrNotFound)
		}
		if err != nil {
			return err
		}
		var was string
		if err := tx.tx.QueryRowContext(ctx, `SELECT fingerprint FROM reporter_keys WHERE address = ? AND state = 'pinned'`, address).Scan(&was); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.tx.ExecContext(ctx, `UPDATE reporter_keys SET state = 'replaced' WHERE address = ? AND state = 'pinned'`, address); err != nil {
			return err
		}
		if _, err := tx.tx.ExecContext(ctx, `UPDATE reporter_keys SET state = 'pinned' WHERE address = ? AND fingerprint = ?`, address, fingerprint); err != nil {
			return err
		}
		detail, _ := json.Marshal(KeySettled{Address: address, Fingerprint: fingerprint, Replaced: was})
		return tx.Audit(inc.Int64, now, actor, ActionKeySettled, string(detail))
	})
}

// ActionKeySettled is the audit entry of a settled key change; its detail
// is a KeySettled.
const ActionKeySettled = "key-settled"

// KeySettled is what a key-settled entry records.
type KeySettled struct {
	Address     string `json:"address"`
	Fingerprint string `json:"fingerprint"`        // pinned now
	Replaced    string `json:"replaced,omitempty"` // pinned before
}

// ReporterKey is a key a sender offered, with what became of it.
type ReporterKey struct {
	Address     string    `json:"address"`
	Fingerprint string    `json:"fingerprint"`
	State       string    `json:"state"` // pinned, conflict or replaced
	FirstSeen   time.Time `json:"first_seen"`
}

// ListReporterKeys lists every key senders offered (address "" for all).
func (s *Store) ListReporterKeys(ctx context.Context, address string) ([]ReporterKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT address, fingerprint, state, first_seen FROM reporter_keys WHERE (? = '' OR address = ?) ORDER BY address, first_seen`, address, address)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReporterKey
	for rows.Next() {
		var k ReporterKey
		var fs int64
		if err := rows.Scan(&k.Address, &k.Fingerprint, &k.State, &fs); err != nil {
			return nil, err
		}
		k.FirstSeen = fromMS(fs)
		out = append(out, k)
	}
	return out, rows.Err()
}

// ReporterKeys returns the pinned key of address (at most one).
func (s *Store) ReporterKeys(ctx context.Context, address string) ([][]byte, error) {
	st, err := s.read(reporterKeysQuery)
	if err != nil {
		return nil, err
	}
	return reporterKeys(ctx, stmtQuerier{st}, address)
}

// stmtQuerier runs a prepared statement as reporterKeys' querier.
type stmtQuerier struct{ st *sql.Stmt }

func (q stmtQuerier) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return q.st.QueryContext(ctx, args...)
}

// ReporterKeys returns the pinned key of address, this transaction's
// included.
func (t *Tx) ReporterKeys(address string) ([][]byte, error) {
	st, err := t.stmt(reporterKeysQuery)
	if err != nil {
		return nil, err
	}
	return reporterKeys(t.ctx, stmtQuerier{st}, address)
}

const reporterKeysQuery = `SELECT armored FROM reporter_keys WHERE address = ? AND state = 'pinned'`

func reporterKeys(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, address string) ([][]byte, error) {
	rows, err := q.QueryContext(ctx, reporterKeysQuery, address)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		out = append(out, []byte(a))
	}
	return out, rows.Err()
}

// ChatCard returns the message that shows incidentID on channel and the
// version of the card it shows; ref is "" when none was posted yet.
func (s *Store) ChatCard(ctx context.Context, incidentID int64, channel string) (ref string, version int64, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT ref, version FROM chat_cards WHERE incident_id = ? AND channel = ?`, incidentID, channel).Scan(&ref, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, nil
	}
	return ref, version, err
}

// SetChatCard records that ref shows version of incidentID's card on
// channel. An older version never replaces a newer one.
func (s *Store) SetChatCard(ctx context.Context, incidentID int64, channel, ref string, version int64) error {
	return s.Tx(ctx, func(t *Tx) error {
		_, err := t.tx.ExecContext(ctx, `INSERT INTO chat_cards (incident_id, channel, ref, version) VALUES (?, ?, ?, ?)
			ON CONFLICT (incident_id, channel) DO UPDATE SET ref = excluded.ref, version = excluded.version WHERE excluded.version >= chat_cards.version`,
			incidentID, channel, ref, version)
		return err
	})
}

// MessageCount counts the messages filed on an incident in direction
// ("in" or "out"), this transaction's included.
func (t *Tx) MessageCount(incidentID int64, direction string) (int, error) {
	var n int
	err := t.queryRow(`SELECT COUNT(*) FROM messages WHERE incident_id = ? AND direction = ?`, incidentID, direction).Scan(&n)
	return n, err
}

// OpenByPriority counts the open incidents by priority.
func (s *Store) OpenByPriority(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	return out, s.countBy(ctx, out, `SELECT priority, COUNT(*) FROM incidents WHERE status = 'open' GROUP BY priority`)
}

// OldestDue returns when the oldest item that is due was queued: pending
// or sending, and tried at least once or due by now (an item scheduled
// for later is not late). ok is false when none is.
func (s *Store) OldestDue(ctx context.Context, now time.Time) (at time.Time, ok bool, err error) {
	var v sql.NullInt64
	err = s.r.QueryRowContext(ctx, `SELECT MIN(created_at) FROM outbox WHERE state IN ('pending', 'sending') AND (attempts > 0 OR next_at <= ?)`, ms(now)).Scan(&v)
	if err != nil || !v.Valid {
		return time.Time{}, false, err
	}
	return fromMS(v.Int64), true, nil
}

// OldestWaiting returns when the oldest outbox item not yet sent nor given
// up (pending or sending) was queued; kind "" for any kind. ok is false
// when none waits.
func (s *Store) OldestWaiting(ctx context.Context, kind string) (at time.Time, ok bool, err error) {
	var v sql.NullInt64
	err = s.r.QueryRowContext(ctx, `SELECT MIN(created_at) FROM outbox WHERE state IN ('pending', 'sending') AND (? = '' OR kind = ?)`, kind, kind).Scan(&v)
	if err != nil || !v.Valid {
		return time.Time{}, false, err
	}
	return fromMS(v.Int64), true, nil
}

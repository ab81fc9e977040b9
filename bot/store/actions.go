package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Actions are one version of the response team's actions for the
// enhanced action alert: the team's text as written.
type Actions struct {
	Version int
	Text    string
	By      string // the roster address, lower case
	At      time.Time
}

// ActionAudit is the audit action of a new version of the actions.
const ActionAudit = "actions-written"

// WriteActions keeps text as the incident's next version of the actions,
// with its audit entry (the version and the text's SHA-256: the text is
// in its row), and returns it.
func (t *Tx) WriteActions(incidentID int64, text, by, platform, requestID string, now time.Time) (Actions, error) {
	var v int
	if err := t.queryRow(`SELECT COALESCE(MAX(version), 0) FROM incident_actions WHERE incident_id = ?`, incidentID).Scan(&v); err != nil {
		return Actions{}, fmt.Errorf("reading the actions' version: %w", err)
	}
	a := Actions{Version: v + 1, Text: text, By: by, At: now}
	if _, err := t.exec(`INSERT INTO incident_actions (incident_id, version, text, by_person, at) VALUES (?, ?, ?, ?, ?)`,
		incidentID, a.Version, text, by, ms(now)); err != nil {
		return Actions{}, fmt.Errorf("keeping the actions: %w", err)
	}
	if err := t.Touch(incidentID, now); err != nil {
		return Actions{}, err
	}
	sum := sha256.Sum256([]byte(text))
	detail := fmt.Sprintf("version %d by %s (%d bytes, sha256 %s)", a.Version, by, len(text), hex.EncodeToString(sum[:]))
	if err := t.AuditFrom(incidentID, now, by, ActionAudit, detail, platform, requestID); err != nil {
		return Actions{}, err
	}
	return a, nil
}

// Actions is the incident's current version of the actions; false when
// none was written.
func (t *Tx) Actions(incidentID int64) (Actions, bool, error) {
	return scanActions(t.queryRow(`SELECT version, text, by_person, at FROM incident_actions WHERE incident_id = ? ORDER BY version DESC LIMIT 1`, incidentID))
}

// Actions is the incident's current version of the actions; false when
// none was written.
func (s *Store) Actions(ctx context.Context, incidentID int64) (Actions, bool, error) {
	return scanActions(s.r.QueryRowContext(ctx, `SELECT version, text, by_person, at FROM incident_actions WHERE incident_id = ? ORDER BY version DESC LIMIT 1`, incidentID))
}

func scanActions(r rowScanner) (Actions, bool, error) {
	var a Actions
	var at int64
	err := r.Scan(&a.Version, &a.Text, &a.By, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Actions{}, false, nil
	}
	if err != nil {
		return Actions{}, false, err
	}
	a.At = fromMS(at)
	return a, true, nil
}

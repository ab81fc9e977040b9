package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// AuditHash is the hash of an audit entry: SHA-256 over the JSON array of
// its id, incident id (0: the desk's own), time (Unix ms), actor, action,
// detail, platform and request id (both only when either is set: entries
// from before they existed keep their hash) and the previous entry's
// hash. JSON of an array of numbers and strings is canonical: one
// encoding for one entry.
func AuditHash(id, incidentID, atMS int64, actor, action, detail, platform, requestID, prev string) string {
	fields := []any{id, incidentID, atMS, actor, action, detail}
	if platform != "" || requestID != "" {
		fields = append(fields, platform, requestID)
	}
	b, _ := json.Marshal(append(fields, prev))
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// chainLegacyAudit seals the entries written before the chain existed, in
// order, once: only while no entry is sealed yet, so a hash blanked later
// is never sealed again but reported by VerifyAudit.
func (s *Store) chainLegacyAudit(ctx context.Context) error {
	return s.Tx(ctx, func(tx *Tx) error {
		var sealed int
		if err := tx.queryRow(`SELECT COUNT(*) FROM audit WHERE hash <> ''`).Scan(&sealed); err != nil || sealed > 0 {
			return err
		}
		rows, err := tx.query(`SELECT id, COALESCE(incident_id, 0), at, actor, action, detail FROM audit ORDER BY id`)
		if err != nil {
			return err
		}
		type entry struct {
			id, inc, at           int64
			actor, action, detail string
		}
		var all []entry
		for rows.Next() {
			var e entry
			if err := rows.Scan(&e.id, &e.inc, &e.at, &e.actor, &e.action, &e.detail); err != nil {
				rows.Close()
				return err
			}
			all = append(all, e)
		}
		rows.Close()
		prev := ""
		for _, e := range all {
			h := AuditHash(e.id, e.inc, e.at, e.actor, e.action, e.detail, "", "", prev)
			if _, err := tx.exec(`UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?`, prev, h, e.id); err != nil {
				return err
			}
			prev = h
		}
		_, err = tx.exec(`UPDATE audit_head SET last = ? WHERE id = 1`, prev)
		return err
	})
}

// AuditBreak is where the chain does not hold.
type AuditBreak struct {
	ID       int64
	Incident string // the incident's id, "" for the desk's own log
	Action   string
	Why      string
}

func (b *AuditBreak) Error() string {
	where := "the desk's own log"
	if b.Incident != "" {
		where = b.Incident
	}
	return fmt.Sprintf("audit entry %d (%s, %s) does not match: %s", b.ID, where, b.Action, b.Why)
}

// VerifyAudit walks the whole chain in order. It returns how many entries
// hold, and the first that does not (an edited field, a deleted or
// inserted entry, a broken link, a head that is not the last entry).
func (s *Store) VerifyAudit(ctx context.Context) (int, *AuditBreak, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT a.id, COALESCE(a.incident_id, 0), COALESCE(i.ref, ''), a.at, a.actor, a.action, a.detail, a.platform, a.request_id, a.prev_hash, a.hash
		FROM audit a LEFT JOIN incidents i ON i.id = a.incident_id ORDER BY a.id`)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	n, prev := 0, ""
	for rows.Next() {
		var id, inc, at int64
		var ref, actor, action, detail, platform, requestID, prevHash, hash string
		if err := rows.Scan(&id, &inc, &ref, &at, &actor, &action, &detail, &platform, &requestID, &prevHash, &hash); err != nil {
			return n, nil, err
		}
		switch {
		case prevHash != prev:
			return n, &AuditBreak{id, ref, action, "it does not follow the entry before it (an entry before it was removed, inserted or changed)"}, nil
		case hash != AuditHash(id, inc, at, actor, action, detail, platform, requestID, prevHash):
			return n, &AuditBreak{id, ref, action, "its content is not what was written (edited)"}, nil
		}
		prev = hash
		n++
	}
	if err := rows.Err(); err != nil {
		return n, nil, err
	}
	var head string
	if err := s.r.QueryRowContext(ctx, `SELECT last FROM audit_head WHERE id = 1`).Scan(&head); err != nil && err != sql.ErrNoRows {
		return n, nil, err
	}
	if head != prev {
		return n, &AuditBreak{0, "", "head", "the last entries were removed (the chain's head names an entry that is not there)"}, nil
	}
	return n, nil, nil
}

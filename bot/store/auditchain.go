package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The audit log is a keyed hash chain. Each entry carries the seal of the
// one before it and its own seal: HMAC-SHA256, with a key kept outside the
// database (beside the desk's signing key), over a canonical encoding of
// its fields and that previous seal. Whoever can write the database but
// does not hold the key cannot edit, insert or re-seal an entry: a plain
// hash could be recomputed by anyone. What the key cannot show (the last
// entries cut off, with the head moved back) the signed anchors kept
// outside the database show: see VerifyAudit.

// AuditKeyMinLen is the shortest audit key accepted.
const AuditKeyMinLen = 32

// auditSeal is the keyed seal of an entry: HMAC-SHA256 over the JSON
// array of its id, incident id (0: the desk's own), time (Unix ms),
// actor, action, detail, platform, request id, the state it records and
// the previous entry's seal. JSON of an array of numbers and strings is
// canonical: one encoding for one entry.
func auditSeal(key []byte, id, incidentID, atMS int64, actor, action, detail, platform, requestID, state, prev string) string {
	b, _ := json.Marshal([]any{id, incidentID, atMS, actor, action, detail, platform, requestID, state, prev})
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// legacyAuditHash is how entries were sealed before the chain had a key
// (plain SHA-256; platform and request id only when either is set). It is
// only ever checked, for the entries an audit-keyed marker says came
// before the key; nothing is sealed this way any more.
func legacyAuditHash(id, incidentID, atMS int64, actor, action, detail, platform, requestID, prev string) string {
	fields := []any{id, incidentID, atMS, actor, action, detail}
	if platform != "" || requestID != "" {
		fields = append(fields, platform, requestID)
	}
	b, _ := json.Marshal(append(fields, prev))
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// SetAuditKey sets the key the audit chain is sealed with. A store opened
// without one seals with a random key nobody keeps (tests), so an entry
// written by a process that forgot the key fails verification loudly.
func (s *Store) SetAuditKey(key []byte) error {
	if len(key) < AuditKeyMinLen {
		return fmt.Errorf("audit key of %d bytes: want at least %d", len(key), AuditKeyMinLen)
	}
	s.auditKey = append([]byte(nil), key...)
	return nil
}

func randomAuditKey() []byte {
	k := make([]byte, AuditKeyMinLen)
	rand.Read(k)
	return k
}

// ActionAuditKeyed is the entry that starts the keyed chain: its detail
// (KeyedMarker) says how many unkeyed entries come before it, and its
// state is a snapshot of every incident, step and draft, so that rows
// from before the key have an entry that vouches for them.
const ActionAuditKeyed = "audit-keyed"

// ActionState is the entry a transaction writes for each incident whose
// recorded state (status, steps, drafts) it changed.
const ActionState = "state"

// KeyedMarker is the detail of the audit-keyed entry.
type KeyedMarker struct {
	Unkeyed int `json:"unkeyed"` // entries sealed before the key, all before this one
}

// AuditState is the state an entry records (its state column, canonical
// JSON): the resulting incident fields, step states by step row id and
// draft states by draft key.
type AuditState struct {
	Incidents map[int64]IncidentState `json:"incidents,omitempty"`
	Steps     map[int64]string        `json:"steps,omitempty"`
	Drafts    map[string]string       `json:"drafts,omitempty"`
	// People are the step people by "STEP-ID PERSON": when they
	// acknowledged, confirmed or were away, how, and a hash of their
	// reference.
	People map[string]string `json:"people,omitempty"`
	// V is 2 in an audit-keyed snapshot that records people and more
	// than the state of steps and drafts; 0 in one from before.
	V int `json:"v,omitempty"`
	// Assets are the states of an incident's assets by asset row id
	// (affected, fixed, validated, not-affected).
	Assets map[int64]string `json:"assets,omitempty"`
	// Was holds what the rows above were before the transaction (rows
	// it created are absent): each must be what the entry before
	// recorded, so a change made behind the desk's back and then
	// overwritten by the desk still shows. Nil in the audit-keyed
	// snapshot, which vouches for rows as they are.
	Was *AuditState `json:"was,omitempty"`
}

// IncidentState is what an entry records of an incident.
type IncidentState struct {
	Status   string `json:"status"`
	Priority string `json:"priority"`
	Assignee string `json:"assignee"`
}

// stateChanges are the rows a transaction touched, with their recorded
// values before it, so that its commit writes one state entry per
// incident whose values changed.
type stateChanges struct {
	incidents map[int64]IncidentState // id -> before ("" status: created here)
	steps     map[int64]stepBefore
	drafts    map[string]draftBefore
	people    map[personKey]string // before ("": added here)
	// perStep counts the people touched by step; past bulkPeople, the
	// step's other people are read at once (a fan-out to thousands).
	perStep map[int64]int
	assets  map[int64]stepBefore
}

// bulkPeople is how many people of one step a transaction touches before
// their records are read all at once rather than one by one.
const bulkPeople = 32

// personKey is a step_people row.
type personKey struct {
	step   int64
	person string
}

func (k personKey) String() string { return strconv.FormatInt(k.step, 10) + " " + k.person }

type stepBefore struct {
	incident int64
	state    string
}

type draftBefore struct {
	incident int64
	state    string
}

func (t *Tx) changes() *stateChanges {
	if t.chg == nil {
		t.chg = &stateChanges{incidents: map[int64]IncidentState{}, steps: map[int64]stepBefore{}, drafts: map[string]draftBefore{}, assets: map[int64]stepBefore{}, people: map[personKey]string{}, perStep: map[int64]int{}}
	}
	return t.chg
}

// seen notes a time the transaction acts at: its state entries take the
// latest.
func (t *Tx) seen(at time.Time) {
	if at.After(t.lastAt) {
		t.lastAt = at
	}
}

// touchIncident is called before an incident row changes.
func (t *Tx) touchIncident(id int64, now time.Time) error {
	t.seen(now)
	c := t.changes()
	if _, ok := c.incidents[id]; ok {
		return nil
	}
	var st IncidentState
	err := t.queryRow(`SELECT status, priority, assignee FROM incidents WHERE id = ?`, id).Scan(&st.Status, &st.Priority, &st.Assignee)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("reading incident %d before a change: %w", id, err)
	}
	c.incidents[id] = st
	return nil
}

// touchStep is called before a step row changes (created: incident
// given, the step has no record before).
func (t *Tx) touchStep(id, createdIn int64) error {
	c := t.changes()
	if _, ok := c.steps[id]; ok {
		return nil
	}
	b := stepBefore{incident: createdIn}
	if createdIn == 0 {
		inc, rec, err := stepRecord(t.query, id)
		if err != nil {
			return fmt.Errorf("reading step %d before a change: %w", id, err)
		}
		if rec == "" {
			return nil
		}
		b.incident, b.state = inc, rec
	}
	c.steps[id] = b
	return nil
}

// touchPerson is called before a step's person is added or changes.
func (t *Tx) touchPerson(step int64, person string) error {
	c := t.changes()
	k := personKey{step, strings.ToLower(person)}
	if _, ok := c.people[k]; ok {
		return nil
	}
	c.perStep[step]++
	switch n := c.perStep[step]; {
	case n < bulkPeople:
		rec, err := personRecord(t.query, k)
		if err != nil {
			return fmt.Errorf("reading %s of step %d before a change: %w", person, step, err)
		}
		c.people[k] = rec
		return nil
	case n == bulkPeople:
		// The step's people not touched yet are as they were.
		all, err := stepPeople(t.query, step)
		if err != nil {
			return fmt.Errorf("reading the people of step %d before a change: %w", step, err)
		}
		for p, rec := range all {
			if _, ok := c.people[personKey{step, p}]; !ok {
				c.people[personKey{step, p}] = rec
			}
		}
	}
	if _, ok := c.people[k]; !ok {
		c.people[k] = "" // not there before the bulk read: added here
	}
	return nil
}

// personGone is what an entry records of a step's person who was removed.
const personGone = "gone"

// touchAllPeople is called before every person of a step is removed (a
// step started again): each is recorded as it was, so that the entry
// records them gone.
func (t *Tx) touchAllPeople(step int64) error {
	all, err := stepPeople(t.query, step)
	if err != nil {
		return fmt.Errorf("reading the people of step %d before a change: %w", step, err)
	}
	c := t.changes()
	for p, rec := range all {
		if _, ok := c.people[personKey{step, p}]; !ok {
			c.people[personKey{step, p}] = rec
		}
	}
	return nil
}

// stepPeople are the records of a step's people, by person.
func stepPeople(query rowsQuery, step int64) (map[string]string, error) {
	rows, err := query(`SELECT `+personCols+`, person FROM step_people WHERE step_id = ?`, step)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var p string
		rec, err := scanPerson(rows, &p)
		if err != nil {
			return nil, err
		}
		out[p] = rec
	}
	return out, rows.Err()
}

// touchAsset is called before an asset row changes (created: incident
// given, the asset has no state before).
func (t *Tx) touchAsset(id, createdIn int64, now time.Time) error {
	t.seen(now)
	c := t.changes()
	if _, ok := c.assets[id]; ok {
		return nil
	}
	b := stepBefore{incident: createdIn}
	if createdIn == 0 {
		if err := t.queryRow(`SELECT incident_id, state FROM incident_assets WHERE id = ?`, id).Scan(&b.incident, &b.state); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			return fmt.Errorf("reading asset %d before a change: %w", id, err)
		}
	}
	c.assets[id] = b
	return nil
}

// touchDraft is called before a draft row changes.
func (t *Tx) touchDraft(key string, createdIn int64, now time.Time) error {
	t.seen(now)
	c := t.changes()
	if _, ok := c.drafts[key]; ok {
		return nil
	}
	b := draftBefore{incident: createdIn}
	inc, rec, err := draftRecord(t.query, key)
	if err != nil {
		return fmt.Errorf("reading draft before a change: %w", err)
	}
	if rec != "" {
		b.incident, b.state = inc, rec
	}
	c.drafts[key] = b
	return nil
}

// rowsQuery runs a query: a transaction's prepared statements (Tx.query)
// or a reader's (queryOn).
type rowsQuery func(query string, args ...any) (*sql.Rows, error)

func queryOn(ctx context.Context, q querier) rowsQuery {
	return func(query string, args ...any) (*sql.Rows, error) { return q.QueryContext(ctx, query, args...) }
}

// stepRecord is what an entry records of step row id ("": no such row):
// its state, deadline and escalation level (its people: personRecord).
func stepRecord(query rowsQuery, id int64) (incident int64, rec string, err error) {
	rows, err := query(`SELECT incident_id, state, due_at, level FROM steps WHERE id = ?`, id)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var due int64
		var level int
		if err := rows.Scan(&incident, &state, &due, &level); err != nil {
			return 0, "", err
		}
		rec = fmt.Sprintf("%s due=%s level=%d", state, recTime(due), level)
	}
	return incident, rec, rows.Err()
}

const personCols = `acked_at, done_at, away_at, via, token`

// personRecord is what an entry records of a step's person ("": no such
// row): when they acknowledged, confirmed or were away, how, and a hash
// of their reference (never the reference itself, which acts as them).
func personRecord(query rowsQuery, k personKey) (string, error) {
	rows, err := query(`SELECT `+personCols+` FROM step_people WHERE step_id = ? AND person = ?`, k.step, k.person)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	rec := ""
	for rows.Next() {
		if rec, err = scanPerson(rows); err != nil {
			return "", err
		}
	}
	return rec, rows.Err()
}

func scanPerson(rows *sql.Rows, also ...any) (string, error) {
	var acked, done, away int64
	var via, token string
	if err := rows.Scan(append([]any{&acked, &done, &away, &via, &token}, also...)...); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(token))
	return fmt.Sprintf("acked=%s done=%s away=%s via=%q ref=%x", recTime(acked), recTime(done), recTime(away), via, sum[:8]), nil
}

// draftRecord is what an entry records of draft key ("": no such row):
// its state, short id, contact, form and approver.
func draftRecord(query rowsQuery, key string) (incident int64, rec string, err error) {
	rows, err := query(`SELECT incident_id, state, short_id, contact, form, approved_by FROM drafts WHERE idem_key = ?`, key)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	for rows.Next() {
		var state, id, contact, form, approver string
		if err := rows.Scan(&incident, &state, &id, &contact, &form, &approver); err != nil {
			return 0, "", err
		}
		rec = fmt.Sprintf("%s %s contact=%q form=%q approver=%q", state, id, contact, form, approver)
	}
	return incident, rec, rows.Err()
}

func recTime(v int64) string {
	if v == 0 {
		return "-"
	}
	return fromMS(v).Format(time.RFC3339Nano)
}

// sameRecord compares a row's record with the one an entry holds. Entries
// written before records held more than the state (one word) are
// compared on the state alone.
func sameRecord(have, recorded string) bool {
	if recorded != "" && !strings.Contains(recorded, " ") {
		have, _, _ = strings.Cut(have, " ")
	}
	return have == recorded
}

// flushState writes, before the commit, one state entry for each incident
// whose recorded values the transaction changed, carrying the resulting
// values: a change of an incident, step or draft never commits without
// the entry that made it so.
func (t *Tx) flushState() error {
	c := t.chg
	if c == nil {
		return nil
	}
	t.chg = nil
	byInc := map[int64]*AuditState{}
	get := func(id int64) *AuditState {
		if byInc[id] == nil {
			byInc[id] = &AuditState{Was: &AuditState{}}
		}
		return byInc[id]
	}
	for id, before := range c.incidents {
		var now IncidentState
		if err := t.queryRow(`SELECT status, priority, assignee FROM incidents WHERE id = ?`, id).Scan(&now.Status, &now.Priority, &now.Assignee); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			return fmt.Errorf("reading incident %d after a change: %w", id, err)
		}
		if now != before {
			a := get(id)
			a.Incidents = map[int64]IncidentState{id: now}
			if before != (IncidentState{}) {
				a.Was.Incidents = map[int64]IncidentState{id: before}
			}
		}
	}
	for id, before := range c.steps {
		_, rec, err := stepRecord(t.query, id)
		if err != nil {
			return fmt.Errorf("reading step %d after a change: %w", id, err)
		}
		if rec != "" && rec != before.state {
			a := get(before.incident)
			if a.Steps == nil {
				a.Steps = map[int64]string{}
			}
			a.Steps[id] = rec
			if before.state != "" {
				if a.Was.Steps == nil {
					a.Was.Steps = map[int64]string{}
				}
				a.Was.Steps[id] = before.state
			}
		}
	}
	if len(c.people) > 0 {
		stepInc := map[int64]int64{}
		bulk := map[int64]map[string]string{}
		for k, before := range c.people {
			var rec string
			if c.perStep[k.step] >= bulkPeople {
				all, ok := bulk[k.step]
				if !ok {
					var err error
					if all, err = stepPeople(t.query, k.step); err != nil {
						return fmt.Errorf("reading the people of step %d after a change: %w", k.step, err)
					}
					bulk[k.step] = all
				}
				rec = all[k.person]
			} else {
				var err error
				if rec, err = personRecord(t.query, k); err != nil {
					return fmt.Errorf("reading %s of step %d after a change: %w", k.person, k.step, err)
				}
			}
			if rec == before {
				continue
			}
			if rec == "" {
				rec = personGone // removed (a step started again)
			}
			inc, ok := stepInc[k.step]
			if !ok {
				if b, ok := c.steps[k.step]; ok && b.incident != 0 {
					inc = b.incident
				} else if err := t.queryRow(`SELECT incident_id FROM steps WHERE id = ?`, k.step).Scan(&inc); err != nil {
					return fmt.Errorf("reading step %d after a change: %w", k.step, err)
				}
				stepInc[k.step] = inc
			}
			a := get(inc)
			if a.People == nil {
				a.People = map[string]string{}
			}
			a.People[k.String()] = rec
			if before != "" {
				if a.Was.People == nil {
					a.Was.People = map[string]string{}
				}
				a.Was.People[k.String()] = before
			}
		}
	}
	for key, before := range c.drafts {
		inc, rec, err := draftRecord(t.query, key)
		if err != nil {
			return fmt.Errorf("reading draft after a change: %w", err)
		}
		if rec != "" && rec != before.state {
			a := get(inc)
			if a.Drafts == nil {
				a.Drafts = map[string]string{}
			}
			a.Drafts[key] = rec
			if before.state != "" {
				if a.Was.Drafts == nil {
					a.Was.Drafts = map[string]string{}
				}
				a.Was.Drafts[key] = before.state
			}
		}
	}
	for id, before := range c.assets {
		var state string
		if err := t.queryRow(`SELECT state FROM incident_assets WHERE id = ?`, id).Scan(&state); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			return fmt.Errorf("reading asset %d after a change: %w", id, err)
		}
		if state != before.state {
			a := get(before.incident)
			if a.Assets == nil {
				a.Assets = map[int64]string{}
			}
			a.Assets[id] = state
			if before.state != "" {
				if a.Was.Assets == nil {
					a.Was.Assets = map[int64]string{}
				}
				a.Was.Assets[id] = before.state
			}
		}
	}
	if len(byInc) == 0 {
		return nil
	}
	at := t.lastAt
	if at.IsZero() {
		var last sql.NullInt64
		if err := t.queryRow(`SELECT MAX(at) FROM audit`).Scan(&last); err != nil {
			return err
		}
		at = fromMS(last.Int64)
	}
	ids := make([]int64, 0, len(byInc))
	for id := range byInc {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		st, _ := json.Marshal(byInc[id])
		actor := t.lastActor[id]
		if actor == "" {
			actor = "system"
		}
		if err := t.writeAudit(id, at, actor, ActionState, "", "", "", string(st)); err != nil {
			return err
		}
	}
	return nil
}

// writeAudit appends one sealed entry and moves the head.
func (t *Tx) writeAudit(incidentID int64, at time.Time, actor, action, detail, platform, requestID, state string) error {
	var prev string
	if err := t.queryRow(`SELECT last FROM audit_head WHERE id = 1`).Scan(&prev); err != nil {
		return fmt.Errorf("reading the audit chain's head: %w", err)
	}
	var id int64
	if err := t.queryRow(`INSERT INTO audit (incident_id, at, actor, action, detail, platform, request_id, state, prev_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		nullID(incidentID), ms(at), actor, action, detail, platform, requestID, state, prev).Scan(&id); err != nil {
		return fmt.Errorf("writing audit entry: %w", err)
	}
	h := auditSeal(t.key, id, incidentID, ms(at), actor, action, detail, platform, requestID, state, prev)
	if _, err := t.exec(`UPDATE audit SET hash = ? WHERE id = ?`, h, id); err != nil {
		return fmt.Errorf("sealing audit entry: %w", err)
	}
	if _, err := t.exec(`UPDATE audit_head SET last = ? WHERE id = 1`, h); err != nil {
		return fmt.Errorf("moving the audit chain's head: %w", err)
	}
	if action != ActionState {
		t.seen(at)
		if t.lastActor == nil {
			t.lastActor = map[int64]string{}
		}
		t.lastActor[incidentID] = actor
	}
	return nil
}

// sealUnchained seals, once, the entries written before the chain existed
// (plain hashes, as that version would have): it runs only inside the
// migration that adds the chain's columns, never on a later start, so a
// hash blanked later is reported by VerifyAudit, never sealed again.
func sealUnchained(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, COALESCE(incident_id, 0), at, actor, action, detail FROM audit ORDER BY id`)
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
		h := legacyAuditHash(e.id, e.inc, e.at, e.actor, e.action, e.detail, "", "", prev)
		if _, err := tx.ExecContext(ctx, `UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?`, prev, h, e.id); err != nil {
			return err
		}
		prev = h
	}
	_, err = tx.ExecContext(ctx, `UPDATE audit_head SET last = ? WHERE id = 1`, prev)
	return err
}

// keyingVersion is the schema version that brought the keyed chain (the
// audit entries' state column): a store upgraded from before it, or
// created empty, is due to begin the keyed chain, once.
func keyingVersion() int {
	for i, m := range sqliteMigrations {
		if strings.Contains(m, "ALTER TABLE audit ADD COLUMN state") {
			return i + 1
		}
	}
	return len(sqliteMigrations)
}

// ErrKeyingNotDue: the keyed chain began once (or the store was keyed
// before the flag existed); it never begins again.
var ErrKeyingNotDue = errors.New("the keyed audit chain has begun already: it is never begun again")

// KeyingDue reports whether the keyed chain is still to begin: set only by
// the migration, for a store created empty or upgraded from before the
// key, and cleared by BeginKeyedChain. What the log looks like decides
// nothing: a log wiped or rewritten with plain hashes is not begun anew.
func (s *Store) KeyingDue(ctx context.Context) (bool, error) {
	var due bool
	err := s.r.QueryRowContext(ctx, `SELECT due FROM audit_keying WHERE id = 1`).Scan(&due)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return due, err
}

// BeginKeyedChain writes the audit-keyed entry: how many unkeyed entries
// come before it, and a snapshot of the state of every incident, step
// and draft. It is what lets the unkeyed entries before it, and the rows
// they made, pass verification, so it is written once, when KeyingDue
// (the daemon's first start on a new or upgraded store), and never
// again: ErrKeyingNotDue.
func (s *Store) BeginKeyedChain(ctx context.Context, now time.Time) error {
	return s.Tx(ctx, func(tx *Tx) error {
		var due bool
		if err := tx.queryRow(`SELECT due FROM audit_keying WHERE id = 1`).Scan(&due); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if !due {
			return ErrKeyingNotDue
		}
		var n int
		if err := tx.queryRow(`SELECT COUNT(*) FROM audit`).Scan(&n); err != nil {
			return err
		}
		snap, err := snapshotState(ctx, tx.tx)
		if err != nil {
			return err
		}
		st, _ := json.Marshal(snap)
		detail, _ := json.Marshal(KeyedMarker{Unkeyed: n})
		if err := tx.writeAudit(0, now, "system", ActionAuditKeyed, string(detail), "", "", string(st)); err != nil {
			return err
		}
		_, err = tx.exec(`UPDATE audit_keying SET due = 0 WHERE id = 1`)
		return err
	})
}

// AuditKeyed reports whether the chain's last entry is sealed with the
// store's key (said when the anchors are found missing).
func (s *Store) AuditKeyed(ctx context.Context) (bool, error) {
	var id, inc, at int64
	var actor, action, detail, platform, requestID, state, prev, hash string
	err := s.r.QueryRowContext(ctx, `SELECT id, COALESCE(incident_id, 0), at, actor, action, detail, platform, request_id, state, prev_hash, hash FROM audit ORDER BY id DESC LIMIT 1`).
		Scan(&id, &inc, &at, &actor, &action, &detail, &platform, &requestID, &state, &prev, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return hmac.Equal([]byte(hash), []byte(auditSeal(s.auditKey, id, inc, at, actor, action, detail, platform, requestID, state, prev))), nil
}

// snapshotState reads the state of every incident, step and draft.
func snapshotState(ctx context.Context, q querier) (*AuditState, error) {
	a := &AuditState{Incidents: map[int64]IncidentState{}, Steps: map[int64]string{}, Drafts: map[string]string{}, Assets: map[int64]string{}}
	rows, err := q.QueryContext(ctx, `SELECT id, status, priority, assignee FROM incidents`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var st IncidentState
		if err := rows.Scan(&id, &st.Status, &st.Priority, &st.Assignee); err != nil {
			rows.Close()
			return nil, err
		}
		a.Incidents[id] = st
	}
	rows.Close()
	ids, err := rowIDs[int64](ctx, q, `SELECT id FROM steps`)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, a.Steps[id], err = stepRecord(queryOn(ctx, q), id); err != nil {
			return nil, err
		}
	}
	a.People, a.V = map[string]string{}, 2
	rows, err = q.QueryContext(ctx, `SELECT `+personCols+`, step_id, person FROM step_people`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var k personKey
		rec, err := scanPerson(rows, &k.step, &k.person)
		if err != nil {
			rows.Close()
			return nil, err
		}
		a.People[k.String()] = rec
	}
	rows.Close()
	rows, err = q.QueryContext(ctx, `SELECT id, state FROM incident_assets`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			rows.Close()
			return nil, err
		}
		a.Assets[id] = st
	}
	rows.Close()
	keys, err := rowIDs[string](ctx, q, `SELECT idem_key FROM drafts`)
	if err != nil {
		return nil, err
	}
	for _, key := range keys {
		if _, a.Drafts[key], err = draftRecord(queryOn(ctx, q), key); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// rowIDs reads one column of every row.
func rowIDs[T any](ctx context.Context, q querier, query string) ([]T, error) {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// AuditAnchor is the chain's length and last seal at a time: what the
// desk signs and keeps outside the database.
type AuditAnchor struct {
	Count int
	Head  string
	At    time.Time
}

// AuditHead returns the chain's length and last seal now (At unset).
func (s *Store) AuditHead(ctx context.Context) (AuditAnchor, error) {
	var a AuditAnchor
	err := s.r.QueryRowContext(ctx, auditHeadQuery).Scan(&a.Count, &a.Head)
	return a, err
}

// auditHeadQuery reads the chain's length and last seal.
const auditHeadQuery = `SELECT COUNT(*), COALESCE((SELECT hash FROM audit ORDER BY id DESC LIMIT 1), '') FROM audit`

// BreakKind says what kind of tampering VerifyAudit found.
type BreakKind string

// The kinds of AuditBreak.
const (
	BreakEdited    BreakKind = "edited"    // an entry's content is not what was sealed
	BreakLink      BreakKind = "link"      // an entry does not follow the one before it
	BreakUnkeyed   BreakKind = "unkeyed"   // sealed without the key where the key was due
	BreakHead      BreakKind = "head"      // the head names an entry that is not there
	BreakTruncated BreakKind = "truncated" // fewer entries than the latest anchor counted
	BreakRewritten BreakKind = "rewritten" // the entry the anchor counted to is another one
	BreakState     BreakKind = "state"     // a row's state without the entry that made it so
)

// AuditBreak is where the chain, or the state it vouches for, does not
// hold.
type AuditBreak struct {
	Kind     BreakKind
	ID       int64  // the entry (0: none)
	Incident string // the incident's id, "" for the desk's own log
	Action   string
	Why      string
	// For BreakState: the row (step KEY[:UNIT], draft KEY, incident),
	// its state in the table and the state its last entry recorded ("":
	// none).
	Row, Have, Recorded string
	// Person: for a step's person, who (Row names the step).
	Person string
}

func (b *AuditBreak) Error() string {
	where := "the desk's own log"
	if b.Incident != "" {
		where = b.Incident
	}
	switch {
	case b.Kind == BreakTruncated || b.Kind == BreakRewritten || b.Kind == BreakHead || b.ID == 0 && b.Kind != BreakState:
		return b.Why
	case b.Kind == BreakState:
		row := b.Row
		if b.Person != "" {
			row = b.Person + " on " + row
		}
		if b.ID != 0 {
			return fmt.Sprintf("%s of %s was %s when audit entry %d changed it, but the entries before it recorded %s: changed with no audit entry",
				row, where, orNone(b.Have), b.ID, orNone(b.Recorded))
		}
		if b.Recorded == "" {
			return fmt.Sprintf("%s of %s is %s but no audit entry made it so", row, where, b.Have)
		}
		return fmt.Sprintf("%s of %s is %s but the last audit entry that touched it made it %s", row, where, b.Have, b.Recorded)
	}
	return fmt.Sprintf("audit entry %d (%s, %s) does not match: %s", b.ID, where, b.Action, b.Why)
}

// VerifyAudit walks the whole chain in order with key, checks it against
// anchor (the latest signed one; nil: none) and the tables against the
// state the entries recorded. It returns how many entries hold, and the
// first break: an edited field, a deleted or inserted entry, an entry
// sealed without the key after the key began, a head that is not the last
// entry, fewer entries than the anchor counted or another entry where it
// counted to (a cut tail, a rewrite), a step, draft or incident whose
// state no entry made so.
//
// Unkeyed entries pass only before the audit-keyed marker that counts
// them: a forged log cannot claim to be all old.
func (s *Store) VerifyAudit(ctx context.Context, key []byte, anchor *AuditAnchor) (int, *AuditBreak, error) {
	// One read transaction: the log and the tables as of one moment, so
	// that a daemon writing meanwhile causes no false break.
	q, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return 0, nil, err
	}
	defer q.Rollback()
	rows, err := q.QueryContext(ctx, `SELECT a.id, COALESCE(a.incident_id, 0), COALESCE(i.ref, ''), a.at, a.actor, a.action, a.detail, a.platform, a.request_id, a.state, a.prev_hash, a.hash
		FROM audit a LEFT JOIN incidents i ON i.id = a.incident_id ORDER BY a.id`)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	n, prev := 0, ""
	var firstUnkeyed *AuditBreak
	recorded := &AuditState{Incidents: map[int64]IncidentState{}, Steps: map[int64]string{}, Drafts: map[string]string{}, People: map[string]string{}, Assets: map[int64]string{}}
	recIn := map[string]string{}
	// legacyPeople: the keyed chain began before entries recorded step
	// people; a person no entry recorded is not named then.
	legacyPeople := false
	for rows.Next() {
		var id, inc, at int64
		var ref, actor, action, detail, platform, requestID, state, prevHash, hash string
		if err := rows.Scan(&id, &inc, &ref, &at, &actor, &action, &detail, &platform, &requestID, &state, &prevHash, &hash); err != nil {
			return n, nil, err
		}
		if prevHash != prev && firstUnkeyed != nil {
			return n, firstUnkeyed, nil // the first bad entry
		}
		if prevHash != prev {
			return n, &AuditBreak{Kind: BreakLink, ID: id, Incident: ref, Action: action, Why: "it does not follow the entry before it (an entry before it was removed, inserted or changed)"}, nil
		}
		keyed := hmac.Equal([]byte(hash), []byte(auditSeal(key, id, inc, at, actor, action, detail, platform, requestID, state, prevHash)))
		switch {
		case keyed && action == ActionAuditKeyed:
			var m KeyedMarker
			if json.Unmarshal([]byte(detail), &m) == nil && m.Unkeyed == n {
				firstUnkeyed = nil // the unkeyed entries before it are the old ones it counts
			}
		case keyed:
		case state == "" && hash != "" && hash == legacyAuditHash(id, inc, at, actor, action, detail, platform, requestID, prevHash):
			if firstUnkeyed == nil {
				firstUnkeyed = &AuditBreak{Kind: BreakUnkeyed, ID: id, Incident: ref, Action: action, Why: "it is not sealed with the audit key, and no keyed entry counts it as written before the key (a log rewritten without the key)"}
			}
		case firstUnkeyed != nil:
			return n, firstUnkeyed, nil // the first bad entry
		default:
			return n, &AuditBreak{Kind: BreakEdited, ID: id, Incident: ref, Action: action, Why: "its content is not what was written (edited)"}, nil
		}
		if state != "" {
			var a AuditState
			if err := json.Unmarshal([]byte(state), &a); err == nil {
				if brk := unrecordedChange(&a, recorded); brk != nil {
					brk.ID, brk.Incident, brk.Action = id, ref, action
					if sid, ok := strings.CutPrefix(brk.Row, "step row "); ok {
						rows.Close()
						brk.Row = stepName(ctx, q, sid)
					}
					return n, brk, nil
				}
				for k, v := range a.Incidents {
					recorded.Incidents[k] = v
					if ref != "" {
						recIn[fmt.Sprint("incident ", k)] = ref
					}
				}
				for k, v := range a.Steps {
					recorded.Steps[k] = v
					if ref != "" {
						recIn[fmt.Sprint("step ", k)] = ref
					}
				}
				if action == ActionAuditKeyed {
					legacyPeople = a.V < 2
				}
				for k, v := range a.People {
					recorded.People[k] = v
					if v == personGone {
						delete(recorded.People, k)
					}
					if ref != "" {
						recIn["person "+k] = ref
					}
				}
				for k, v := range a.Drafts {
					recorded.Drafts[k] = v
					if ref != "" {
						recIn["draft "+k] = ref
					}
				}
				for k, v := range a.Assets {
					recorded.Assets[k] = v
				}
			}
		}
		prev = hash
		n++
		if anchor != nil && n == anchor.Count && hash != anchor.Head {
			return n - 1, &AuditBreak{Kind: BreakRewritten, ID: id, Incident: ref, Action: action,
				Why: fmt.Sprintf("audit entry %d is not the one %s counted to (entry %d, seal %s): the log was rewritten", id, anchorName(anchor), anchor.Count, short(anchor.Head))}, nil
		}
	}
	if err := rows.Err(); err != nil {
		return n, nil, err
	}
	if firstUnkeyed != nil {
		return n, firstUnkeyed, nil
	}
	if anchor != nil && n < anchor.Count {
		return n, &AuditBreak{Kind: BreakTruncated, Why: fmt.Sprintf("truncated: %s counted %d entries (last seal %s), the log has %d",
			anchorName(anchor), anchor.Count, short(anchor.Head), n)}, nil
	}
	var head string
	if err := q.QueryRowContext(ctx, `SELECT last FROM audit_head WHERE id = 1`).Scan(&head); err != nil && err != sql.ErrNoRows {
		return n, nil, err
	}
	if head != prev {
		return n, &AuditBreak{Kind: BreakHead, Why: "the last entries were removed (the chain's head names an entry that is not there)"}, nil
	}
	if n == 0 {
		// The daemon's first start writes the audit-keyed entry: an empty
		// log was wiped. (Entries without it are unkeyed, named above.)
		return n, &AuditBreak{Kind: BreakUnkeyed, Why: "the log is empty, without even the audit-keyed entry a keyed log begins with: it was wiped"}, nil
	}
	brk, err := checkState(ctx, q, recorded, recIn, legacyPeople)
	return n, brk, err
}

// unrecordedChange is a row whose state before entry a's transaction is
// not what the entries before recorded: changed behind the desk's back,
// then changed again by the desk.
func unrecordedChange(a, rec *AuditState) *AuditBreak {
	if a.Was == nil {
		return nil // the audit-keyed snapshot
	}
	for id := range a.Incidents {
		was, ok := a.Was.Incidents[id]
		if got, had := rec.Incidents[id]; ok != had || was != got {
			b := &AuditBreak{Kind: BreakState, Row: "the incident", Have: fmt.Sprintf("%s %s assigned to %q", was.Status, was.Priority, was.Assignee)}
			if had {
				b.Recorded = fmt.Sprintf("%s %s assigned to %q", got.Status, got.Priority, got.Assignee)
			}
			return b
		}
	}
	for id := range a.Steps {
		was, ok := a.Was.Steps[id]
		if got, had := rec.Steps[id]; ok != had || !sameRecord(was, got) {
			return &AuditBreak{Kind: BreakState, Row: "step row " + strconv.FormatInt(id, 10), Have: was, Recorded: got}
		}
	}
	for key := range a.People {
		was, ok := a.Was.People[key]
		if got, had := rec.People[key]; ok != had || was != got {
			step, person, _ := strings.Cut(key, " ")
			return &AuditBreak{Kind: BreakState, Row: "step row " + step, Person: person, Have: was, Recorded: got}
		}
	}
	for key := range a.Drafts {
		was, ok := a.Was.Drafts[key]
		if got, had := rec.Drafts[key]; ok != had || !sameRecord(was, got) {
			return &AuditBreak{Kind: BreakState, Row: "draft " + key, Have: was, Recorded: got}
		}
	}
	for id := range a.Assets {
		was, ok := a.Was.Assets[id]
		if got, had := rec.Assets[id]; ok != had || was != got {
			return &AuditBreak{Kind: BreakState, Row: "asset row " + strconv.FormatInt(id, 10), Have: was, Recorded: got}
		}
	}
	return nil
}

// anchorName names an anchor in a break: by its time, when known.
func anchorName(a *AuditAnchor) string {
	if a.At.IsZero() {
		return "the given anchor"
	}
	return "the anchor of " + a.At.UTC().Format(time.RFC3339)
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// stepName names step row id as checkState does: step POSITION (KEY[, UNIT]).
func stepName(ctx context.Context, q querier, id string) string {
	var pos int
	var key, unit string
	if err := q.QueryRowContext(ctx, `SELECT position, step_key, unit FROM steps WHERE id = ?`, id).Scan(&pos, &key, &unit); err != nil {
		return "step row " + id
	}
	name := "step " + strconv.Itoa(pos) + " (" + key
	if unit != "" {
		name += ", " + unit
	}
	return name + ")"
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

// checkState compares the incidents, steps and drafts with the state the
// last entry that touched each recorded.
// recIn names the incident of each row an entry recorded ("step ID",
// "draft KEY", "incident ID"), for a row that is gone.
func checkState(ctx context.Context, q querier, rec *AuditState, recIn map[string]string, legacyPeople bool) (*AuditBreak, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, ref, status, priority, assignee FROM incidents ORDER BY id`)
	if err != nil {
		return nil, err
	}
	seenInc := map[int64]bool{}
	for rows.Next() {
		var id int64
		var ref string
		var have IncidentState
		if err := rows.Scan(&id, &ref, &have.Status, &have.Priority, &have.Assignee); err != nil {
			rows.Close()
			return nil, err
		}
		if got, ok := rec.Incidents[id]; !ok || got != have {
			rows.Close()
			b := &AuditBreak{Kind: BreakState, Incident: ref, Row: "the incident", Have: fmt.Sprintf("%s %s assigned to %q", have.Status, have.Priority, have.Assignee)}
			if ok {
				b.Recorded = fmt.Sprintf("%s %s assigned to %q", got.Status, got.Priority, got.Assignee)
			}
			return b, nil
		}
		seenInc[id] = true
	}
	rows.Close()
	for _, id := range sortedKeys(rec.Incidents) {
		if !seenInc[id] {
			got := rec.Incidents[id]
			return &AuditBreak{Kind: BreakState, Incident: recIn[fmt.Sprint("incident ", id)], Row: "the incident", Have: "gone", Recorded: fmt.Sprintf("%s %s assigned to %q", got.Status, got.Priority, got.Assignee)}, nil
		}
	}
	seen := map[int64]bool{}
	rows, err = q.QueryContext(ctx, `SELECT s.id, i.ref FROM steps s JOIN incidents i ON i.id = s.incident_id ORDER BY s.incident_id, s.position, s.unit`)
	if err != nil {
		return nil, err
	}
	type stepRow struct {
		id  int64
		ref string
	}
	var steps []stepRow
	for rows.Next() {
		var r stepRow
		if err := rows.Scan(&r.id, &r.ref); err != nil {
			rows.Close()
			return nil, err
		}
		steps = append(steps, r)
	}
	rows.Close()
	for _, r := range steps {
		seen[r.id] = true
		_, have, err := stepRecord(queryOn(ctx, q), r.id)
		if err != nil {
			return nil, err
		}
		if got := rec.Steps[r.id]; !sameRecord(have, got) {
			return &AuditBreak{Kind: BreakState, Incident: r.ref, Row: stepName(ctx, q, strconv.FormatInt(r.id, 10)), Have: have, Recorded: got}, nil
		}
	}
	for _, id := range sortedKeys(rec.Steps) {
		if !seen[id] {
			return &AuditBreak{Kind: BreakState, Incident: recIn[fmt.Sprint("step ", id)], Row: "step row " + strconv.FormatInt(id, 10), Have: "gone", Recorded: rec.Steps[id]}, nil
		}
	}
	seenPerson := map[string]bool{}
	rows, err = q.QueryContext(ctx, `SELECT p.acked_at, p.done_at, p.away_at, p.via, p.token, p.step_id, p.person, i.ref FROM step_people p JOIN steps s ON s.id = p.step_id JOIN incidents i ON i.id = s.incident_id ORDER BY s.incident_id, s.position, s.unit, p.person`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var k personKey
		var ref string
		have, err := scanPerson(rows, &k.step, &k.person, &ref)
		if err != nil {
			rows.Close()
			return nil, err
		}
		seenPerson[k.String()] = true
		if got, ok := rec.People[k.String()]; ok && got != have || !ok && !legacyPeople {
			rows.Close()
			return &AuditBreak{Kind: BreakState, Incident: ref, Row: stepName(ctx, q, strconv.FormatInt(k.step, 10)), Person: k.person, Have: have, Recorded: got}, nil
		}
	}
	rows.Close()
	for _, key := range sortedKeys(rec.People) {
		if !seenPerson[key] {
			step, person, _ := strings.Cut(key, " ")
			return &AuditBreak{Kind: BreakState, Incident: recIn["person "+key], Row: "step row " + step, Person: person, Have: "gone", Recorded: rec.People[key]}, nil
		}
	}
	type draftRow struct{ key, ref string }
	var drafts []draftRow
	rows, err = q.QueryContext(ctx, `SELECT d.idem_key, i.ref FROM drafts d JOIN incidents i ON i.id = d.incident_id ORDER BY d.incident_id, d.drafted_at, d.idem_key`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var r draftRow
		if err := rows.Scan(&r.key, &r.ref); err != nil {
			rows.Close()
			return nil, err
		}
		drafts = append(drafts, r)
	}
	rows.Close()
	seenDraft := map[string]bool{}
	for _, r := range drafts {
		seenDraft[r.key] = true
		_, have, err := draftRecord(queryOn(ctx, q), r.key)
		if err != nil {
			return nil, err
		}
		if got := rec.Drafts[r.key]; !sameRecord(have, got) {
			return &AuditBreak{Kind: BreakState, Incident: r.ref, Row: "draft " + r.key, Have: have, Recorded: got}, nil
		}
	}
	for _, key := range sortedKeys(rec.Drafts) {
		if !seenDraft[key] {
			return &AuditBreak{Kind: BreakState, Incident: recIn["draft "+key], Row: "draft " + key, Have: "gone", Recorded: rec.Drafts[key]}, nil
		}
	}
	assets, err := q.QueryContext(ctx, `SELECT a.id, i.ref, a.unit, a.asset, a.state FROM incident_assets a JOIN incidents i ON i.id = a.incident_id ORDER BY a.incident_id, a.unit, a.asset`)
	if err != nil {
		return nil, err
	}
	defer assets.Close()
	for assets.Next() {
		var id int64
		var ref, unit, asset, state string
		if err := assets.Scan(&id, &ref, &unit, &asset, &state); err != nil {
			return nil, err
		}
		if got := rec.Assets[id]; got != state {
			return &AuditBreak{Kind: BreakState, Incident: ref, Row: "asset " + asset + " (" + unit + ")", Have: state, Recorded: got}, nil
		}
	}
	if err := assets.Err(); err != nil {
		return nil, err
	}
	return nil, nil
}

func sortedKeys[K int64 | string, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// AuditHead is the chain's length and last seal in the transaction, so far
// (At unset): what a status report written in it carries.
func (t *Tx) AuditHead() (AuditAnchor, error) {
	var a AuditAnchor
	err := t.queryRow(auditHeadQuery).Scan(&a.Count, &a.Head)
	return a, err
}

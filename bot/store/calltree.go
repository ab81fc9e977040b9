package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Step states, as the API shows them.
const (
	StepWaiting      = "waiting"
	StepNotified     = "notified"
	StepAcknowledged = "acknowledged"
	StepDone         = "done"
	StepOverdue      = "overdue"
	StepSkipped      = "skipped"
	// StepAwaitingApproval: what the step sends outside is drafted and
	// waits for a second person's approval (then the step is done).
	StepAwaitingApproval = "awaiting-approval"
	// StepBlocked: someone it told said they cannot go on without help
	// (StepRow.Blocked); its deadline stands.
	StepBlocked = "blocked"
)

// Tree is an incident's call tree as the engine reads and writes it.
type Tree struct {
	Incident Incident
	Playbook string
	Closed   bool
	Units    []TreeUnit
	Steps    []StepRow
	Assets   []AssetRow // the units' assets and how far each is
}

// TreeUnit is an operating unit an incident affects (or affected, when
// Removed).
type TreeUnit struct {
	Unit       string
	Evidence   string
	Owners     []string
	AddedAt    time.Time
	Removed    bool
	RemovedWhy string
	// Assets are the unit's assets the report named (recorded as
	// affected when the unit is added).
	Assets []string
}

// StepRow is one step of a tree (per unit for unit steps).
type StepRow struct {
	ID            int64
	Key           string // the playbook step's id
	Unit          string
	Position      int
	Title         string
	Audience      string
	Needs         string
	DueAt         time.Time
	State         string
	StartedAt     time.Time
	AckedAt       time.Time
	DoneAt        time.Time
	Level         int
	ForcedLevel   int // escalated by a person: reach this level at once
	RemindersSent int
	NextAt        time.Time
	Why           string
	// Round counts the step's restarts (its unit removed, then added
	// again): its messages' keys carry it.
	Round  int
	People []StepPerson
	// Blocked is what blocks the step, as someone it told said; nil when
	// nothing does.
	Blocked *StepBlock
}

// StepBlock is a blocker: who said it, when, and what they wrote.
type StepBlock struct {
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	Text string    `json:"text"` // as written: untrusted
}

// StepPerson is someone a step told.
type StepPerson struct {
	Person      string
	Role        string // audience | escalation | contact (for the owners) | taken (a team member, for the team)
	Level       int
	NotifiedAt  time.Time
	AckedAt     time.Time
	DoneAt      time.Time
	MethodsSent int
	Token       string
	Via         string    // how they answered
	Note        string    // what they wrote with it
	AwayAt      time.Time // when an auto-reply of theirs said they are away
}

// StartTree records that incidentID runs playbook, with its units and
// step rows (their People are ignored). It does nothing when the incident
// already has a tree.
func (t *Tx) StartTree(incidentID int64, playbook string, units []TreeUnit, steps []StepRow, now time.Time) (bool, error) {
	res, err := t.exec(`INSERT INTO calltrees (incident_id, playbook, started_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, incidentID, playbook, ms(now))
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	for _, u := range units {
		if err := t.AddUnit(incidentID, u); err != nil {
			return false, err
		}
	}
	for _, s := range steps {
		if _, err := t.AddStep(incidentID, s); err != nil {
			return false, err
		}
	}
	return true, nil
}

// AddUnit records an affected unit (again, if it was removed).
func (t *Tx) AddUnit(incidentID int64, u TreeUnit) error {
	owners, _ := json.Marshal(u.Owners)
	_, err := t.exec(`INSERT INTO incident_units (incident_id, unit, evidence, owners, added_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (incident_id, unit) DO UPDATE SET removed_at = 0, removed_why = '', evidence = excluded.evidence`,
		incidentID, u.Unit, u.Evidence, string(owners), ms(u.AddedAt))
	if err != nil {
		return err
	}
	return t.addAffected(incidentID, u.Unit, u.Assets, u.AddedAt)
}

// AddStep inserts a step row unless the incident has it; it returns the
// row's id, or 0.
func (t *Tx) AddStep(incidentID int64, s StepRow) (int64, error) {
	rows, err := t.query(`INSERT INTO steps (incident_id, step_key, unit, position, title, audience, needs, due_at, state, next_at, why)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
		incidentID, s.Key, s.Unit, s.Position, s.Title, s.Audience, s.Needs, ms(s.DueAt), orState(s.State), ms(s.NextAt), s.Why)
	if err != nil {
		return 0, fmt.Errorf("adding step %s: %w", s.Key, err)
	}
	defer rows.Close()
	var id int64
	if rows.Next() {
		err = rows.Scan(&id)
	}
	if err == nil && id != 0 {
		err = t.touchStep(id, incidentID)
	}
	return id, err
}

func orState(s string) string {
	if s == "" {
		return StepWaiting
	}
	return s
}

// UpdateStep writes a step row's engine fields.
func (t *Tx) UpdateStep(s StepRow) error {
	if err := t.touchStep(s.ID, 0); err != nil {
		return err
	}
	_, err := t.exec(`UPDATE steps SET state = ?, due_at = ?, started_at = ?, acked_at = ?, done_at = ?, level = ?, forced_level = ?, reminders_sent = ?, next_at = ?, why = ? WHERE id = ?`,
		s.State, ms(s.DueAt), ms(s.StartedAt), ms(s.AckedAt), ms(s.DoneAt), s.Level, s.ForcedLevel, s.RemindersSent, ms(s.NextAt), s.Why, s.ID)
	return err
}

// RestartStep starts step s again from its fields (a unit added back):
// its row takes them with the next round, and the people it told are
// forgotten (the audit keeps who they were), so that it tells its
// audience anew with new answer references.
func (t *Tx) RestartStep(s StepRow) error {
	if err := t.touchStep(s.ID, 0); err != nil {
		return err
	}
	if err := t.touchAllPeople(s.ID); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM step_people WHERE step_id = ?`, s.ID); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM step_blocks WHERE step_id = ?`, s.ID); err != nil {
		return err
	}
	_, err := t.exec(`UPDATE steps SET state = ?, due_at = ?, started_at = 0, acked_at = 0, done_at = 0, level = 0, forced_level = 0, reminders_sent = 0, next_at = ?, why = ?, round = round + 1 WHERE id = ?`,
		orState(s.State), ms(s.DueAt), ms(s.NextAt), s.Why, s.ID)
	return err
}

// PutStepPerson adds p to step stepID, or updates what they did.
func (t *Tx) PutStepPerson(stepID int64, p StepPerson) error {
	if err := t.touchPerson(stepID, p.Person); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO step_people (step_id, person, role, level, notified_at, acked_at, done_at, methods_sent, token, via, note, away_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (step_id, person) DO UPDATE SET
		acked_at = excluded.acked_at, done_at = excluded.done_at, methods_sent = excluded.methods_sent, via = excluded.via, note = excluded.note, away_at = excluded.away_at`,
		stepID, strings.ToLower(p.Person), p.Role, p.Level, ms(p.NotifiedAt), ms(p.AckedAt), ms(p.DoneAt), p.MethodsSent, p.Token, p.Via, p.Note, ms(p.AwayAt))
	return err
}

// SetEventAt moves an incident's event time E.
func (t *Tx) SetEventAt(incidentID int64, at time.Time) error {
	_, err := t.exec(`UPDATE incidents SET event_at = ? WHERE id = ?`, ms(at), incidentID)
	return err
}

// RemoveUnit marks a unit as not affected.
func (t *Tx) RemoveUnit(incidentID int64, unit, why string, now time.Time) error {
	_, err := t.exec(`UPDATE incident_units SET removed_at = ?, removed_why = ? WHERE incident_id = ? AND unit = ?`, ms(now), why, incidentID, unit)
	return err
}

// CloseTree records that the incident's tree ended.
func (t *Tx) CloseTree(incidentID int64, now time.Time) error {
	_, err := t.exec(`UPDATE calltrees SET closed_at = ? WHERE incident_id = ? AND closed_at = 0`, ms(now), incidentID)
	return err
}

type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// Tree reads an incident's call tree in the transaction; ErrNotFound when
// it runs none.
func (t *Tx) Tree(incidentID int64) (*Tree, error) { return loadTree(t.ctx, t.tx, incidentID) }

// Tree reads an incident's call tree; ErrNotFound when it runs none.
func (s *Store) Tree(ctx context.Context, incidentID int64) (*Tree, error) {
	return loadTree(ctx, s.r, incidentID)
}

func loadTree(ctx context.Context, q querier, incidentID int64) (*Tree, error) {
	inc, err := scanIncident(q.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id = ?`, incidentID))
	if err != nil {
		return nil, err
	}
	tr := &Tree{Incident: *inc}
	var closed int64
	err = q.QueryRowContext(ctx, `SELECT playbook, closed_at FROM calltrees WHERE incident_id = ?`, incidentID).Scan(&tr.Playbook, &closed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	tr.Closed = closed != 0
	rows, err := q.QueryContext(ctx, `SELECT unit, evidence, owners, added_at, removed_at, removed_why FROM incident_units WHERE incident_id = ? ORDER BY unit`, incidentID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var u TreeUnit
		var owners string
		var added, removed int64
		if err := rows.Scan(&u.Unit, &u.Evidence, &owners, &added, &removed, &u.RemovedWhy); err != nil {
			rows.Close()
			return nil, err
		}
		json.Unmarshal([]byte(owners), &u.Owners)
		u.AddedAt, u.Removed = fromMS(added), removed != 0
		tr.Units = append(tr.Units, u)
	}
	rows.Close()
	if err := loadAssets(ctx, q, tr); err != nil {
		return nil, err
	}
	rows, err = q.QueryContext(ctx, `SELECT id, step_key, unit, position, title, audience, needs, due_at, state, started_at, acked_at, done_at, level, forced_level, reminders_sent, next_at, why, round
		FROM steps WHERE incident_id = ? ORDER BY position, unit`, incidentID)
	if err != nil {
		return nil, err
	}
	byID := map[int64]int{}
	for rows.Next() {
		var s StepRow
		var due, started, acked, done, next int64
		if err := rows.Scan(&s.ID, &s.Key, &s.Unit, &s.Position, &s.Title, &s.Audience, &s.Needs, &due, &s.State, &started, &acked, &done, &s.Level, &s.ForcedLevel, &s.RemindersSent, &next, &s.Why, &s.Round); err != nil {
			rows.Close()
			return nil, err
		}
		s.DueAt, s.StartedAt, s.AckedAt, s.DoneAt, s.NextAt = fromMS(due), fromMS(started), fromMS(acked), fromMS(done), fromMS(next)
		byID[s.ID] = len(tr.Steps)
		tr.Steps = append(tr.Steps, s)
	}
	rows.Close()
	rows, err = q.QueryContext(ctx, `SELECT p.step_id, p.person, p.role, p.level, p.notified_at, p.acked_at, p.done_at, p.methods_sent, p.token, p.via, p.note, p.away_at
		FROM step_people p JOIN steps s ON s.id = p.step_id WHERE s.incident_id = ? ORDER BY p.notified_at, p.person`, incidentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, notified, acked, done, away int64
		var p StepPerson
		if err := rows.Scan(&id, &p.Person, &p.Role, &p.Level, &notified, &acked, &done, &p.MethodsSent, &p.Token, &p.Via, &p.Note, &away); err != nil {
			return nil, err
		}
		p.NotifiedAt, p.AckedAt, p.DoneAt, p.AwayAt = fromMS(notified), fromMS(acked), fromMS(done), fromMS(away)
		if i, ok := byID[id]; ok {
			tr.Steps[i].People = append(tr.Steps[i].People, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return tr, loadBlocks(ctx, q, incidentID, tr, byID)
}

// loadBlocks reads the blockers of an incident's steps into tr.
func loadBlocks(ctx context.Context, q querier, incidentID int64, tr *Tree, byID map[int64]int) error {
	rows, err := q.QueryContext(ctx, `SELECT b.step_id, b.person, b.at, b.text FROM step_blocks b JOIN steps s ON s.id = b.step_id WHERE s.incident_id = ?`, incidentID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, at int64
		var b StepBlock
		if err := rows.Scan(&id, &b.By, &at, &b.Text); err != nil {
			return err
		}
		b.At = fromMS(at)
		if i, ok := byID[id]; ok {
			tr.Steps[i].Blocked = &b
		}
	}
	return rows.Err()
}

// PutStepBlock records what blocks step s (s.Blocked), or that nothing
// does any more (nil). The step's state, its audit entry's business, is
// written by UpdateStep.
func (t *Tx) PutStepBlock(s StepRow) error {
	if err := t.touchStep(s.ID, 0); err != nil {
		return err
	}
	if s.Blocked == nil {
		_, err := t.exec(`DELETE FROM step_blocks WHERE step_id = ?`, s.ID)
		return err
	}
	_, err := t.exec(`INSERT INTO step_blocks (step_id, person, at, text) VALUES (?, ?, ?, ?)
		ON CONFLICT (step_id) DO UPDATE SET person = excluded.person, at = excluded.at, text = excluded.text`,
		s.ID, strings.ToLower(s.Blocked.By), ms(s.Blocked.At), s.Blocked.Text)
	return err
}

// DueTrees returns up to limit incidents with a step the engine must look
// at by now.
func (s *Store) DueTrees(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT incident_id FROM steps WHERE next_at > 0 AND next_at <= ? ORDER BY incident_id LIMIT ?`, ms(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// NextStepDue returns the earliest time the engine must look at a step.
func (s *Store) NextStepDue(ctx context.Context) (time.Time, bool, error) {
	var v sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT MIN(next_at) FROM steps WHERE next_at > 0`).Scan(&v); err != nil || !v.Valid {
		return time.Time{}, false, err
	}
	return fromMS(v.Int64), true, nil
}

// StepToken finds the step and person a reply token was sent to.
func (t *Tx) StepToken(token string) (incidentID, stepID int64, person string, err error) {
	err = t.queryRow(`SELECT s.incident_id, s.id, p.person FROM step_people p JOIN steps s ON s.id = p.step_id WHERE p.token = ?`, token).Scan(&incidentID, &stepID, &person)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	return
}

// TakeLease takes or renews the lease name for holder until now+d; it
// reports whether holder has it. Several instances sharing a database run
// one engine: the one whose lease is current.
func (s *Store) TakeLease(ctx context.Context, name, holder string, now time.Time, d time.Duration) (bool, error) {
	var got string
	err := s.Tx(ctx, func(tx *Tx) error {
		return tx.tx.QueryRowContext(ctx, `INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
			WHERE leases.holder = excluded.holder OR leases.until <= ?
			RETURNING holder`, name, holder, ms(now.Add(d)), ms(now)).Scan(&got)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return got == holder, err
}

// CallTreeView is a tree as the API, the CLI and the desk show it (the
// keys are a contract: DESIGN.md).
type CallTreeView struct {
	Playbook string      `json:"playbook"`
	EventAt  time.Time   `json:"event_at"`
	Closed   bool        `json:"closed"`
	Units    []UnitView  `json:"units"`
	Steps    []StepView  `json:"steps"`
	Assets   []AssetView `json:"assets"`
	// Actions are the team's actions for the enhanced alert, the current
	// version; null until written.
	Actions *ActionsView `json:"actions"`
}

// ActionsView is the current version of the team's actions.
type ActionsView struct {
	Text    string    `json:"text"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Version int       `json:"version"`
}

// UnitView is an affected unit.
type UnitView struct {
	Unit       string `json:"unit"`
	Evidence   string `json:"evidence"`
	Removed    bool   `json:"removed,omitempty"`
	RemovedWhy string `json:"removed_why,omitempty"`
}

// StepView is one step, with who was told and who answered, by roster
// address.
type StepView struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Audience    string    `json:"audience"`
	Unit        string    `json:"unit,omitempty"`
	Needs       string    `json:"needs"`
	DueAt       time.Time `json:"due_at"`
	State       string    `json:"state"`
	Why         string    `json:"why,omitempty"`
	Notified    []string  `json:"notified"`
	AckedBy     []string  `json:"acked_by"`
	DoneBy      []string  `json:"done_by"`
	EscalatedTo []string  `json:"escalated_to"`
	Away        []string  `json:"away,omitempty"` // told, not answered, and an auto-reply said they are away
	Level       int       `json:"escalation_level"`
	// Blocked is what blocks the open step, as someone it told said; null
	// when nothing does.
	Blocked *StepBlock `json:"blocked"`
}

// View is the tree as shown.
func (t *Tree) View() *CallTreeView {
	v := &CallTreeView{Playbook: t.Playbook, EventAt: t.Incident.EventAt, Closed: t.Closed, Units: []UnitView{}, Steps: []StepView{}, Assets: []AssetView{}}
	for _, a := range t.Assets {
		v.Assets = append(v.Assets, AssetView{Unit: a.Unit, Asset: a.Asset, State: a.State, By: a.By, At: a.At, Note: a.Note, Evidence: a.Evidence})
	}
	for _, u := range t.Units {
		v.Units = append(v.Units, UnitView{Unit: u.Unit, Evidence: u.Evidence, Removed: u.Removed, RemovedWhy: u.RemovedWhy})
	}
	for _, s := range t.Steps {
		sv := StepView{ID: s.Key, Title: s.Title, Audience: s.Audience, Unit: s.Unit, Needs: s.Needs, DueAt: s.DueAt, State: s.State, Why: s.Why,
			Level: s.Level, Notified: []string{}, AckedBy: []string{}, DoneBy: []string{}, EscalatedTo: []string{}}
		if s.State != StepDone && s.State != StepSkipped {
			sv.Blocked = s.Blocked
		}
		if s.Unit != "" {
			sv.ID += ":" + s.Unit
		}
		for _, p := range s.People {
			if p.Role != "contact" && p.Role != "taken" { // who answered without being told (a contact for the owners, a team member taking the team's step)
				sv.Notified = append(sv.Notified, p.Person)
			}
			if p.Role == "escalation" {
				sv.EscalatedTo = append(sv.EscalatedTo, p.Person)
			}
			if !p.AckedAt.IsZero() {
				sv.AckedBy = append(sv.AckedBy, p.Person)
			}
			if !p.DoneAt.IsZero() {
				sv.DoneBy = append(sv.DoneBy, p.Person)
			}
			if !p.AwayAt.IsZero() && p.AckedAt.IsZero() {
				sv.Away = append(sv.Away, p.Person)
			}
		}
		v.Steps = append(v.Steps, sv)
	}
	return v
}

// LatestOpenStep returns the incident of the most recently started step
// that told person and still waits for something: what a command without
// an incident id is about.
func (s *Store) LatestOpenStep(ctx context.Context, person string) (string, error) {
	var ref string
	err := s.r.QueryRowContext(ctx, `SELECT i.ref FROM step_people p JOIN steps s ON s.id = p.step_id JOIN incidents i ON i.id = s.incident_id
		WHERE p.person = ? AND s.state NOT IN ('done', 'skipped') AND s.started_at > 0 AND i.status <> 'closed'
		ORDER BY s.started_at DESC, s.id DESC LIMIT 1`, strings.ToLower(person)).Scan(&ref)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return ref, err
}

// LatestOpenTeamStep returns the incident of the most recently started
// step for the team that still waits for something: what a team member's
// answer without an incident id is about when no step told them (any
// member may take the team's step).
func (s *Store) LatestOpenTeamStep(ctx context.Context) (string, error) {
	var ref string
	err := s.r.QueryRowContext(ctx, `SELECT i.ref FROM steps s JOIN incidents i ON i.id = s.incident_id
		WHERE s.audience = 'team' AND s.needs <> 'none' AND s.state NOT IN ('done', 'skipped') AND NOT (s.state = 'acknowledged' AND s.needs = 'ack')
		AND s.started_at > 0 AND i.status <> 'closed'
		ORDER BY s.started_at DESC, s.id DESC LIMIT 1`).Scan(&ref)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return ref, err
}

package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"context"
)

// Incident is one security incident.
type Incident struct {
	ID           int64     `json:"-"`
	Ref          string    `json:"id"`
	Status       string    `json:"status"`
	Priority     string    `json:"priority"`
	Category     string    `json:"category"`
	Subject      string    `json:"subject"`
	Reporter     string    `json:"reporter"`
	ReporterName string    `json:"reporter_name"`
	Language     string    `json:"language"`
	EventAt      time.Time `json:"event_at"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	// Assignee is the roster person responsible for the incident, if any.
	Assignee string `json:"assignee,omitempty"`
}

// Message is one mail filed on an incident.
type Message struct {
	ID         int64           `json:"-"`
	IncidentID int64           `json:"-"`
	Direction  string          `json:"direction"`
	MessageID  string          `json:"message_id"`
	SHA256     string          `json:"sha256"`
	Source     string          `json:"source"`
	From       string          `json:"from"`
	Subject    string          `json:"subject"`
	Report     json.RawMessage `json:"report,omitempty"` // parsers.Report of an incoming message
	RawPath    string          `json:"-"`
	CreatedAt  time.Time       `json:"created_at"`
	Category   string          `json:"category,omitempty"`
	// UnfiledReason says why an automatic message opened no incident;
	// such a message has IncidentID 0.
	UnfiledReason string `json:"unfiled_reason,omitempty"`
	// NewSender marks a message from an address that had no part in its
	// incident before (not the reporter, not on the roster, not in the
	// thread): it is filed, and triggers nothing by itself.
	NewSender bool `json:"new_sender"`
}

// AuditEntry is one line of an incident's history.
type AuditEntry struct {
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	Detail    string    `json:"detail"`
	Platform  string    `json:"platform,omitempty"`   // slack, discord, email, api, desk
	RequestID string    `json:"request_id,omitempty"` // the platform's id of the request
}

// Lookups by Message-ID repeat "message_id <> ”": SQLite uses the partial
// index messages_message_id only when the query implies its condition.
// An unfiled message is found too, with ref "".
const (
	refByHash      = `SELECT COALESCE(i.ref, '') FROM messages m LEFT JOIN incidents i ON i.id = m.incident_id WHERE m.sha256 = ? AND m.direction = 'in'`
	refByMessageID = `SELECT COALESCE(i.ref, '') FROM messages m LEFT JOIN incidents i ON i.id = m.incident_id WHERE m.message_id = ? AND m.message_id <> ''`
)

// FindMessage returns the incident a message is already filed on: by
// Message-ID when it has one (a second copy of the same message is the same
// message), else by the hash of its bytes.
func (t *Tx) FindMessage(messageID, sha string) (incidentRef string, found bool, err error) {
	q, arg := refByHash, sha
	if messageID != "" {
		q, arg = refByMessageID, messageID
	}
	err = t.queryRow(q, arg).Scan(&incidentRef)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return incidentRef, err == nil, err
}

// InboundByHash returns the incident an incoming message with these exact
// bytes is filed on, outside any transaction: a cheap first look that
// spares the parse of a re-fetched message.
func (s *Store) InboundByHash(ctx context.Context, sha string) (incidentRef string, found bool, err error) {
	err = s.r.QueryRowContext(ctx, refByHash, sha).Scan(&incidentRef)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return incidentRef, err == nil, err
}

// FindThread returns the incident a reply belongs to: the incident tag in
// its subject, else any Message-ID it refers to (In-Reply-To, References)
// that is filed on an incident, ours or the reporter's.
func (t *Tx) FindThread(tag string, msgIDs []string) (*Incident, error) {
	if tag != "" {
		inc, err := t.incidentWhere(`ref = ?`, tag)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return inc, err
		}
	}
	for i := len(msgIDs) - 1; i >= 0; i-- { // newest reference first
		if msgIDs[i] == "" {
			continue
		}
		inc, err := t.incidentWhere(`id = (SELECT incident_id FROM messages WHERE message_id = ? AND message_id <> '')`, msgIDs[i])
		if err == nil || !errors.Is(err, ErrNotFound) {
			return inc, err
		}
	}
	return nil, ErrNotFound
}

// IncidentByRef returns the incident ref (case-insensitive), in t.
func (t *Tx) IncidentByRef(ref string) (*Incident, error) {
	return t.incidentWhere(`ref = ?`, strings.ToUpper(ref))
}

func (t *Tx) incidentWhere(where string, args ...any) (*Incident, error) {
	return scanIncident(t.queryRow(`SELECT `+incidentCols+` FROM incidents WHERE `+where, args...))
}

const incidentCols = `id, ref, status, priority, category, subject, reporter, reporter_name, language, event_at, created_at, updated_at, assignee`

func scanIncident(row interface{ Scan(...any) error }) (*Incident, error) {
	var i Incident
	var ev, cr, up int64
	err := row.Scan(&i.ID, &i.Ref, &i.Status, &i.Priority, &i.Category, &i.Subject, &i.Reporter, &i.ReporterName, &i.Language, &ev, &cr, &up, &i.Assignee)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	i.EventAt, i.CreatedAt, i.UpdatedAt = fromMS(ev), fromMS(cr), fromMS(up)
	return &i, nil
}

// CreateIncident inserts inc with the next number of its prefix and year,
// and returns it with ID and Ref set.
func (t *Tx) CreateIncident(prefix string, inc Incident) (*Incident, error) {
	year := inc.CreatedAt.UTC().Year()
	var seq int
	// One statement takes the next number and locks the counter row
	// (SQLite and PostgreSQL both speak upsert with RETURNING).
	if err := t.queryRow(`INSERT INTO incident_counters (prefix, year, last) VALUES (?, ?, 1)
		ON CONFLICT (prefix, year) DO UPDATE SET last = incident_counters.last + 1 RETURNING last`, prefix, year).Scan(&seq); err != nil {
		return nil, fmt.Errorf("numbering incident: %w", err)
	}
	inc.Ref = fmt.Sprintf("%s-%d-%04d", prefix, year, seq)
	if inc.Status == "" {
		inc.Status = "open"
	}
	if inc.EventAt.IsZero() {
		inc.EventAt = inc.CreatedAt
	}
	inc.UpdatedAt = inc.CreatedAt
	err := t.queryRow(`INSERT INTO incidents (ref, prefix, year, seq, status, priority, category, subject, reporter, reporter_name, language, event_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		inc.Ref, prefix, year, seq, inc.Status, inc.Priority, inc.Category, inc.Subject, inc.Reporter, inc.ReporterName, inc.Language, ms(inc.EventAt), ms(inc.CreatedAt), ms(inc.UpdatedAt)).Scan(&inc.ID)
	if err != nil {
		return nil, fmt.Errorf("inserting incident: %w", err)
	}
	t.seen(inc.CreatedAt)
	t.changes().incidents[inc.ID] = IncidentState{} // created here
	return &inc, nil
}

// SetAssignee makes person responsible for the incident.
func (t *Tx) SetAssignee(incidentID int64, person string, now time.Time) error {
	if err := t.touchIncident(incidentID, now); err != nil {
		return err
	}
	_, err := t.exec(`UPDATE incidents SET assignee = ?, updated_at = ? WHERE id = ?`, person, ms(now), incidentID)
	return err
}

// SetPriority sets an incident's priority.
func (t *Tx) SetPriority(incidentID int64, priority string, now time.Time) error {
	if err := t.touchIncident(incidentID, now); err != nil {
		return err
	}
	_, err := t.exec(`UPDATE incidents SET priority = ?, updated_at = ? WHERE id = ?`, priority, ms(now), incidentID)
	return err
}

// SetStatus sets an incident's status (open, closed, ...).
func (t *Tx) SetStatus(incidentID int64, status string, now time.Time) error {
	if err := t.touchIncident(incidentID, now); err != nil {
		return err
	}
	_, err := t.exec(`UPDATE incidents SET status = ?, updated_at = ? WHERE id = ?`, status, ms(now), incidentID)
	return err
}

// Touch records that an incident changed.
func (t *Tx) Touch(incidentID int64, now time.Time) error {
	_, err := t.exec(`UPDATE incidents SET updated_at = ? WHERE id = ?`, ms(now), incidentID)
	return err
}

// AddMessage files a message on an incident, or, with IncidentID 0 and an
// UnfiledReason, keeps it unfiled.
func (t *Tx) AddMessage(m Message) error {
	if m.IncidentID == 0 && m.UnfiledReason == "" {
		return errors.New("filing message: neither an incident nor a reason to leave it unfiled")
	}
	_, err := t.exec(`INSERT INTO messages (incident_id, direction, message_id, sha256, source, from_addr, subject, report, raw_path, created_at, category, unfiled_reason, new_sender)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		nullID(m.IncidentID), m.Direction, m.MessageID, m.SHA256, m.Source, m.From, m.Subject, string(m.Report), m.RawPath, ms(m.CreatedAt),
		m.Category, m.UnfiledReason, m.NewSender)
	if err != nil {
		return fmt.Errorf("filing message: %w", err)
	}
	return nil
}

// AddSentMessage records an outgoing message once: a retried send of the
// same message (its Message-ID) is recorded by its first composition. It
// reports whether it added the record.
func (t *Tx) AddSentMessage(m Message) (bool, error) {
	res, err := t.exec(`INSERT INTO messages (incident_id, direction, message_id, sha256, source, from_addr, subject, report, raw_path, created_at)
		VALUES (?, 'out', ?, ?, ?, ?, ?, '', '', ?) ON CONFLICT DO NOTHING`,
		nullID(m.IncidentID), m.MessageID, m.SHA256, m.Source, m.From, m.Subject, ms(m.CreatedAt))
	if err != nil {
		return false, fmt.Errorf("recording sent message: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Audit appends to an incident's history (incidentID 0: the desk's own).
//
// The log is a keyed hash chain (auditchain.go): the entry carries the
// seal of the one written before it (audit_head, whose update locks it
// against a concurrent writer) and its own, over a canonical encoding of
// its fields.
func (t *Tx) Audit(incidentID int64, at time.Time, actor, action, detail string) error {
	return t.AuditFrom(incidentID, at, actor, action, detail, "", "")
}

// AuditFrom is Audit for an action a platform's request asked for: the
// platform and the request's id are fields of the entry (and of its seal).
func (t *Tx) AuditFrom(incidentID int64, at time.Time, actor, action, detail, platform, requestID string) error {
	return t.writeAudit(incidentID, at, actor, action, detail, platform, requestID, "")
}

// AuditedSince reports whether the incident's history has an entry of
// action whose detail begins with prefix at or after since (a notice
// already sent within a window, for a limit).
func (t *Tx) AuditedSince(incidentID int64, action, prefix string, since time.Time) (bool, error) {
	var n int
	err := t.queryRow(`SELECT COUNT(*) FROM audit WHERE incident_id = ? AND action = ? AND at >= ? AND substr(detail, 1, length(?)) = ?`,
		incidentID, action, ms(since), prefix, prefix).Scan(&n)
	return n > 0, err
}

// ListIncidents returns the newest incidents first, at most limit.
func (s *Store) ListIncidents(ctx context.Context, limit int) ([]Incident, error) {
	incs, _, err := s.IncidentsPage(ctx, Page{Limit: limit})
	return incs, err
}

// Page selects part of a list, newest first.
type Page struct {
	Limit int // at most this many; 0: all
	// Before is the cursor: only rows older than the last one of the page
	// before (its id); 0: from the newest.
	Before int64
	Since  time.Time // only those opened at or after; zero: any
}

// IncidentsPage returns the incidents p selects, newest first, and how
// many match p.Since in all, so that a list that stops says so.
func (s *Store) IncidentsPage(ctx context.Context, p Page) ([]Incident, int, error) {
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents WHERE created_at >= ?`, ms(p.Since)).Scan(&total); err != nil {
		return nil, 0, err
	}
	limit := p.Limit
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	before := p.Before
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id < ? AND created_at >= ? ORDER BY id DESC LIMIT ?`, before, ms(p.Since), limit)
	if err != nil {
		return nil, 0, err
	}
	incs, err := scanIncidents(rows)
	return incs, total, err
}

func scanIncidents(rows *sql.Rows) ([]Incident, error) {
	defer rows.Close()
	out := []Incident{}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *inc)
	}
	return out, rows.Err()
}

// IncidentDetail is an incident with everything filed on it.
type IncidentDetail struct {
	Incident
	Messages []Message    `json:"messages"`
	Audit    []AuditEntry `json:"audit"`
	Outbox   []OutboxItem `json:"outbox"`
	// CallTree is null when no playbook runs.
	CallTree *CallTreeView `json:"calltree"`
	// Drafts are mail to external contacts: waiting for approval, or
	// approved and sent.
	Drafts []DraftView `json:"drafts"`
}

// DraftView is a draft as the API shows it (the drafter's note is for
// the desk, so it is shown).
type DraftView struct {
	ID         string    `json:"id"` // D1, D2, ...: what /approve names
	Contact    string    `json:"contact"`
	Form       string    `json:"form"`
	State      string    `json:"state"`
	Note       string    `json:"note,omitempty"`
	DraftedBy  string    `json:"drafted_by"`
	DraftedAt  time.Time `json:"drafted_at"`
	ApprovedBy string    `json:"approved_by,omitempty"`
	ApprovedAt time.Time `json:"approved_at,omitzero"`
}

// IncidentByRef returns the incident ref (case-insensitive) alone, without
// its history: for the commands that act on it.
func (s *Store) IncidentByRef(ctx context.Context, ref string) (*Incident, error) {
	return scanIncident(s.r.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE ref = ?`, strings.ToUpper(ref)))
}

// GetIncident returns the incident ref (case-insensitive) and its history.
func (s *Store) GetIncident(ctx context.Context, ref string) (*IncidentDetail, error) {
	inc, err := s.IncidentByRef(ctx, ref)
	if err != nil {
		return nil, err
	}
	d := &IncidentDetail{Incident: *inc, Messages: []Message{}, Audit: []AuditEntry{}}
	if d.Messages, err = s.messagesWhere(ctx, `incident_id = ? ORDER BY id`, true, inc.ID); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT at, actor, action, detail, platform, request_id FROM audit WHERE incident_id = ? AND action <> ? ORDER BY id`, inc.ID, ActionState)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var a AuditEntry
		var at int64
		if err := rows.Scan(&at, &a.Actor, &a.Action, &a.Detail, &a.Platform, &a.RequestID); err != nil {
			rows.Close()
			return nil, err
		}
		a.At = fromMS(at)
		d.Audit = append(d.Audit, a)
	}
	rows.Close()
	if err := s.hideReferences(ctx, d); err != nil {
		return nil, err
	}
	if d.Outbox, err = s.outboxWhere(ctx, `incident_id = ? ORDER BY id`, inc.ID); err != nil {
		return nil, err
	}
	drafts, err := s.Drafts(ctx, inc.ID)
	if err != nil {
		return nil, err
	}
	d.Drafts = []DraftView{}
	for _, x := range drafts {
		d.Drafts = append(d.Drafts, DraftView{ID: x.ID, Contact: x.Contact, Form: x.Form, State: x.State, Note: x.Note, DraftedBy: x.DraftedBy, DraftedAt: x.DraftedAt,
			ApprovedBy: x.ApprovedBy, ApprovedAt: x.ApprovedAt})
	}
	tree, err := s.Tree(ctx, inc.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return d, nil
	case err != nil:
		return nil, err
	}
	d.CallTree = tree.View()
	a, ok, err := s.Actions(ctx, inc.ID)
	if err != nil {
		return nil, err
	}
	if ok {
		d.CallTree.Actions = &ActionsView{Text: a.Text, By: a.By, At: a.At, Version: a.Version}
	}
	return d, nil
}

const messageCols = `id, COALESCE(incident_id, 0), direction, message_id, sha256, source, from_addr, subject, raw_path, created_at, category, unfiled_reason, new_sender`

// messagesWhere returns the messages matching where, with their parsed
// reports when withReport.
func (s *Store) messagesWhere(ctx context.Context, where string, withReport bool, args ...any) ([]Message, error) {
	cols := messageCols + ", ''"
	if withReport {
		cols = messageCols + ", report"
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+cols+` FROM messages WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		var m Message
		var cr int64
		var rep string
		if err := rows.Scan(&m.ID, &m.IncidentID, &m.Direction, &m.MessageID, &m.SHA256, &m.Source, &m.From, &m.Subject, &m.RawPath, &cr,
			&m.Category, &m.UnfiledReason, &m.NewSender, &rep); err != nil {
			return nil, err
		}
		m.CreatedAt = fromMS(cr)
		if rep != "" {
			m.Report = json.RawMessage(rep)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ListUnfiled returns the automatic mail that opened no incident, newest
// first, with the parsed reports.
func (s *Store) ListUnfiled(ctx context.Context, limit int) ([]Message, error) {
	return s.messagesWhere(ctx, `incident_id IS NULL ORDER BY id DESC LIMIT ?`, true, limit)
}

// CountUnfiled returns how many messages are kept unfiled.
func (s *Store) CountUnfiled(ctx context.Context) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages WHERE incident_id IS NULL`).Scan(&n)
	return n, err
}

// IsParticipant reports whether address already took part in the
// incident: its reporter, the sender of a message filed on it (other than
// a new sender), or a recipient of mail it sent.
func (t *Tx) IsParticipant(incidentID int64, address string) (bool, error) {
	var n int
	err := t.queryRow(`SELECT
		(SELECT COUNT(*) FROM incidents WHERE id = ?1 AND lower(reporter) = lower(?2)) +
		(SELECT COUNT(*) FROM messages WHERE incident_id = ?1 AND direction = 'in' AND new_sender = 0 AND lower(from_addr) = lower(?2)) +
		(SELECT COUNT(*) FROM outbox WHERE incident_id = ?1 AND channel = 'mail' AND lower(recipient) = lower(?2))`, incidentID, address).Scan(&n)
	return n > 0, err
}

// CountIncidents returns how many incidents there are.
func (s *Store) CountIncidents(ctx context.Context) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents`).Scan(&n)
	return n, err
}

// AddConfirmation records that address, typed into the report form for
// incident, is asked to confirm with token.
func (t *Tx) AddConfirmation(token string, incidentID int64, address string, now time.Time) error {
	_, err := t.exec(`INSERT INTO form_confirmations (token, incident_id, address, created_at) VALUES (?, ?, ?, ?)`, token, incidentID, address, ms(now))
	return err
}

// Confirm marks token confirmed, once, if it was made after notBefore; it
// returns the incident and address, or ErrNotFound.
func (t *Tx) Confirm(token string, notBefore, now time.Time) (incidentID int64, address string, err error) {
	err = t.queryRow(`SELECT incident_id, address FROM form_confirmations WHERE token = ? AND confirmed_at = 0 AND created_at >= ?`,
		token, ms(notBefore)).Scan(&incidentID, &address)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", ErrNotFound
	}
	if err != nil {
		return 0, "", err
	}
	_, err = t.exec(`UPDATE form_confirmations SET confirmed_at = ? WHERE token = ?`, ms(now), token)
	return incidentID, address, err
}

// FormUnconfirmed reports whether the incident's reporter address was
// typed into the public form and is not confirmed (yet).
func (t *Tx) FormUnconfirmed(incidentID int64) (bool, error) {
	var asked int
	var confirmed int64
	err := t.queryRow(`SELECT COUNT(*), COALESCE(MAX(confirmed_at), 0) FROM form_confirmations WHERE incident_id = ?`, incidentID).Scan(&asked, &confirmed)
	return asked > 0 && confirmed == 0, err
}

// Incident returns an incident by its id, in the transaction.
func (t *Tx) Incident(id int64) (*Incident, error) { return t.incidentWhere(`id = ?`, id) }

// IncidentByID returns an incident and the parsed report of its first
// incoming message.
func (t *Tx) IncidentByID(id int64) (*Incident, json.RawMessage, error) {
	inc, err := t.incidentWhere(`id = ?`, id)
	if err != nil {
		return nil, nil, err
	}
	var rep string
	err = t.queryRow(`SELECT report FROM messages WHERE incident_id = ? AND direction = 'in' ORDER BY id LIMIT 1`, id).Scan(&rep)
	if err != nil {
		return nil, nil, err
	}
	return inc, json.RawMessage(rep), nil
}

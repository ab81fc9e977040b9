package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestUpgradeKeepsEarlierData opens a database left by an earlier Tocsin
// (the first schema, rows written the way that version wrote them) and
// checks what an operator would see after upgrading: the incidents and
// their mail are still there, numbering continues where it stopped, and
// the rows every later migration reshapes come out right.
func TestUpgradeKeepsEarlierData(t *testing.T) {
	ctx := context.Background()
	s := upgraded(t, 2,
		`INSERT INTO incidents (id, ref, prefix, year, seq, status, priority, category, subject, reporter, reporter_name, language, event_at, created_at, updated_at)
			VALUES (1, 'SEC-2026-0041', 'SEC', 2026, 41, 'open', 'P2', 'phishing', 'Phish', 'a@example.org', 'A', 'en', 1, 1, 1),
			       (2, 'SEC-2026-0042', 'SEC', 2026, 42, 'open', 'P1', 'malware', 'Worm', 'b@example.org', 'B', 'de', 2, 2, 2)`,
		`INSERT INTO messages (incident_id, direction, message_id, sha256, source, from_addr, subject, report, raw_path, created_at)
			VALUES (2, 'in', 'worm@example.org', 'h1', 'imap:a/INBOX', 'b@example.org', 'Worm', '{}', 'raw/h1', 2)`,
		`INSERT INTO outbox (idem_key, incident_id, channel, kind, sender, recipient, payload, state, next_at, created_at)
			VALUES ('ack:SEC-2026-0042', 2, 'mail', 'acknowledgement', 'security@example.com', 'B@Example.org', x'00', 'sent', 0, 2)`,
		`INSERT INTO reporter_keys (address, fingerprint, armored, first_seen, incident_id)
			VALUES ('b@example.org', 'FIRST', 'k1', 10, 2), ('b@example.org', 'SECOND', 'k2', 20, 2)`)

	var ref string
	if err := s.Tx(ctx, func(tx *Tx) error {
		inc, err := tx.CreateIncident("SEC", Incident{CreatedAt: t0, Priority: "P3", Category: "other"})
		if inc != nil {
			ref = inc.Ref
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if ref != "SEC-2026-0043" {
		t.Errorf("first incident after the upgrade = %s, want SEC-2026-0043 (numbers continue)", ref)
	}

	d, err := s.GetIncident(ctx, "SEC-2026-0042")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Messages) != 1 || d.Messages[0].MessageID != "worm@example.org" || d.Messages[0].NewSender {
		t.Errorf("messages of SEC-2026-0042 after the upgrade = %+v, want the one filed before", d.Messages)
	}
	if got, _, err := s.InboundByHash(ctx, "h1"); err != nil || got != "SEC-2026-0042" {
		t.Errorf("the old message's hash finds %q, %v: a second copy would open a new incident", got, err)
	}

	var recent int
	if err := s.Tx(ctx, func(tx *Tx) error {
		recent, err = tx.RecentTo("mail", "b+tag@EXAMPLE.org", fromMS(0))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if recent != 1 {
		t.Errorf("mail sent to the reporter before the upgrade counts %d towards the limit, want 1", recent)
	}

	keys, err := s.ListReporterKeys(ctx, "b@example.org")
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, k := range keys {
		states[k.Fingerprint] = k.State
	}
	if states["FIRST"] != "pinned" || states["SECOND"] != "conflict" {
		t.Errorf("reporter keys after the upgrade = %v, want the first pinned and the later one a conflict", states)
	}
}

// TestUpgradeKeepsAwayPeople: a person an earlier Tocsin marked away (as
// via 'away') is still away after the upgrade, and has not answered.
func TestUpgradeKeepsAwayPeople(t *testing.T) {
	ctx := context.Background()
	// The schema just before away_at.
	before := slices.IndexFunc(sqliteMigrations, func(m string) bool { return strings.Contains(m, "ADD COLUMN away_at") })
	s := upgraded(t, before,
		`INSERT INTO incidents (id, ref, prefix, year, seq, status, priority, category, subject, reporter, reporter_name, language, event_at, created_at, updated_at)
			VALUES (1, 'SEC-2026-0001', 'SEC', 2026, 1, 'open', 'P1', 'malware', 'Worm', 'b@example.org', 'B', 'en', 1000, 1000, 1000)`,
		`INSERT INTO calltrees (incident_id, playbook, started_at) VALUES (1, 'significant-event', 1000)`,
		`INSERT INTO steps (id, incident_id, position, step_key, unit, title, audience, needs, due_at, state, started_at, next_at)
			VALUES (7, 1, 0, 'team-alerted', '', 'Team alerted', 'team', 'ack', 3601000, 'overdue', 1000, 0)`,
		`INSERT INTO step_people (step_id, person, role, notified_at, token, via, note) VALUES
			(7, 'tara@example.com', 'audience', 1000, 'tok1', 'away', 'email: out of office'),
			(7, 'theo@example.com', 'escalation', 2000, 'tok2', 'email', 'on it')`)
	tr, err := s.Tree(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	v := tr.View()
	if len(v.Steps) != 1 || fmt.Sprint(v.Steps[0].Away) != "[tara@example.com]" {
		t.Fatalf("after the upgrade the step shows away %v, want tara", v.Steps)
	}
	for _, p := range tr.Steps[0].People {
		if p.Person == "tara@example.com" && (p.Via != "" || !p.AckedAt.IsZero()) {
			t.Errorf("tara after the upgrade: %+v; want away, no answer", p)
		}
	}
}

// upgraded makes a database as an earlier Tocsin left it (the first
// version migrations applied, then rows written the way it wrote them),
// and opens it with this one, which upgrades it.
func upgraded(t *testing.T, version int, rows ...string) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	qs := append([]string{`CREATE TABLE schema_version (version INTEGER NOT NULL)`}, sqliteMigrations[:version]...)
	for v := 1; v <= version; v++ {
		qs = append(qs, fmt.Sprintf(`INSERT INTO schema_version (version) VALUES (%d)`, v))
	}
	for _, q := range append(qs, rows...) {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("making the old database: %v\n%s", err, q)
		}
	}
	old.Close()
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("upgrading: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestDraftIDsAfterUpgrade: drafts written before drafts had short ids
// are numbered per incident in the order they were drafted (issue 15:
// /approve names a draft), and the next draft continues the numbering.
func TestDraftIDsAfterUpgrade(t *testing.T) {
	before := slices.IndexFunc(sqliteMigrations, func(m string) bool { return strings.Contains(m, "CREATE TABLE chat_link_requests") })
	if before < 0 {
		t.Fatal("no migration gives drafts their short ids")
	}
	s := upgraded(t, before,
		`INSERT INTO incidents (id, ref, prefix, year, seq, status, priority, category, subject, reporter, reporter_name, language, event_at, created_at, updated_at)
			VALUES (1, 'SEC-2026-0001', 'SEC', 2026, 1, 'open', 'P1', 'malware', 'Worm', 'b@example.org', 'B', 'en', 1, 1, 1),
			       (2, 'SEC-2026-0002', 'SEC', 2026, 2, 'open', 'P1', 'malware', 'Worm', 'c@example.org', 'C', 'en', 1, 1, 1)`,
		`INSERT INTO drafts (idem_key, incident_id, contact, form, drafted_by, drafted_at, state)
			VALUES ('z-first', 1, 'isp', 'status-report', 'tara@example.com', 10, 'approved'),
			       ('a-second', 1, 'cert', 'status-report', 'tara@example.com', 20, 'pending'),
			       ('b-other', 2, 'cert', 'status-report', 'tara@example.com', 5, 'pending')`)
	ids := func(incident int64) string {
		drafts, err := s.Drafts(context.Background(), incident)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range drafts {
			out = append(out, d.ID+"="+d.Key)
		}
		return strings.Join(out, " ")
	}
	if got, want := ids(1), "D1=z-first D2=a-second"; got != want {
		t.Errorf("drafts of incident 1 after the upgrade: %s, want %s", got, want)
	}
	if got, want := ids(2), "D1=b-other"; got != want {
		t.Errorf("drafts of incident 2 after the upgrade: %s, want %s", got, want)
	}
	var id string
	if err := s.Tx(context.Background(), func(tx *Tx) error {
		var err error
		id, _, err = tx.AddDraft(Draft{Key: "new", IncidentID: 1, Contact: "isp", Form: "status-report", DraftedBy: "theo@example.com", DraftedAt: fromMS(30)})
		return err
	}); err != nil || id != "D3" {
		t.Errorf("the first draft after the upgrade: %q, %v; want D3", id, err)
	}
}

package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestUpgradeKeepsEarlierData opens a database left by an earlier Tocsin
// (the first schema, rows written the way that version wrote them) and
// checks what an operator would see after upgrading: the incidents and
// their mail are still there, numbering continues where it stopped, and
// the rows every later migration reshapes come out right.
func TestUpgradeKeepsEarlierData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		sqliteMigrations[0],
		sqliteMigrations[1],
		`INSERT INTO schema_version (version) VALUES (1), (2)`,
		`INSERT INTO incidents (id, ref, prefix, year, seq, status, priority, category, subject, reporter, reporter_name, language, event_at, created_at, updated_at)
			VALUES (1, 'SEC-2026-0041', 'SEC', 2026, 41, 'open', 'P2', 'phishing', 'Phish', 'a@example.org', 'A', 'en', 1, 1, 1),
			       (2, 'SEC-2026-0042', 'SEC', 2026, 42, 'open', 'P1', 'malware', 'Worm', 'b@example.org', 'B', 'de', 2, 2, 2)`,
		`INSERT INTO messages (incident_id, direction, message_id, sha256, source, from_addr, subject, report, raw_path, created_at)
			VALUES (2, 'in', 'worm@example.org', 'h1', 'imap:a/INBOX', 'b@example.org', 'Worm', '{}', 'raw/h1', 2)`,
		`INSERT INTO outbox (idem_key, incident_id, channel, kind, sender, recipient, payload, state, next_at, created_at)
			VALUES ('ack:SEC-2026-0042', 2, 'mail', 'acknowledgement', 'security@example.com', 'B@Example.org', x'00', 'sent', 0, 2)`,
		`INSERT INTO reporter_keys (address, fingerprint, armored, first_seen, incident_id)
			VALUES ('b@example.org', 'FIRST', 'k1', 10, 2), ('b@example.org', 'SECOND', 'k2', 20, 2)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("making the old database: %v\n%s", err, q)
		}
	}
	old.Close()

	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("upgrading: %v", err)
	}
	defer s.Close()

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

package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func open(t *testing.T) *Store {
	t.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestIncidentNumberingPerYear(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var refs []string
	for _, at := range []time.Time{t0, t0.Add(time.Hour), t0.AddDate(1, 0, 0)} {
		s.Tx(ctx, func(tx *Tx) error {
			inc, err := tx.CreateIncident("SEC", Incident{CreatedAt: at, Priority: "P3", Category: "other"})
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, inc.Ref)
			return nil
		})
	}
	want := []string{"SEC-2026-0001", "SEC-2026-0002", "SEC-2027-0001"}
	for i := range want {
		if refs[i] != want[i] {
			t.Errorf("incident %d = %s, want %s", i, refs[i], want[i])
		}
	}
}

func TestOutboxLeaseRetryAndDeadLetter(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	err := s.Tx(ctx, func(tx *Tx) error {
		for _, k := range []string{"a", "b", "a"} { // "a" twice: idempotent
			if _, err := tx.Enqueue(OutboxItem{IdemKey: k, Channel: "mail", Kind: "test", Sender: "s", Recipient: "r", Payload: []byte(k), CreatedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Claim(ctx, t0, time.Minute, 10)
	if len(got) != 2 {
		t.Fatalf("claimed %d, want 2 (the duplicate key must not be queued)", len(got))
	}
	if again, _ := s.Claim(ctx, t0.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
		t.Errorf("claimed %d items still under lease", len(again))
	}
	// a: temporary failure, retry in 10 s; b: sent.
	s.Done(ctx, got[0], t0, errors.New("451 try later"), t0.Add(10*time.Second))
	s.Done(ctx, got[1], t0, nil, time.Time{})
	if c, _ := s.Claim(ctx, t0.Add(5*time.Second), time.Minute, 10); len(c) != 0 {
		t.Errorf("retry claimed before its time")
	}
	c, _ := s.Claim(ctx, t0.Add(11*time.Second), time.Minute, 10)
	if len(c) != 1 || c[0].Attempts != 2 || c[0].LastError != "451 try later" {
		t.Fatalf("retry claim = %+v", c)
	}
	s.Done(ctx, c[0], t0.Add(12*time.Second), errors.New("550 no such user"), time.Time{})
	counts, _ := s.OutboxCounts(ctx)
	if counts[OutboxSent] != 1 || counts[OutboxFailed] != 1 || counts[OutboxPending] != 0 {
		t.Errorf("counts %v, want 1 sent, 1 failed", counts)
	}
	failed, _ := s.FailedOutbox(ctx, 10)
	if len(failed) != 1 || failed[0].IdemKey != "a" || failed[0].LastError != "550 no such user" {
		t.Errorf("dead letters %+v", failed)
	}
}

func TestClaimAfterCrash(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	s.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Enqueue(OutboxItem{IdemKey: "x", Channel: "mail", Payload: []byte("x"), CreatedAt: t0})
		return err
	})
	s.Claim(ctx, t0, time.Minute, 10) // the claimant dies here
	if c, _ := s.Claim(ctx, t0.Add(61*time.Second), time.Minute, 10); len(c) != 1 {
		t.Errorf("an expired lease was not reclaimed")
	}
	if n, _ := s.ReleaseClaims(ctx); n != 1 {
		t.Errorf("ReleaseClaims released %d, want 1", n)
	}
	if c, _ := s.Claim(ctx, t0.Add(62*time.Second), time.Minute, 10); len(c) != 1 {
		t.Errorf("a released claim was not claimable at once")
	}
}

func TestMailboxState(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if st, _ := s.MailboxState(ctx, "acct", "INBOX"); st != (MailboxState{}) {
		t.Errorf("fresh state %+v", st)
	}
	s.SetMailboxState(ctx, "acct", "INBOX", MailboxState{UIDValidity: 7, LastUID: 42})
	s.SetMailboxState(ctx, "acct", "INBOX", MailboxState{UIDValidity: 7, LastUID: 43})
	if st, _ := s.MailboxState(ctx, "acct", "INBOX"); st != (MailboxState{7, 43}) {
		t.Errorf("state %+v, want {7 43}", st)
	}
}

// TestLookupsUseIndexes guards against full scans on the hot path: a
// partial index is only used when the query repeats its condition.
func TestLookupsUseIndexes(t *testing.T) {
	s := open(t)
	for _, q := range []string{
		strings.ReplaceAll(refByMessageID, "?", "'x'"),
		strings.ReplaceAll(refByHash, "?", "'x'"),
		`SELECT incident_id FROM messages WHERE message_id = 'x' AND message_id <> ''`,
		strings.ReplaceAll(recentToQuery, "?", "'x'"),
	} {
		rows, err := s.r.Query("EXPLAIN QUERY PLAN " + q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		for _, p := range plan {
			if strings.HasPrefix(p, "SCAN m") || p == "SCAN messages" || p == "SCAN outbox" {
				t.Errorf("full scan in %q: %v", q, plan)
			}
		}
	}
}

// TestStoreFilesArePrivate: the database (decrypted reports) and its WAL
// files are 0600 whatever the umask.
func TestStoreFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "t.db")
	st, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, f := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}
}

// TestReporterKeyPinning: the first key is pinned, the same key updates
// it, another is a conflict that leaves the pinned one in use until a
// person settles it.
func TestReporterKeyPinning(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	offer := func(fpr, armored string) (KeyOutcome, string) {
		var out KeyOutcome
		var pinned string
		if err := s.Tx(ctx, func(tx *Tx) error {
			var err error
			out, pinned, err = tx.OfferReporterKey("v@example.org", fpr, armored, 0, now)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out, pinned
	}
	keys := func() string {
		k, _ := s.ReporterKeys(ctx, "v@example.org")
		var out []string
		for _, b := range k {
			out = append(out, string(b))
		}
		return strings.Join(out, ",")
	}
	if out, pinned := offer("AAA", "key A"); out != KeyPinned || pinned != "AAA" || keys() != "key A" {
		t.Fatalf("first: %s %s %q", out, pinned, keys())
	}
	if out, _ := offer("AAA", "key A, new signatures"); out != KeyUpdated || keys() != "key A, new signatures" {
		t.Fatalf("same key: %s %q", out, keys())
	}
	if out, pinned := offer("BBB", "key B"); out != KeyConflict || pinned != "AAA" || keys() != "key A, new signatures" {
		t.Fatalf("another key: %s %s %q", out, pinned, keys())
	}
	if err := s.SettleReporterKey(ctx, "v@example.org", "CCC", "cli:root", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("settling a key never offered: %v", err)
	}
	if err := s.SettleReporterKey(ctx, "v@example.org", "BBB", "cli:root", t0); err != nil || keys() != "key B" {
		t.Fatalf("settled: %v %q", err, keys())
	}
	// Issue 15 §8: settling writes its audit entry.
	var actor, detail string
	s.r.QueryRow(`SELECT actor, detail FROM audit WHERE action = ?`, ActionKeySettled).Scan(&actor, &detail)
	var got KeySettled
	json.Unmarshal([]byte(detail), &got)
	if want := (KeySettled{Address: "v@example.org", Fingerprint: "BBB", Replaced: "AAA"}); actor != "cli:root" || got != want {
		t.Errorf("key-settled entry by %q: %+v, want by cli:root: %+v", actor, got, want)
	}
	list, _ := s.ListReporterKeys(ctx, "v@example.org")
	states := map[string]string{}
	for _, k := range list {
		states[k.Fingerprint] = k.State
	}
	if states["AAA"] != "replaced" || states["BBB"] != "pinned" {
		t.Errorf("states %v", states)
	}
}

func TestMailboxKey(t *testing.T) {
	for in, want := range map[string]string{"Target+1@Example.ORG": "target@example.org", "target@example.org": "target@example.org",
		"+x@example.org": "+x@example.org", "a+b+c@example.org": "a@example.org", "noat": "noat"} {
		if got := MailboxKey(in); got != want {
			t.Errorf("MailboxKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLeaseHasOneHolder: the engine's lease is held by one instance until
// it lapses; its holder renews it; another takes it only after.
func TestLeaseHasOneHolder(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		holder string
		at     time.Duration
		want   bool
	}{{"a", 0, true}, {"b", 10 * time.Second, false}, {"a", 20 * time.Second, true}, {"b", 45 * time.Second, false}, {"b", 51 * time.Second, true}, {"a", 52 * time.Second, false}} {
		got, err := s.TakeLease(ctx, "engine", c.holder, now.Add(c.at), 30*time.Second)
		if err != nil || got != c.want {
			t.Errorf("%s at +%v: %v, %v; want %v", c.holder, c.at, got, err, c.want)
		}
	}
}

// TestAuditChainShowsTampering: the chain verifies; an edited entry, a
// removed one and a removed last one are each named.
func TestAuditChainShowsTampering(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if err := s.Tx(ctx, func(tx *Tx) error {
		for i := range 5 {
			if err := tx.Audit(0, now.Add(time.Duration(i)*time.Second), "system", "test", fmt.Sprint("entry ", i)); err != nil {
				return err
			}
		}
		return tx.AuditFrom(0, now, "pia@example.com", "step-ack", "via slack", "slack", "t1")
	}); err != nil {
		t.Fatal(err)
	}
	if n, brk, err := s.VerifyAudit(ctx, s.auditKey, nil); err != nil || brk != nil || n != 6 {
		t.Fatalf("intact chain: %d, %v, %v", n, brk, err)
	}
	for _, c := range []struct {
		tamper string
		id     int64
		why    string
	}{
		{`UPDATE audit SET detail = 'entry two' WHERE id = 3`, 3, "edited"},
		{`UPDATE audit SET detail = 'entry 2' WHERE id = 3`, 0, ""}, // put back: holds again
		{`UPDATE audit SET request_id = 't2' WHERE id = 6`, 6, "edited"},
		{`UPDATE audit SET request_id = 't1' WHERE id = 6`, 0, ""},
		{`DELETE FROM audit WHERE id = 2`, 3, "does not follow"},
	} {
		if _, err := s.w.Exec(c.tamper); err != nil {
			t.Fatal(err)
		}
		_, brk, err := s.VerifyAudit(ctx, s.auditKey, nil)
		switch {
		case err != nil:
			t.Fatal(err)
		case c.id == 0 && brk != nil:
			t.Errorf("after %q: %v, want intact", c.tamper, brk)
		case c.id != 0 && (brk == nil || brk.ID != c.id || !strings.Contains(brk.Why, c.why)):
			t.Errorf("after %q: %v, want entry %d (%s)", c.tamper, brk, c.id, c.why)
		}
	}
	s2 := open(t)
	s2.Tx(ctx, func(tx *Tx) error { return tx.Audit(0, now, "system", "a", "1") })
	s2.Tx(ctx, func(tx *Tx) error { return tx.Audit(0, now, "system", "b", "2") })
	s2.w.Exec(`DELETE FROM audit WHERE id = 2`)
	if _, brk, _ := s2.VerifyAudit(ctx, s2.auditKey, nil); brk == nil || !strings.Contains(brk.Why, "last entries were removed") {
		t.Errorf("removed last entry: %v", brk)
	}
}

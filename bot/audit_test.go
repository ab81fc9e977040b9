package bot_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"tocsin/bot"
	"tocsin/bot/store"
	"tocsin/responders"
)

// sqlite runs statements on the daemon's database as someone who can
// write it would (the daemon stopped).
func sqlite(t *testing.T, dir string, qs ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "tocsin.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func anchorLines(t *testing.T, d *daemon) []string {
	t.Helper()
	b, _ := os.ReadFile(bot.AnchorsPath(d.cfg))
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestAuditAnchoredAndVerified pins issue 15 §3 and §8 through the
// daemon: a call tree's log, sandbox clock moves included (each writes an
// entry), verifies against the anchors the daemon signed, at start and
// each hour on its clock; cutting the tail, emptying the log or marking a
// step done behind the desk's back is named; a log whose seals were
// stripped is not sealed again by the next start.
func TestAuditAnchoredAndVerified(t *testing.T) {
	d, fake := startTreeSandbox(t, nil)
	if _, err := os.Stat(bot.AuditKeyPath(d.cfg)); err != nil {
		t.Fatalf("no audit key after the first start: %v", err)
	}
	if fi, _ := os.Stat(bot.AuditKeyPath(d.cfg)); fi.Mode().Perm() != 0o600 {
		t.Errorf("audit key mode %04o, want 0600", fi.Mode().Perm())
	}
	id := d.firstReport("anchor1@example.org", "Ransomware on pay.sandbox.test, actively exploited", "Ransom notes.")
	eventually(t, "the call tree", 10*time.Second, func() bool { return d.tree(id).Steps[0].State != "waiting" })
	before := len(anchorLines(t, d))
	d.advance(time.Hour + time.Minute)
	eventually(t, "an hourly anchor", 10*time.Second, func() bool {
		fake.Advance(0)
		return len(anchorLines(t, d)) > before
	})
	ctx := context.Background()
	// Verified while the daemon runs (and writes): one read snapshot.
	if n, _, brk, err := bot.VerifyAudit(ctx, d.cfg); err != nil || brk != nil {
		t.Errorf("verify beside the running daemon: %d, %v, %v", n, brk, err)
	}
	d.stop()

	n, anchor, brk, err := bot.VerifyAudit(ctx, d.cfg)
	if err != nil || brk != nil {
		t.Fatalf("verify of the daemon's log: %d, %v, %v", n, brk, err)
	}
	if anchor.Count == 0 || anchor.Count > n {
		t.Errorf("latest anchor counts %d of %d entries", anchor.Count, n)
	}
	// The clock's move is in the desk's own log, typed.
	db, _ := sql.Open("sqlite", "file:"+filepath.Join(d.cfg.DataDir, "tocsin.db")+"?mode=ro")
	var detail, actor, requestID string
	err = db.QueryRow(`SELECT detail, actor, request_id FROM audit WHERE action = ? AND incident_id IS NULL`, bot.ActionClockMoved).Scan(&detail, &actor, &requestID)
	db.Close()
	var moved bot.ClockMoved
	if err != nil || json.Unmarshal([]byte(detail), &moved) != nil || moved.To.Sub(moved.From) != time.Hour+time.Minute {
		t.Errorf("clock-moved entry: %q, %v; want a move of 1h1m", detail, err)
	}
	// In the name of the token's person, with the token, as /close is.
	if want := strings.ToLower(d.cfg.Officers[0]); actor != want || !strings.HasPrefix(requestID, "token-") {
		t.Errorf("clock moved by %q (request %q), want %s with its token", actor, requestID, want)
	}

	backup := func() func() {
		b, _ := os.ReadFile(filepath.Join(d.cfg.DataDir, "tocsin.db"))
		return func() { os.WriteFile(filepath.Join(d.cfg.DataDir, "tocsin.db"), b, 0o600) }
	}
	restore := backup()
	for _, c := range []struct {
		name   string
		tamper []string
		kind   store.BreakKind
	}{
		{"cut the tail and move the head", []string{`DELETE FROM audit WHERE id > (SELECT MAX(id) - 3 FROM audit)`,
			`UPDATE audit_head SET last = (SELECT hash FROM audit ORDER BY id DESC LIMIT 1)`}, store.BreakTruncated},
		{"delete the log", []string{`DELETE FROM audit`, `UPDATE audit_head SET last = ''`}, store.BreakTruncated},
		{"mark a step done", []string{`UPDATE steps SET state = 'done' WHERE position = (SELECT MAX(position) FROM steps)`}, store.BreakState},
	} {
		sqlite(t, d.cfg.DataDir, c.tamper...)
		if _, _, brk, err := bot.VerifyAudit(ctx, d.cfg); err != nil || brk == nil || brk.Kind != c.kind {
			t.Errorf("%s: %+v, %v; want a %s break", c.name, brk, err, c.kind)
		}
		restore()
	}

	// Lose the anchors file, mark a step done, start again: the next start
	// does not vouch for the log anew (no second audit-keyed entry), so
	// the step is still named, against the anchor the officers hold.
	desk, _ := responders.LoadKey(bot.KeyPath(d.cfg))
	officers, err := bot.LatestAnchor(bot.AnchorsPath(d.cfg), desk)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(bot.AnchorsPath(d.cfg))
	sqlite(t, d.cfg.DataDir, `UPDATE steps SET state = 'done' WHERE position = (SELECT MAX(position) FROM steps)`)
	d1 := startDaemon(t, d.cfg, fake)
	d1.stop()
	if _, _, brk, err := bot.VerifyAudit(ctx, d.cfg, *officers); err != nil || brk == nil || brk.Kind != store.BreakState {
		t.Errorf("anchors lost, a step marked done, restarted: %+v, %v; want the step named", brk, err)
	}
	restore()

	// Strip the seals and start again: nothing is sealed anew.
	sqlite(t, d.cfg.DataDir, `UPDATE audit SET hash = '', prev_hash = ''`, `UPDATE audit_head SET last = ''`)
	d2 := startDaemon(t, d.cfg, fake)
	d2.stop()
	if _, _, brk, err := bot.VerifyAudit(ctx, d.cfg, *officers); err != nil || brk == nil || brk.Kind != store.BreakEdited || brk.ID != 1 {
		t.Errorf("stripped seals after a restart: %+v, %v; want entry 1 edited (not sealed again)", brk, err)
	}
}

// TestStatusReportCarriesTheAnchor pins issue 15 §3: the signed E+24h
// status report names the audit chain's length and last seal, and the
// log reaches that anchor (entry COUNT has that seal).
func TestStatusReportCarriesTheAnchor(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	d.firstReport("anchor2@example.org", "Ransomware on pay.sandbox.test, actively exploited", "Ransom notes.")
	d.advance(24 * time.Hour)
	eventually(t, "the E+24h status report", 10*time.Second, func() bool { return len(d.pagedTo("cio@sandbox.test")) == 1 })
	text := decodedText(t, d.pagedTo("cio@sandbox.test")[0])
	m := regexp.MustCompile(`(\d+) entries up to .*, last seal\s+([0-9a-f]{64})`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("the status report carries no audit anchor:\n%s", text)
	}
	d.stop()
	count, _ := strconv.Atoi(m[1])
	ctx := context.Background()
	st, err := store.OpenSQLiteReadOnly(ctx, filepath.Join(d.cfg.DataDir, "tocsin.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, err := bot.LoadAuditKey(bot.AuditKeyPath(d.cfg))
	if err != nil {
		t.Fatal(err)
	}
	if n, brk, err := st.VerifyAudit(ctx, key, &store.AuditAnchor{Count: count, Head: m[2]}); err != nil || brk != nil || n < count {
		t.Errorf("the log against the report's anchor (%d, %s): %d entries, %v, %v", count, m[2], n, brk, err)
	}
	// A different seal at that count is named a rewrite.
	if _, brk, _ := st.VerifyAudit(ctx, key, &store.AuditAnchor{Count: count, Head: strings.Repeat("0", 64)}); brk == nil || brk.Kind != store.BreakRewritten {
		t.Errorf("another seal at the anchor's count: %+v, want a rewrite", brk)
	}
}

// TestAnchorsAreSigned: an anchor line edited (a count, a seal) or signed
// by another key is refused, naming its line; the latest good one is read.
func TestAnchorsAreSigned(t *testing.T) {
	dir := t.TempDir()
	desk, _, err := responders.LoadOrCreateKey(filepath.Join(dir, "desk.asc"), "Desk", "security@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := responders.LoadOrCreateKey(filepath.Join(dir, "other.asc"), "Other", "other@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "audit-anchors")
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i, a := range []store.AuditAnchor{{Count: 3, Head: "aa", At: at}, {Count: 7, Head: "bb", At: at.Add(time.Hour)}} {
		if err := bot.AppendAnchor(path, desk, a); err != nil {
			t.Fatal(err)
		}
		got, err := bot.LatestAnchor(path, desk)
		if err != nil || got.Count != a.Count || got.Head != a.Head || !got.At.Equal(a.At) {
			t.Errorf("anchor %d read back as %+v, %v; want %+v", i, got, err, a)
		}
	}
	good, _ := os.ReadFile(path)
	for name, edit := range map[string]func(string) string{
		"count edited": func(s string) string { return strings.Replace(s, "count=7", "count=9", 1) },
		"seal edited":  func(s string) string { return strings.Replace(s, "head=bb", "head=cc", 1) },
	} {
		os.WriteFile(path, []byte(edit(string(good))), 0o600)
		if _, err := bot.LatestAnchor(path, desk); err == nil || !strings.Contains(err.Error(), path+":2:") {
			t.Errorf("%s: %v, want line 2 refused", name, err)
		}
	}
	os.Remove(path)
	if err := bot.AppendAnchor(path, other, store.AuditAnchor{Count: 9, Head: "cc", At: at}); err != nil {
		t.Fatal(err)
	}
	if _, err := bot.LatestAnchor(path, desk); err == nil {
		t.Error("an anchor signed by another key was read")
	}
	os.Remove(path)
	if _, err := bot.LatestAnchor(path, desk); !errors.Is(err, bot.ErrNoAnchor) {
		t.Errorf("no anchors file: %v, want ErrNoAnchor", err)
	}
}

// TestLostAnchorsVouchForNothing pins the fix of issue 15's first
// finding: a log wiped (or rewritten without the key) with the anchors
// file removed is not vouched for by the next start (no audit-keyed
// entry, no anchor), and verify fails naming why; an honest operator who
// lost only the anchors file reanchors against an officers' anchor, and
// the daemon anchors again.
func TestLostAnchorsVouchForNothing(t *testing.T) {
	d, fake := startTreeSandbox(t, nil)
	id := d.firstReport("lost1@example.org", "Ransomware on pay.sandbox.test, actively exploited", "Ransom notes.")
	eventually(t, "the call tree", 10*time.Second, func() bool { return d.tree(id).Steps[0].State != "waiting" })
	d.stop()
	ctx := context.Background()
	desk, err := responders.LoadKey(bot.KeyPath(d.cfg))
	if err != nil {
		t.Fatal(err)
	}
	officers, err := bot.LatestAnchor(bot.AnchorsPath(d.cfg), desk)
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(d.cfg.DataDir, "tocsin.db")
	saved, _ := os.ReadFile(dbPath)
	keyedEntries := func() int {
		db, _ := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
		defer db.Close()
		var n int
		db.QueryRow(`SELECT COUNT(*) FROM audit WHERE action = ?`, store.ActionAuditKeyed).Scan(&n)
		return n
	}

	// Wiped, anchors removed, started and stopped.
	sqlite(t, d.cfg.DataDir, `DELETE FROM audit`, `UPDATE audit_head SET last = ''`)
	os.Remove(bot.AnchorsPath(d.cfg))
	startDaemon(t, d.cfg, fake).stop()
	if _, err := os.Stat(bot.AnchorsPath(d.cfg)); err == nil {
		t.Errorf("the start after a wipe wrote an anchor vouching for it")
	}
	if n := keyedEntries(); n != 0 {
		t.Errorf("%d audit-keyed entries after the wipe and a start, want 0", n)
	}
	if _, _, brk, err := bot.VerifyAudit(ctx, d.cfg); !errors.Is(err, bot.ErrNoAnchor) {
		t.Errorf("verify of the wiped log: %v, %v; want no anchor", brk, err)
	}
	if _, _, brk, err := bot.VerifyAudit(ctx, d.cfg, *officers); err != nil || brk == nil {
		t.Errorf("verify of the wiped log against the officers' anchor: %v, %v; want a break", brk, err)
	}
	if _, err := bot.Reanchor(ctx, d.cfg, "cli:test", fake.Now(), []store.AuditAnchor{*officers}); err == nil {
		t.Errorf("the wiped log was reanchored")
	}

	// Only the anchors lost: nothing anchored until reanchored.
	os.WriteFile(dbPath, saved, 0o600)
	os.Remove(dbPath + "-wal")
	os.Remove(dbPath + "-shm")
	os.Remove(bot.AnchorsPath(d.cfg))
	startDaemon(t, d.cfg, fake).stop()
	if _, err := os.Stat(bot.AnchorsPath(d.cfg)); err == nil {
		t.Errorf("the start with the anchors lost anchored anew")
	}
	if _, err := bot.Reanchor(ctx, d.cfg, "cli:test", fake.Now(), nil); err == nil {
		t.Errorf("reanchored without an officers' anchor")
	}
	if _, err := bot.Reanchor(ctx, d.cfg, "cli:test", fake.Now(), []store.AuditAnchor{*officers}); err != nil {
		t.Fatalf("reanchor: %v", err)
	}
	if n, _, brk, err := bot.VerifyAudit(ctx, d.cfg); err != nil || brk != nil {
		t.Errorf("verify after reanchoring: %d, %v, %v", n, brk, err)
	}
	before := len(anchorLines(t, d))
	startDaemon(t, d.cfg, fake).stop()
	if after := len(anchorLines(t, d)); after <= before {
		t.Errorf("anchors after reanchoring and a start: %d, want more than %d", after, before)
	}
	if n := keyedEntries(); n != 1 {
		t.Errorf("%d audit-keyed entries, want 1", n)
	}
}

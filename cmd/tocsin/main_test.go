package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"tocsin/bot"
	"tocsin/bot/chatops"
	"tocsin/bot/sandbox"
	"tocsin/bot/store"
	"tocsin/internal/printable"
	"tocsin/internal/printabletest"
	"tocsin/responders"
)

func run(args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	err := dispatch(args, &out, &errb)
	return out.String(), errb.String(), err
}

func TestParseFlagsEitherSide(t *testing.T) {
	f := filepath.Join("..", "..", "parsers", "testdata", "plain-utf8.eml")
	for _, args := range [][]string{{"parse", "--json", f}, {"parse", f, "--json"}} {
		out, _, err := run(args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var rep map[string]any
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v: not JSON: %v", args, err)
		}
		for _, key := range []string{"from", "from_name", "subject", "category", "auto_submitted", "language", "priority", "priority_reasons",
			"text", "attachments", "cves", "indicators", "pgp", "thread", "warnings"} {
			if _, ok := rep[key]; !ok {
				t.Errorf("%v: contract key %q missing", args, key)
			}
		}
	}
	out, _, err := run("parse", f)
	if err != nil || !strings.Contains(out, "ana@researcher.example") || !strings.Contains(out, "CVE-2026-40123") {
		t.Errorf("text output: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.eml")
	os.WriteFile(bad, []byte("\x00\x01binary, not mail\x00"), 0o600)
	if _, _, err := run("parse", bad); err == nil || !strings.Contains(err.Error(), "not an internet message") {
		t.Errorf("parse of non-mail: err = %v", err)
	}
}

func TestInitThenCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tocsin.yaml")
	if _, _, err := run("init", "--config", path); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run("init", "--config", path); err == nil {
		t.Error("init overwrote an existing config")
	}
	for _, v := range []string{"TOCSIN_IMAP_PASSWORD", "TOCSIN_SMTP_PASSWORD", "TOCSIN_API_TOKEN", "TOCSIN_DESK_PASSWORD", "TOCSIN_NTFY_SECRET"} {
		t.Setenv(v, "x")
	}
	if out, errs, err := run("check", "--config", path); err != nil || !strings.Contains(out, "ok") {
		t.Errorf("check of the starter: %v %s %s", err, out, errs)
	}
	os.WriteFile(path, []byte("desk:\n  address: security@example.com\nimap:\n  hots: x\n"), 0o600)
	_, errs, err := run("check", "--config", path)
	if err == nil {
		t.Fatal("check accepted a typo")
	}
	if want := path + ":4: imap.hots: unknown field (did you mean \"host\"?)"; !strings.Contains(errs, want) {
		t.Errorf("check output lacks %q:\n%s", want, errs)
	}
}

func TestKeysExportAndIncidents(t *testing.T) {
	data := t.TempDir()
	out, _, err := run("keys", "export", "--data", data)
	if err != nil || !strings.HasPrefix(out, "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
		t.Fatalf("keys export: %v\n%s", err, out)
	}
	again, _, _ := run("keys", "export", "--data", data)
	if again != out {
		t.Error("keys export generated a new key the second time")
	}
	if _, _, err := run("incidents", "show", "SEC-2026-0001", "--data", data); err == nil || !strings.Contains(err.Error(), "no incident") {
		t.Errorf("show of a missing incident: %v", err)
	}
	if _, _, err := run("bogus"); err == nil {
		t.Error("unknown command accepted")
	}
}

func TestTemplatesCheckAndShow(t *testing.T) {
	out, _, err := run("templates", "check")
	if err != nil || !strings.Contains(out, "11 forms in 5 languages (en, de, es, fr, ja), both variants: ok") {
		t.Fatalf("embedded forms: %q %v", out, err)
	}
	out, _, err = run("templates", "show", "action-alert", "--lang", "fr", "--variant", "non-technical")
	if err != nil || !strings.Contains(out, "Subject: [SEC-2026-0042] P2 Alerte d'action") || strings.Contains(out, "Explication technique") {
		t.Errorf("templates show: %v\n%s", err, out)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "es"), 0o755)
	os.WriteFile(filepath.Join(dir, "es", "closure.tmpl"), []byte(`{{define "subject"}}{{.Resumen}}{{end}}{{define "body"}}{{end}}`), 0o644)
	cfg := filepath.Join(dir, "tocsin.yaml")
	os.WriteFile(cfg, []byte("desk: {address: security@example.com}\ntemplates: {dir: "+dir+"}\n"), 0o644)
	for _, args := range [][]string{{"templates", "check", "--dir", dir}, {"templates", "check", "--config", cfg}, {"check", "--config", cfg}} {
		_, errOut, err := run(args...)
		if err == nil || !strings.Contains(errOut, filepath.Join(dir, "es", "closure.tmpl")+" (technical)") || !strings.Contains(errOut, "can't evaluate field Resumen") {
			t.Errorf("%v: err %v, stderr %q; want the file and the bad field", args, err, errOut)
		}
	}
}

// TestEveryCommandHasHelp: every command and subcommand of the usage
// answers --help with its usage and exit status 0.
func TestEveryCommandHasHelp(t *testing.T) {
	cmds := map[string]bool{}
	for _, l := range strings.Split(usage, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "tocsin" || !strings.HasPrefix(l, "  ") {
			continue
		}
		cmds[f[1]] = true
		if len(f) > 2 && f[2][0] >= 'a' && f[2][0] <= 'z' && f[2] != "run" {
			cmds[f[1]+" "+f[2]] = true
		}
	}
	if len(cmds) < 12 {
		t.Fatalf("only %d commands found in the usage: %v", len(cmds), cmds)
	}
	for c := range cmds {
		args := append(strings.Fields(c), "--help")
		out, errOut, err := run(args...)
		if code := exitStatus(err, io.Discard); code != 0 {
			t.Errorf("tocsin %s --help: exit %d (%v)", c, code, err)
		}
		if !strings.Contains(out+errOut, "Usage") {
			t.Errorf("tocsin %s --help printed no usage:\n%s%s", c, out, errOut)
		}
	}
}

// TestTerminalIsSafe: text from mail reaches the terminal with its
// control characters shown, never as escape sequences (OSC 52 would write
// the clipboard, others rewrite the screen).
func TestTerminalIsSafe(t *testing.T) {
	f := filepath.Join(t.TempDir(), "evil.eml")
	os.WriteFile(f, []byte("From: a@example.org\r\nSubject: =?utf-8?q?hi=1B]52;c;ZXZpbA=3D=3D=07?=\r\n\r\nbody \x1b[2J cleared\r\n"), 0o600)
	out, _, err := run("parse", f)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("escape sequences reach the terminal: %q", out)
	}
	if !strings.Contains(out, "␛]52;c;ZXZpbA==␇") || !strings.Contains(out, "␛[2J") {
		t.Errorf("control characters not shown: %q", out)
	}
}

// TestRosterWho: the sandbox's demo team hands off daily at 09:00 Berlin
// time; roster who names who holds every slot at the instant asked, and
// --unit narrows it to one unit.
func TestRosterWho(t *testing.T) {
	dir := t.TempDir()
	out, _, err := run("roster", "who", "--at", "2026-12-01T20:00:00Z", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"team primary           tara@sandbox.test", "team secondary         theo@sandbox.test", "unit payments contact  uma@sandbox.test", "cio"} {
		if !strings.Contains(out, want) {
			t.Errorf("roster who lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = run("roster", "who", "--at", "2026-12-02T08:00:00Z", "--data", dir, "--unit", "web")
	if strings.Contains(out, "team primary") || !strings.Contains(out, "unit web contact") || strings.Contains(out, "payments") {
		t.Errorf("roster who --unit web:\n%s", out)
	}
	out, _, _ = run("roster", "who", "--at", "2026-12-02T08:00:00Z", "--data", dir)
	if !strings.Contains(out, "team primary           theo@sandbox.test") {
		t.Errorf("after the 09:00 Berlin hand-off theo is primary:\n%s", out)
	}
	if _, _, err := run("roster", "who", "--unit", "nope", "--data", dir); err == nil || !strings.Contains(err.Error(), `no unit "nope"`) {
		t.Errorf("unknown unit: %v", err)
	}
}

// TestAuditVerify: `tocsin audit verify` passes on a store as written and
// anchored, names the entry when a row was edited behind the desk's back,
// and (issue 15 §3) names a cut tail against the signed anchor, a deleted
// log and a step marked done with no entry that did it.
func TestAuditVerify(t *testing.T) {
	for _, c := range []struct {
		tamper string
		want   string
	}{
		{"", ""},
		{`UPDATE audit SET actor = 'someone else' WHERE id = 2`, "audit entry 2 (%s, test) does not match: its content is not what was written"},
		{`DELETE FROM audit WHERE id >= 4; UPDATE audit_head SET last = (SELECT hash FROM audit WHERE id = 3)`, "truncated: the anchor of 2026-12-01T10:00:00Z counted 5 entries"},
		{`DELETE FROM audit; UPDATE audit_head SET last = ''`, "truncated: the anchor of 2026-12-01T10:00:00Z counted 5 entries"},
		{`UPDATE steps SET state = 'done'`, "step 1 (triage) of %s is done due=2026-12-01T10:00:00Z level=0 but the last audit entry that touched it made it notified due=2026-12-01T10:00:00Z level=0"},
	} {
		dir, inc := auditedStore(t)
		if c.tamper != "" {
			db, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, "tocsin.db"))
			if _, err := db.Exec(c.tamper); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}
		out, errs, err := run("audit", "verify", "--data", dir)
		code := exitStatus(err, io.Discard)
		if c.want == "" {
			if code != 0 || !strings.Contains(out, "intact: 5 entries") {
				t.Errorf("untouched: exit %d, %s%s", code, out, errs)
			}
			continue
		}
		if want := strings.ReplaceAll(c.want, "%s", inc.Ref); code != 1 || !strings.Contains(errs, want) {
			t.Errorf("after %q: exit %d, %q; want exit 1 and %q", c.tamper, code, errs, want)
		}
	}
	// Without its anchors a cut tail could not be seen: not intact.
	dir, _ := auditedStore(t)
	os.Remove(filepath.Join(dir, "audit-anchors"))
	_, errs, err := run("audit", "verify", "--data", dir)
	if code := exitStatus(err, io.Discard); code != 1 || !strings.Contains(errs, "no signed audit anchor") {
		t.Errorf("anchors removed: exit %d, %q; want exit 1, no signed audit anchor", code, errs)
	}
}

// auditedStore makes a data directory as the daemon leaves it: a store
// with an incident, a step and three entries, the audit key and a signed
// anchor.
func auditedStore(t *testing.T) (string, *store.Incident) {
	t.Helper()
	dir := t.TempDir()
	cfg := bot.SandboxConfig(dir, "127.0.0.1:0")
	ctx := context.Background()
	st, err := bot.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var inc *store.Incident
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		inc, err = tx.CreateIncident("SEC", store.Incident{Priority: "P2", Category: "vulnerability", Subject: "XSS", CreatedAt: now})
		if err != nil {
			return err
		}
		if _, err := tx.AddStep(inc.ID, store.StepRow{Key: "triage", Position: 1, Title: "Triage", Audience: "team", Needs: "done", DueAt: now, State: store.StepNotified}); err != nil {
			return err
		}
		for i := range 3 {
			if err := tx.Audit(inc.ID, now, "system", "test", fmt.Sprint("entry ", i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.BeginKeyedChain(ctx, now); err != nil {
		t.Fatal(err)
	}
	key, _, err := responders.LoadOrCreateKey(bot.KeyPath(cfg), cfg.Desk.Name, cfg.Desk.Address, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a.At = now
	if err := bot.AppendAnchor(bot.AnchorsPath(cfg), key, a); err != nil {
		t.Fatal(err)
	}
	return dir, inc
}

// TestAuditVerifyAgainstAMailedAnchor: the anchors file can be cut back
// with the log; the anchor a status report carried cannot: verify
// --anchor COUNT:SEAL names the truncation the file no longer shows.
func TestAuditVerifyAgainstAMailedAnchor(t *testing.T) {
	dir, inc := auditedStore(t)
	cfg := bot.SandboxConfig(dir, "127.0.0.1:0")
	ctx := context.Background()
	st, err := bot.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Tx(ctx, func(tx *store.Tx) error { return tx.Audit(inc.ID, time.Now(), "system", "test", "later") }); err != nil {
		t.Fatal(err)
	}
	mailed, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, "tocsin.db"))
	if _, err := db.Exec(`DELETE FROM audit WHERE id = (SELECT MAX(id) FROM audit); UPDATE audit_head SET last = (SELECT hash FROM audit ORDER BY id DESC LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, errs, err := run("audit", "verify", "--data", dir); err != nil {
		t.Fatalf("against the file's anchor: %v %s", err, errs)
	}
	_, errs, err := run("audit", "verify", "--anchor", fmt.Sprintf("%d:%s", mailed.Count, mailed.Head), "--data", dir)
	if code := exitStatus(err, io.Discard); code != 1 || !strings.Contains(errs, fmt.Sprintf("counted %d entries", mailed.Count)) {
		t.Errorf("against the mailed anchor: exit %d, %q; want exit 1, a truncation", code, errs)
	}
	if _, _, err := run("audit", "verify", "--anchor", "12:nothex", "--data", dir); err == nil {
		t.Error("a malformed --anchor was taken")
	}
}

// TestKeysSettleIsAudited pins issue 15 §8: `tocsin keys settle` writes
// an audit entry naming who settled what, sealed with the audit key (the
// log still verifies).
func TestKeysSettleIsAudited(t *testing.T) {
	dir, inc := auditedStore(t)
	cfg := bot.SandboxConfig(dir, "127.0.0.1:0")
	ctx := context.Background()
	st, err := bot.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		for _, fpr := range []string{"AAAA", "BBBB"} {
			if _, _, err := tx.OfferReporterKey("r@example.org", fpr, "key "+fpr, inc.ID, time.Now()); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, errs, err := run("keys", "settle", "r@example.org", "BBBB", "--data", dir); err != nil {
		t.Fatalf("keys settle: %v %s", err, errs)
	}
	if _, errs, err := run("audit", "verify", "--data", dir); err != nil {
		t.Errorf("audit verify after keys settle: %v %s", err, errs)
	}
	db, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, "tocsin.db"))
	defer db.Close()
	var incID int64
	var actor, detail string
	if err := db.QueryRow(`SELECT incident_id, actor, detail FROM audit WHERE action = ?`, store.ActionKeySettled).Scan(&incID, &actor, &detail); err != nil {
		t.Fatalf("no key-settled entry: %v", err)
	}
	var got store.KeySettled
	json.Unmarshal([]byte(detail), &got)
	if want := (store.KeySettled{Address: "r@example.org", Fingerprint: "BBBB", Replaced: "AAAA"}); got != want || incID != inc.ID || !strings.HasPrefix(actor, "cli") {
		t.Errorf("key-settled entry on incident %d by %q: %+v; want on %d by cli:USER: %+v", incID, actor, got, inc.ID, want)
	}
}

// TestAuditVerifyWritesNothing pins issue 15 §3: verify opens the store
// read-only: the database file is byte for byte and in time what it was,
// and an older schema is refused, not upgraded.
func TestAuditVerifyWritesNothing(t *testing.T) {
	dir, _ := auditedStore(t)
	db := filepath.Join(dir, "tocsin.db")
	before, _ := os.ReadFile(db)
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	os.Chtimes(db, old, old)
	if _, errs, err := run("audit", "verify", "--data", dir); err != nil {
		t.Fatalf("verify: %v %s", err, errs)
	}
	after, _ := os.ReadFile(db)
	fi, _ := os.Stat(db)
	if !bytes.Equal(before, after) || !fi.ModTime().Equal(old) {
		t.Errorf("verify changed the database (same bytes %v, mtime %v, want %v)", bytes.Equal(before, after), fi.ModTime(), old)
	}
	sqldb, _ := sql.Open("sqlite", "file:"+db)
	defer sqldb.Close()
	var v, w int
	sqldb.QueryRow(`SELECT MAX(version) FROM schema_version`).Scan(&v)
	sqldb.Exec(`DELETE FROM schema_version WHERE version = ?`, v)
	_, _, err := run("audit", "verify", "--data", dir)
	if !errors.Is(err, store.ErrSchemaOld) {
		t.Errorf("verify of an older schema: %v, want ErrSchemaOld", err)
	}
	sqldb.QueryRow(`SELECT MAX(version) FROM schema_version`).Scan(&w)
	if w != v-1 {
		t.Errorf("schema version %d after verify, want %d (left as it was)", w, v-1)
	}
}

// TestSlackManifest: the manifest lists every command the router takes,
// each posting to /slack/commands, and the buttons' interactivity URL.
func TestSlackManifest(t *testing.T) {
	out, _, err := run("chat", "manifest", "slack", "--data", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			SlashCommands []struct {
				Command, URL string
			} `json:"slash_commands"`
		} `json:"features"`
		Settings struct {
			Interactivity struct {
				RequestURL string `json:"request_url"`
			} `json:"interactivity"`
		} `json:"settings"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, c := range m.Features.SlashCommands {
		listed[c.Command] = true
		if !strings.HasSuffix(c.URL, "/slack/commands") {
			t.Errorf("%s posts to %s", c.Command, c.URL)
		}
	}
	for _, n := range chatops.Names {
		if !listed["/"+n.Name] {
			t.Errorf("/%s missing from the manifest", n.Name)
		}
		if _, err := chatops.Parse("/tocsin", n.Name+" SEC-2026-0001 P1 now +web text"); err != nil && !strings.Contains(err.Error(), "needs") {
			t.Errorf("/%s listed but not parsed: %v", n.Name, err)
		}
	}
	if !listed["/tocsin"] || !strings.HasSuffix(m.Settings.Interactivity.RequestURL, "/slack/interactions") {
		t.Errorf("manifest %s", out)
	}
}

// TestCheckWarnsOfOnCallGaps: a rotation with nobody on call in the next
// 14 days (it starts later, and has no stand-in) is a warning of check,
// not an error.
func TestCheckWarnsOfOnCallGaps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gaps.yaml")
	start := time.Now().UTC().AddDate(0, 0, 3).Format(time.DateOnly)
	os.WriteFile(path, []byte("desk: {address: security@example.com}\npeople: [{name: A, email: a@example.com}]\n"+
		"team: {members: [a@example.com], primary: primary}\nrotations:\n  - {name: primary, people: [a@example.com], handoff: daily, at: \"09:00\", start: "+start+"}\n"), 0o600)
	out, errs, err := run("check", "--config", path)
	if err != nil || !strings.Contains(out, "rotations primary: nobody on call from") || !strings.Contains(out, "ok, with") {
		t.Errorf("check: %v\n%s%s", err, out, errs)
	}
}

// hostile is issue 15's finding.
const hostile = printabletest.Hostile

// TestIncidentsOutputIsInert (issue 15, section 7): what others wrote — a
// subject, a reporter's name, an outbox recipient and a remote server's
// error, an audit entry's detail — reaches the terminal from incidents
// show and list only through package printable; the JSON keeps it, escaped,
// and an error a command returns is shown the same way.
func TestIncidentsOutputIsInert(t *testing.T) {
	dir := t.TempDir()
	st, err := bot.OpenStore(context.Background(), bot.SandboxConfig(dir, "127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	var inc *store.Incident
	err = st.Tx(context.Background(), func(tx *store.Tx) error {
		var err error
		if inc, err = tx.CreateIncident("SEC", store.Incident{Priority: "P2", Category: "vulnerability", Subject: hostile, ReporterName: hostile, Reporter: "eve@example.org", CreatedAt: time.Now()}); err != nil {
			return err
		}
		if _, err := tx.Enqueue(store.OutboxItem{IdemKey: "k1", IncidentID: inc.ID, Channel: "mail", Kind: "ack", Recipient: "eve" + hostile + "@example.org",
			State: "failed", LastError: "550 " + hostile, CreatedAt: time.Now()}); err != nil {
			return err
		}
		return tx.Audit(inc.ID, time.Now(), "eve"+hostile, "note", hostile)
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"incidents", "show", inc.Ref}, {"incidents", "list"}, {"incidents", "show", inc.Ref, "--json"}} {
		out, errs, err := run(append(args, "--data", dir)...)
		if err != nil || !strings.Contains(out, "pwned") {
			t.Fatalf("%v: %v %s\n%s", args, err, errs, out)
		}
		if bad := printable.Unsafe(out); bad != "" {
			t.Errorf("%v keeps %s:\n%s", args, bad, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "Bcc:") {
				t.Errorf("%v: an injected line %q", args, l)
			}
		}
	}
	out, _, _ := run("incidents", "show", inc.Ref, "--json", "--data", dir)
	var back struct {
		Subject string `json:"subject"`
		Outbox  []struct {
			Recipient string `json:"recipient"`
			LastError string `json:"last_error"`
		} `json:"outbox"`
	}
	if err := json.Unmarshal([]byte(out), &back); err != nil || back.Subject != hostile || len(back.Outbox) != 1 || back.Outbox[0].LastError != "550 "+hostile {
		t.Errorf("--json lost data: %v, %+v", err, back)
	}
	var errs bytes.Buffer
	if code := exitStatus(errors.New("smtp: "+hostile), &errs); code != 1 || !strings.Contains(errs.String(), "pwned") {
		t.Fatalf("exit %d, %q", code, errs.String())
	}
	if bad := printable.Unsafe(errs.String()); bad != "" {
		t.Errorf("an error shown as %q keeps %s", errs.String(), bad)
	}
}

// TestRosterOutputIsInert: a roster name and an override's reason, as a
// config may carry them, reach roster and roster who only as printable
// lines.
func TestRosterOutputIsInert(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tocsin.yaml")
	if _, _, err := run("init", "--config", path); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"TOCSIN_IMAP_PASSWORD", "TOCSIN_SMTP_PASSWORD", "TOCSIN_API_TOKEN", "TOCSIN_DESK_PASSWORD", "TOCSIN_NTFY_SECRET"} {
		t.Setenv(v, "x")
	}
	b, _ := os.ReadFile(path)
	yaml := strings.Replace(string(b), "name: Mia Responder", `name: "Mia\e]0;pwned\a \u202eRes\x9bponder\r\nBcc: x"`, 1)
	yaml = strings.Replace(yaml, "reason: swap", `reason: "swap\e[2J\u202e\r\nBcc: y"`, 1)
	os.WriteFile(path, []byte(yaml), 0o600)
	for _, args := range [][]string{{"roster"}, {"roster", "who", "--at", "2026-12-25T12:00:00Z"}} {
		out, errs, err := run(append(args, "--config", path)...)
		if err != nil || !strings.Contains(out, "pwned") {
			t.Fatalf("%v: %v %s\n%s", args, err, errs, out)
		}
		if bad := printable.Unsafe(out); bad != "" {
			t.Errorf("%v keeps %s:\n%s", args, bad, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "Bcc:") {
				t.Errorf("%v: an injected line %q", args, l)
			}
		}
	}
}

// TestAuditVerifyOutputIsInert: whoever edits the database to plant an
// escape sequence in an entry does not reach the terminal of the person
// who runs audit verify: the break is named in printable text.
func TestAuditVerifyOutputIsInert(t *testing.T) {
	dir, _ := auditedStore(t)
	db, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, "tocsin.db"))
	if _, err := db.Exec(`UPDATE audit SET action = ? WHERE id = 2`, hostile); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, errs, err := run("audit", "verify", "--data", dir)
	if code := exitStatus(err, io.Discard); code != 1 || !strings.Contains(errs, "pwned") {
		t.Fatalf("tampered: exit %d, %q %q (%v)", code, out, errs, err)
	}
	if bad := printable.Unsafe(out + errs); bad != "" {
		t.Errorf("audit verify keeps %s: %q", bad, errs)
	}
}

// TestChatTryOutputIsInert: chat try prints the answer of whatever
// listens at the sandbox's address; an answer carrying escape sequences
// and bidi overrides reaches the terminal inert.
func TestChatTryOutputIsInert(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"text": "`+hostile+`"}`)
	}))
	defer srv.Close()
	data := t.TempDir()
	info, _ := json.Marshal(sandbox.Info{HTTPAddr: strings.TrimPrefix(srv.URL, "http://"), SlackSigningSecret: "s",
		Responders: []sandbox.Responder{{Email: "tara@sandbox.test", SlackUserID: "U0TARA"}}})
	os.WriteFile(filepath.Join(data, "sandbox.json"), info, 0o600)
	out, errs, err := run("chat", "try", "slack", "--as", "tara", "/status SEC-2026-0001", "--data", data)
	if err != nil || !strings.Contains(out, "pwned") {
		t.Fatalf("chat try: %v %s\n%s", err, errs, out)
	}
	if bad := printable.Unsafe(out); bad != "" {
		t.Errorf("chat try keeps %s: %q", bad, out)
	}
}

// TestRosterWhoUsesTheSandboxClock pins issue 16: without --at, roster who
// asks at the sandbox's moved clock (DATA/clock.json), as the daemon does.
func TestRosterWhoUsesTheSandboxClock(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "clock.json"), []byte(`{"offset":"720h"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := time.Now().Add(720 * time.Hour)
	out, _, err := run("roster", "who", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(out, "\n")
	got, err := time.Parse("2006-01-02 15:04 UTC", strings.TrimPrefix(line, "on call at "))
	if err != nil {
		t.Fatalf("first line %q: %v", line, err)
	}
	if d := got.Sub(want); d < -2*time.Minute || d > 2*time.Minute {
		t.Errorf("roster who asked at %v, want the sandbox clock %v", got, want.UTC())
	}
}

// TestIncidentsListSaysWhenItStops (issue 18): with more incidents than
// a page, `incidents list` shows the newest --limit and says "showing N
// of M" (stderr, so --json stays JSON); --all lists them all; --since
// keeps the newer; a bad --limit is an error.
func TestIncidentsListSaysWhenItStops(t *testing.T) {
	dir := t.TempDir()
	st, err := bot.OpenStore(context.Background(), bot.SandboxConfig(dir, "127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	if err := st.Tx(context.Background(), func(tx *store.Tx) error {
		for i := range 7 {
			if _, err := tx.CreateIncident("SEC", store.Incident{Priority: "P3", Category: "other", Subject: fmt.Sprint("report ", i), Reporter: "r@example.org", CreatedAt: t0.AddDate(0, 0, i)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	count := func(args ...string) (int, string) {
		t.Helper()
		out, errs, err := run(append([]string{"incidents", "list", "--json", "--data", dir}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v %s", args, err, errs)
		}
		var incs []map[string]any
		if err := json.Unmarshal([]byte(out), &incs); err != nil {
			t.Fatalf("%v: not JSON: %v\n%s", args, err, out)
		}
		return len(incs), errs
	}
	if n, errs := count("--limit", "3"); n != 3 || !strings.Contains(errs, "showing 3 of 7 incidents") {
		t.Errorf("--limit 3: %d listed, stderr %q", n, errs)
	}
	if n, errs := count("--all"); n != 7 || errs != "" {
		t.Errorf("--all: %d listed, stderr %q", n, errs)
	}
	if n, errs := count("--since", "2026-11-05"); n != 3 || errs != "" {
		t.Errorf("--since: %d listed, stderr %q", n, errs)
	}
	if _, _, err := run("incidents", "list", "--limit", "0", "--data", dir); err == nil {
		t.Error("--limit 0 was taken")
	}
}

// TestCheckSeesWhatWouldPageNobody (issue 18): the starter with its
// example roster removed still checks, but check names what would page
// nobody (the team's steps, the E+24h report without a CIO) and every
// value still as the starter wrote it, each with its line.
func TestCheckSeesWhatWouldPageNobody(t *testing.T) {
	for _, v := range []string{"TOCSIN_IMAP_PASSWORD", "TOCSIN_SMTP_PASSWORD", "TOCSIN_API_TOKEN", "TOCSIN_DESK_PASSWORD", "TOCSIN_NTFY_SECRET"} {
		t.Setenv(v, "x")
	}
	path := filepath.Join(t.TempDir(), "tocsin.yaml")
	if _, _, err := run("init", "--config", path); err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	b, _ := os.ReadFile(path)
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	var kept []*yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "people", "team", "rotations", "overrides", "units", "officers", "cio":
		default:
			kept = append(kept, root.Content[i], root.Content[i+1])
		}
	}
	root.Content = kept
	b, _ = yaml.Marshal(&doc)
	os.WriteFile(path, b, 0o600)
	lineOf := func(prefix string) int {
		for i, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, prefix) {
				return i + 1
			}
		}
		t.Fatalf("no line %q", prefix)
		return 0
	}
	out, errs, err := run("check", "--config", path)
	if err != nil {
		t.Fatalf("check without the roster: %v\n%s", err, errs)
	}
	for _, want := range []string{
		path + ":0: playbooks: warning: the shipped playbook significant-event, step team-alerted would tell nobody",
		path + ":0: playbooks: warning: the shipped playbook significant-event, step status-report would tell nobody: the roster names no cio",
		fmt.Sprintf("%s:%d: desk.name: warning: \"Example Security Team\" is still the starter's example", path, lineOf("    name: Example Security Team")),
		fmt.Sprintf("%s:%d: imap.host: warning: \"imap.example.com\" is still the starter's example", path, lineOf("    host: imap.example.com")),
		fmt.Sprintf("%s:%d: data_dir: warning: \"/var/lib/tocsin\" is still the starter's example", path, lineOf("data_dir:")),
		": ok, with ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check lacks %q:\n%s", want, out)
		}
	}
}

package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestProblemsNameFileLineAndField(t *testing.T) {
	in := `desk:
  adress: security@example.com
imap:
  host: imap.example.com
  port: abc
  tls: ssl
  username: sec
  password: x
smtp:
  host: smtp.example.com
  password: y
replies:
  window: -5m
`
	_, err := Parse("tocsin.yaml", []byte(in))
	if err == nil {
		t.Fatal("no error for a broken config")
	}
	got := err.Error()
	for _, want := range []string{
		`tocsin.yaml:1: desk.address: required`,
		`tocsin.yaml:2: desk.adress: unknown field (did you mean "address"?)`,
		"tocsin.yaml:5: imap.port: cannot unmarshal text `abc` into int",
		`tocsin.yaml:6: imap.tls: "ssl" is not one of tls, starttls, none`,
		`tocsin.yaml:13: replies.window: must not be negative`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "imap.port: 0 is not a TCP port") {
		t.Errorf("imap.port reported twice:\n%s", got)
	}
	if n := strings.Count(got, "\n") + 1; n != 5 {
		t.Errorf("%d problems, want 5:\n%s", n, got)
	}
}

func TestSyntaxErrorHasLine(t *testing.T) {
	_, err := Parse("c.yaml", []byte("desk:\n  address: a@b.c\n   name: x\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "c.yaml:3: ") {
		t.Errorf("err = %v, want it to start with c.yaml:3:", err)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("desk: {address: security@example.com}\nimap: {host: h, username: u, password: p}\nsmtp: {host: s, auth: none}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IMAP.Port != 993 || cfg.IMAP.TLS != TLSImplicit || cfg.IMAP.Processed.Action != "flag" || !*cfg.IMAP.IDLE {
		t.Errorf("imap defaults: %+v", cfg.IMAP)
	}
	if cfg.SMTP.Port != 587 || cfg.SMTP.TLS != TLSStartTLS {
		t.Errorf("smtp defaults: %+v", cfg.SMTP)
	}
	if cfg.Desk.IncidentPrefix != "SEC" || cfg.HTTP.Listen != "127.0.0.1:8080" || cfg.Store.Driver != "sqlite" {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestSecrets(t *testing.T) {
	t.Setenv("TOCSIN_TEST_PW", "s3cret")
	cfg, err := Parse("c.yaml", []byte("desk: {address: security@example.com}\nimap: {host: h, username: u, password_env: TOCSIN_TEST_PW}\nsmtp: {host: s, auth: none}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pw, _ := cfg.IMAP.Resolve(); pw != "s3cret" {
		t.Errorf("password_env resolved to %q", pw)
	}
	_, err = Parse("c.yaml", []byte("desk: {address: security@example.com}\nimap:\n  host: h\n  username: u\n  password: a\n  password_file: /nonexistent\nsmtp: {host: s, auth: none}\n"))
	if err == nil || !strings.Contains(err.Error(), "c.yaml:5: imap.password: set only one of") {
		t.Errorf("two secrets: err = %v", err)
	}
	_, err = Parse("c.yaml", []byte("desk: {address: security@example.com}\nimap:\n  host: h\n  username: u\n  oauth2: {mechanism: xoauth2}\nsmtp: {host: s, auth: none}\n"))
	if err == nil || !strings.Contains(err.Error(), "c.yaml:5: imap.oauth2: set exactly one of token_file, token_command") {
		t.Errorf("oauth2 without source: err = %v", err)
	}
}

// TestStarterIsComplete keeps `tocsin init` honest: the starter config is
// valid once its secrets exist, and documents every field of Config.
func TestStarterIsComplete(t *testing.T) {
	for _, v := range []string{"TOCSIN_IMAP_PASSWORD", "TOCSIN_SMTP_PASSWORD", "TOCSIN_API_TOKEN", "TOCSIN_DESK_PASSWORD", "TOCSIN_NTFY_SECRET"} {
		t.Setenv(v, "x")
	}
	if _, err := Parse("starter.yaml", []byte(Starter)); err != nil {
		t.Fatalf("starter config does not validate:\n%v", err)
	}
	var missing []string
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, prefix string) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || ty.PkgPath() != "tocsin/config" {
			return
		}
		for name, ft := range yamlFields(ty) {
			// Optional blocks (oauth2) appear commented out.
			if !strings.Contains(Starter, name+":") {
				missing = append(missing, prefix+name)
			}
			walk(ft, prefix+name+".")
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	if len(missing) > 0 {
		t.Errorf("starter config does not mention: %v", missing)
	}
}

func TestPriorityPolicyProblems(t *testing.T) {
	in := `desk: {address: security@example.com}
priorities:
  rules:
    - name: bad
      priority: P0
      categories: [vulnerabilty]
      sender_class: [cert]
`
	_, err := Parse("p.yaml", []byte(in))
	if err == nil {
		t.Fatal("accepted a broken rule")
	}
	for _, want := range []string{
		`p.yaml:5: priorities.rules.0.priority: "P0" is not one of P1, P2, P3, P4`,
		`p.yaml:6: priorities.rules.0.categories: "vulnerabilty" is not a report category`,
		`p.yaml:7: priorities.rules.0.sender_class: no sender class "cert" under priorities.senders`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	cfg, err := Parse("p.yaml", []byte("desk: {address: security@example.com}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.PriorityOf("P2").Respond; got != 4*time.Hour {
		t.Errorf("default P2 respond = %v", got)
	}
	if got := cfg.Trust.OwnDomains; len(got) != 1 || got[0] != "example.com" {
		t.Errorf("default own domains %v", got)
	}
}

func TestPeopleAndMailProblems(t *testing.T) {
	in := `desk: {address: security@example.com}
pgp: {key_type: dsa}
replies: {encrypt: sometimes}
people:
  - name: Dana
    email: dana@example.com
    time_zone: Europe/Berlinn
    variant: managerial
    encrypt: allways
  - name: Dana again
    email: DANA@example.com
    language: german
slack:
  channel: C1
`
	_, err := Parse("p.yaml", []byte(in))
	if err == nil {
		t.Fatal("accepted a broken config")
	}
	for _, want := range []string{
		`p.yaml:2: pgp.key_type: "dsa" is not one of ed25519, rsa3072, rsa4096`,
		`p.yaml:3: replies.encrypt: "sometimes" is not one of always, when-key-known, never`,
		`p.yaml:7: people.0.time_zone: "Europe/Berlinn" is not a time zone name`,
		`p.yaml:8: people.0.variant: "managerial" is not one of technical, non-technical`,
		`p.yaml:9: people.0.encrypt: "allways" is not one of always, when-key-known, never`,
		`p.yaml:11: people.1.email: DANA@example.com is listed twice`,
		`p.yaml:12: people.1.language: "german" is not an ISO 639-1 code`,
		`p.yaml:13: slack.token.password_file: required`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	cfg, err := Parse("p.yaml", []byte("desk: {address: security@example.com}\nreplies: {encrypt: never}\npeople: [{email: cio@example.com, time_zone: Asia/Tokyo}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := cfg.PersonByEmail("CIO@example.com")
	if !ok || p.Encrypt != "never" || p.Language != "en" || p.Variant != "technical" {
		t.Errorf("person defaults: %+v (found %v)", p, ok)
	}
}

func TestRegions(t *testing.T) {
	in := `desk: {address: security@example.com}
regions:
  - {name: EMEA, domains: [de, example.co.uk], languages: [fr], security_officer: so@example.com}
  - {name: APAC, domains: [jp], languages: [ja], account_manager: am@example.com, default: true}
  - {name: Germany, domains: [bund.de], stand_in: cert@example.com}
`
	cfg, err := Parse("r.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ addr, lang, want string }{
		{"a@mail.example.de", "", "EMEA"},
		{"b@bsi.bund.de", "de", "Germany"}, // the longest domain wins
		{"c@example.co.uk", "", "EMEA"},
		{"d@example.com", "fr", "EMEA"}, // by language
		{"e@example.com", "", "APAC"},   // the default
	} {
		if r, ok := cfg.RegionFor(tc.addr, tc.lang); !ok || r.Name != tc.want {
			t.Errorf("RegionFor(%s, %q) = %s, want %s", tc.addr, tc.lang, r.Name, tc.want)
		}
	}
	_, err = Parse("r.yaml", []byte(`desk: {address: security@example.com}
regions:
  - {domains: [de], security_officer: "Dana <d@example.com>"}
  - {name: X, default: true, stand_in: x@example.com}
  - {name: Y, default: true}
`))
	for _, want := range []string{
		`r.yaml:3: regions.0.name: required`,
		`r.yaml:3: regions.0.security_officer: "Dana <d@example.com>" is not a bare e-mail address`,
		`r.yaml:5: regions.2: name a security_officer, an account_manager or a stand_in`,
		`regions: 2 regions are the default; at most one may be`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestSecretWarnings: check warns about secrets written inline, secret
// files others can read and short secrets, each at its line; and refuses
// empty secrets.
func TestSecretWarnings(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose")
	os.WriteFile(loose, []byte("a-long-enough-secret-value-0001\n"), 0o644)
	tight := filepath.Join(dir, "tight")
	os.WriteFile(tight, []byte("a-long-enough-secret-value-0002\n"), 0o600)
	t.Setenv("TOCSIN_TEST_SHORT", "short")
	cfg, err := Parse("t.yaml", []byte(`desk: {address: security@example.com}
http:
  listen: 127.0.0.1:8080
  api_tokens:
    - {integration: a, scopes: [read], password: inline-token-long-enough-0003}
    - {integration: b, scopes: [read], password_file: `+loose+`}
    - {integration: c, scopes: [read], password_file: `+tight+`}
    - {integration: d, scopes: [read], password_env: TOCSIN_TEST_SHORT}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, w := range cfg.Warnings {
		got[w.Field] = w.Line
	}
	want := map[string]int{"http.api_tokens.0.password": 5, "http.api_tokens.1.password_file": 6, "http.api_tokens.3.password_env": 8}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings %+v, want fields and lines %v", cfg.Warnings, want)
	}

	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	t.Setenv("TOCSIN_TEST_EMPTY", "")
	_, err = Parse("t.yaml", []byte(`desk: {address: security@example.com}
http:
  api_tokens:
    - password_file: `+empty+`
    - password_env: TOCSIN_TEST_EMPTY
`))
	if err == nil || !strings.Contains(err.Error(), "t.yaml:4: http.api_tokens.0.password_file:") || !strings.Contains(err.Error(), "t.yaml:5: http.api_tokens.1.password_env:") {
		t.Errorf("empty secrets: %v", err)
	}
}

// TestConfigReadIsBounded: a device or a huge file is refused quickly,
// not read into memory.
func TestConfigReadIsBounded(t *testing.T) {
	if _, err := Load("/dev/zero"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load(/dev/zero) = %v", err)
	}
}

// TestTLSNoneOnlyOnLoopback: no TLS means the login and every report in
// clear: allowed to this machine only.
func TestTLSNoneOnlyOnLoopback(t *testing.T) {
	for host, ok := range map[string]bool{"127.0.0.1": true, "::1": true, "localhost": true, "mail.example.com": false, "192.0.2.10": false} {
		_, err := Parse("t.yaml", []byte("desk: {address: security@example.com}\nimap: {host: '"+host+"', port: 143, tls: none, username: u, password: a-long-enough-password-1}\nsmtp: {host: 127.0.0.1, port: 25, tls: none}\n"))
		if got := err == nil; got != ok {
			t.Errorf("tls none to %s: err %v", host, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "imap.tls: none is allowed only")) {
			t.Errorf("tls none to %s: %v", host, err)
		}
	}
}

// TestModeWarnings: check warns when the data directory or the desk key
// can be read by others.
func TestModeWarnings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(dir, 0o755)
	os.Chmod(dir, 0o755)
	key := filepath.Join(t.TempDir(), "desk.asc")
	os.WriteFile(key, []byte("x"), 0o644)
	cfg, err := Parse("t.yaml", []byte("desk: {address: security@example.com}\ndata_dir: "+dir+"\npgp: {key_file: "+key+"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, w := range cfg.Warnings {
		got[w.Field] = strings.Contains(w.Why, "group or others")
	}
	if !got["data_dir"] || !got["pgp.key_file"] {
		t.Errorf("warnings %+v; want data_dir and pgp.key_file", cfg.Warnings)
	}
}

// TestContactMistakes: the external contacts directory names each
// mistake by file, line and field.
func TestContactMistakes(t *testing.T) {
	in := `desk: {address: security@example.com}
people: [{name: Dana, email: dana@example.com}]
contacts:
  - id: cert-bund
    name: CERT-Bund
    kind: cert
    email: certbund@bsi.example
  - id: cert-bund
    name: ""
    kind: police
    email: dana@example.com
  - id: Press Desk
    name: Press
    kind: media
    email: not an address
    key_file: /no/such/key.asc
`
	_, err := Parse("c.yaml", []byte(in))
	if err == nil {
		t.Fatal("accepted a broken contacts directory")
	}
	for _, want := range []string{
		`c.yaml:8: contacts.1.id: cert-bund is listed twice`,
		`c.yaml:9: contacts.1.name: required`,
		`c.yaml:10: contacts.1.kind: "police" is not one of cert, csirt, first, isp, law-enforcement`,
		`c.yaml:11: contacts.1.email: dana@example.com is on the roster`,
		`c.yaml:12: contacts.2.id: "Press Desk" must be lower-case letters`,
		`c.yaml:15: contacts.2.email: "not an address" is not a bare e-mail address`,
		`c.yaml:16: contacts.2.key_file:`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	cfg, err := Parse("c.yaml", []byte("desk: {address: security@example.com}\ncontacts: [{id: isp, name: ISP, kind: isp, email: abuse@isp.example, status_report: true}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := cfg.ContactByID("ISP"); !ok || k.Language != "en" || k.Encrypt(cfg) != EncryptWhenKeyKnown || len(cfg.StatusReportContacts()) != 1 {
		t.Errorf("contact defaults: %+v (found %v)", k, ok)
	}
}

// TestAuditKeyFile: pgp.audit_key_file is checked by tocsin check: a key
// shorter than 32 bytes is a problem, one others can read a warning, a
// missing one is fine (made on first start).
func TestAuditKeyFile(t *testing.T) {
	dir := t.TempDir()
	short, open, good := filepath.Join(dir, "short.key"), filepath.Join(dir, "open.key"), filepath.Join(dir, "good.key")
	os.WriteFile(short, []byte("0123456789\n"), 0o600)
	os.WriteFile(open, []byte(strings.Repeat("ab", 32)), 0o644)
	os.Chmod(open, 0o644)
	os.WriteFile(good, []byte(strings.Repeat("ab", 32)), 0o600)
	for _, c := range []struct {
		file          string
		problem, warn bool
	}{{short, true, false}, {open, false, true}, {good, false, false}, {filepath.Join(dir, "missing.key"), false, false}} {
		cfg, err := Parse("t.yaml", []byte("desk: {address: security@example.com}\npgp: {audit_key_file: "+c.file+"}\n"))
		problem := err != nil && strings.Contains(err.Error(), "pgp.audit_key_file")
		if err != nil && !problem {
			t.Fatal(err)
		}
		warn := false
		if cfg != nil {
			for _, w := range cfg.Warnings {
				warn = warn || w.Field == "pgp.audit_key_file"
			}
		}
		if problem != c.problem || warn != c.warn {
			t.Errorf("%s: problem %v, warning %v; want %v, %v", filepath.Base(c.file), problem, warn, c.problem, c.warn)
		}
	}
}

// TestSMTPAuthIsAStatedChoice (issue 18): a relay without a login is
// written as auth: none; without it, a missing password says how; none
// off this machine is allowed with a warning.
func TestSMTPAuthIsAStatedChoice(t *testing.T) {
	head := "desk: {address: security@example.com}\n"
	for _, c := range []struct {
		smtp, errField, errHas, warnField string
	}{
		{"smtp: {host: relay.example.net}", "smtp.auth", "write auth: none", ""},
		{"smtp: {host: relay.example.net, username: desk}", "smtp.password_file", "remove username and write auth: none", ""},
		{"smtp: {host: relay.example.net, auth: none, username: desk}", "smtp.auth", "none sends no login", ""},
		{"smtp: {host: relay.example.net, auth: nothing}", "smtp.auth", "is not none", ""},
		{"smtp: {host: relay.example.net, auth: none}", "", "", "smtp.auth"},
		{"smtp: {host: 127.0.0.1, tls: none, auth: none}", "", "", ""},
		{"smtp: {host: 127.0.0.1, tls: none}", "", "", ""},
	} {
		cfg, err := Parse("c.yaml", []byte(head+c.smtp+"\n"))
		if c.errField != "" {
			var probs *Problems
			if !errors.As(err, &probs) || len(probs.List) != 1 || probs.List[0].Field != c.errField || probs.List[0].Line != 2 || !strings.Contains(probs.List[0].Why, c.errHas) {
				t.Errorf("%s: err %v, want %s on line 2 saying %q", c.smtp, err, c.errField, c.errHas)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.smtp, err)
			continue
		}
		var warned []string
		for _, w := range cfg.Warnings {
			warned = append(warned, w.Field)
		}
		if want := c.warnField; (want == "") != (len(warned) == 0) || want != "" && warned[0] != want {
			t.Errorf("%s: warnings %v, want %q", c.smtp, warned, want)
		}
	}
}

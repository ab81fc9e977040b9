package parsers

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden JSON files in testdata/")

// TestGolden parses every message in testdata/ and compares the report
// with NAME.json. Run `go test ./parsers -update` after a deliberate change
// and review the diff.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.eml")
	if len(files) == 0 {
		t.Fatal("no testdata/*.eml")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Parse(raw, DefaultLimits)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, _ := json.MarshalIndent(rep, "", "  ")
			got = append(got, '\n')
			golden := strings.TrimSuffix(f, ".eml") + ".json"
			if *update {
				os.WriteFile(golden, got, 0o644)
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./parsers -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("report differs from %s:\n got: %s\nwant: %s", golden, got, want)
			}
		})
	}
}

// TestWhatUsersSee states, message by message, the facts the desk relies
// on; the golden files pin everything else.
func TestWhatUsersSee(t *testing.T) {
	tests := []struct {
		file  string
		check func(*Report) error
	}{
		{"plain-utf8.eml", func(r *Report) error {
			return all(eq("from", r.From, "ana@researcher.example"), eq("name", r.FromName, "Ana García"),
				eq("category", string(r.Category), "vulnerability"), eq("cve", strings.Join(r.CVEs, ","), "CVE-2026-40123"),
				eq("auto", fmt.Sprint(r.AutoSubmitted), "false"), eq("ipv4", strings.Join(r.Indicators.IPv4, ","), "203.0.113.7"),
				eq("lang", r.Language, "en"))
		}},
		{"multipart-attachment.eml", func(r *Report) error {
			if len(r.Attachments) != 1 {
				return fmt.Errorf("attachments = %d, want 1", len(r.Attachments))
			}
			a := r.Attachments[0]
			return all(eq("name", a.Name, "invoice.pdf"), eq("type", a.ContentType, "application/pdf"), eq("size", fmt.Sprint(a.Size), "2057"),
				eq("kept", fmt.Sprint(len(a.Content)), "2057"), eq("category", string(r.Category), "incident"),
				eq("url (refanged)", strings.Join(r.Indicators.URLs, ","), "http://login-example.com/verify"),
				eq("hash", strings.Join(r.Indicators.Hashes, ","), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
		}},
		{"latin1-encoded-word.eml", func(r *Report) error {
			return all(eq("name", r.FromName, "Jürgen Müller"), eq("subject", r.Subject, "Sicherheitslücke im Kundenportal"),
				eq("lang", r.Language, "de"), contains("text", r.Text, "Sicherheitslücke in Ihrem"))
		}},
		{"html-only.eml", func(r *Report) error {
			return all(contains("text", r.Text, "We see unauthorized access attempts from 192.0.2.44"), notContains("text", r.Text, "alert(1)"),
				notContains("text", r.Text, "<b>"), contains("text", r.Text, "Details & logs"))
		}},
		{"out-of-office.eml", func(r *Report) error {
			return all(eq("auto", fmt.Sprint(r.AutoSubmitted), "true"), eq("category", string(r.Category), "auto-reply"),
				eq("tag", r.Thread.IncidentTag, "SEC-2026-0042"))
		}},
		{"list-mail.eml", func(r *Report) error { return eq("auto", fmt.Sprint(r.AutoSubmitted), "true") }},
		{"reply-tagged.eml", func(r *Report) error {
			return all(eq("tag", r.Thread.IncidentTag, "SEC-2026-0042"), eq("in-reply-to", r.Thread.InReplyTo, "sec-2026-0042.abc@example.com"),
				eq("refs", strings.Join(r.Thread.References, " "), "r1@researcher.example sec-2026-0042.abc@example.com"))
		}},
		{"broken-base64.eml", func(r *Report) error { return nonEmpty("warnings", r.Warnings) }},
		{"unknown-charset.eml", func(r *Report) error {
			return all(nonEmpty("warnings", r.Warnings), contains("text", r.Text, "Plain words"))
		}},
		{"no-from.eml", func(r *Report) error {
			return all(eq("from", r.From, ""), contains("warning", strings.Join(r.Warnings, ";"), "no reporter address"))
		}},
		{"missing-boundary.eml", func(r *Report) error { return contains("text", r.Text, "first part arrived") }},
		{"iso-2022-jp.eml", func(r *Report) error {
			return all(eq("subject", r.Subject, "不正アクセスの報告"), eq("lang", r.Language, "ja"), contains("text", r.Text, "不正アクセスを検知"))
		}},
		{"gb18030.eml", func(r *Report) error {
			return all(eq("subject", r.Subject, "安全漏洞报告"), eq("lang", r.Language, "zh"))
		}},
		{"x-arf.eml", func(r *Report) error {
			if r.Feedback == nil {
				return fmt.Errorf("no feedback read")
			}
			return all(eq("format", r.Feedback.Format, "x-arf"), eq("type", r.Feedback.Type, "login-attack"), eq("source", r.Feedback.SourceIP, "198.51.100.77"),
				eq("category", string(r.Category), "abuse"), eq("auto", fmt.Sprint(r.AutoSubmitted), "true"))
		}},
		{"forwarded-phishing.eml", func(r *Report) error {
			if len(r.Forwarded) != 1 {
				return fmt.Errorf("forwarded = %+v, want one", r.Forwarded)
			}
			return all(eq("fwd from", r.Forwarded[0].From, "service@paypa1-secure.example"), eq("fwd subject", r.Forwarded[0].Subject, "Your account is locked"),
				eq("url", strings.Join(r.Indicators.URLs, ","), "https://paypa1-secure.example/login"),
				eq("auto (the forwarder is a person)", fmt.Sprint(r.AutoSubmitted), "false"), eq("category", string(r.Category), "incident"),
				notContains("text", r.Text, "unlock your account"))
		}},
		{"iodef.eml", func(r *Report) error {
			if r.IODEF == nil {
				return fmt.Errorf("no IODEF read")
			}
			d := r.IODEF
			return all(eq("id", d.IncidentID, "CERT-EX-4711"), eq("purpose", d.Purpose, "reporting"), eq("addr", strings.Join(d.Addresses, ","), "203.0.113.99"),
				eq("contact", strings.Join(d.Contacts, ","), "cert@cert.example"), eq("impact", strings.Join(d.Impacts, ","), "takeover-system"),
				eq("desc", strings.Join(d.Description, ","), "Host is part of a botnet and scans for SSH"),
				eq("ipv4", strings.Join(r.Indicators.IPv4, ","), "203.0.113.99"))
		}},
		{"windows-1252.eml", func(r *Report) error {
			return all(eq("subject", r.Subject, "Faille de sécurité – urgent"), eq("lang", r.Language, "fr"), contains("text", r.Text, "trouvé une faille"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Parse(raw, DefaultLimits)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := tt.check(r); err != nil {
				t.Error(err)
			}
		})
	}
}

// samplesDir is ../shared/samples beside the repository, or
// $TOCSIN_SAMPLES (make mutate sets it: the mutation tool runs the tests
// in a copy of the module, where the relative path leads nowhere).
func samplesDir() string {
	if d := os.Getenv("TOCSIN_SAMPLES"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "samples")
}

// samples returns the real mail of one public test suite under
// ../shared/samples. It skips on a machine without shared/, but under CI,
// where shared/ is always laid beside the repository, it fails: a test
// that silently checks nothing is worse than none.
func samples(t *testing.T, suite string) []string {
	t.Helper()
	dir := filepath.Join(samplesDir(), suite)
	var files []string
	all, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range all {
		if b := filepath.Base(f); !strings.Contains(b, "LICENSE") && (strings.HasSuffix(b, ".eml") || strings.HasSuffix(b, ".msg")) {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("no samples in %s: CI must have ../shared/samples", dir)
		}
		t.Skipf("no samples in %s (present in CI and on development machines)", dir)
	}
	return files
}

// TestRealMail runs every message of the public test suites in
// ../shared/samples through Parse with the expectations their README
// states: bounces, feedback reports and receipts are never answered,
// ordinary mail stays answerable, hard MIME is read best effort (a report,
// never a refusal), and every message that names a sender has it read.
func TestRealMail(t *testing.T) {
	for _, suite := range []string{"sisimai", "flanker", "mime4j", "mailparser"} {
		for _, f := range samples(t, suite) {
			name := filepath.Base(f)
			t.Run(suite+"/"+name, func(t *testing.T) {
				raw, _ := os.ReadFile(f)
				r, err := Parse(raw, DefaultLimits)
				if err != nil {
					t.Fatalf("Parse: %v (a mail client would show this message)", err)
				}
				never := func(cat Category) {
					t.Helper()
					if r.Category != cat || !r.AutoSubmitted {
						t.Errorf("category %s auto %v (%s); want %s, never answered", r.Category, r.AutoSubmitted, r.AutoReason, cat)
					}
				}
				switch {
				case strings.HasPrefix(name, "arf-"), strings.HasPrefix(name, "complaints-"):
					never(CategoryAbuse)
				case name == "lhost-googlegroups-01.eml":
					if !r.AutoSubmitted {
						t.Errorf("mailing-list bounce not marked auto-submitted (category %s)", r.Category)
					}
				case strings.HasPrefix(name, "lhost-"), strings.HasPrefix(name, "rfc3464-"), strings.HasPrefix(name, "bounce-"), name == "delivery-status.eml":
					never(CategoryBounce)
				case name == "disposition-notification.eml":
					never(CategoryAutoReply)
				case strings.HasPrefix(name, "is-not-bounce"):
					if r.Category == CategoryBounce || r.AutoSubmitted {
						t.Errorf("ordinary mail taken for %s / auto-submitted (%s)", r.Category, r.AutoReason)
					}
				}
				if hasSender(raw) && r.From == "" {
					t.Errorf("the message names a sender but none was read (warnings %q)", r.Warnings)
				}
			})
		}
	}
}

// hasSender reports whether a message's own header (not a part's) has a
// From, Sender or Return-Path with an address in it.
func hasSender(raw []byte) bool {
	head, _, _ := bytes.Cut(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), []byte("\n\n"))
	for _, l := range strings.Split(string(head), "\n") {
		k, v, ok := strings.Cut(l, ":")
		k = strings.ToLower(strings.TrimSpace(k))
		if ok && (k == "from" || k == "sender" || k == "return-path") && addrInText.MatchString(v) {
			return true
		}
	}
	return false
}

// TestAttachmentsListed: each attachment a mail client would list in
// these malformed messages is listed (mime4j: doubled boundaries, a
// boundary that is the prefix of another, an unquoted encoded-word file
// name in KOI8-R).
func TestAttachmentsListed(t *testing.T) {
	files := samples(t, "mime4j")
	want := map[string][]string{
		"mimetools-testmsgs-double-bound.msg":                      {"3d-eye.gif"},
		"mimetools-testmsgs-2002_06_12_doublebound.msg":            {"The Mutt E-Mail Client.html"},
		"testmsgs-boundary-name-clash.msg":                         {"Daily_Stats-2022-05-12-0700.pdf"},
		"mimetools-testmsgs-russian.msg":                           {"Список.doc"},
		"mimetools-testmsgs-attachment-filename-encoding-UTF8.msg": {"attachment.äöü"},
	}
	for _, f := range files {
		names, ok := want[filepath.Base(f)]
		if !ok {
			continue
		}
		raw, _ := os.ReadFile(f)
		r, err := Parse(raw, DefaultLimits)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		var got []string
		for _, a := range r.Attachments {
			got = append(got, a.Name)
		}
		for _, n := range names {
			if !slices.Contains(got, n) {
				t.Errorf("%s: attachments %q, want %q among them", filepath.Base(f), got, n)
			}
		}
		delete(want, filepath.Base(f))
	}
	for f := range want {
		t.Errorf("sample %s missing", f)
	}
}

func TestLimits(t *testing.T) {
	// 1,000 parts: bounded, warned, no panic.
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nSubject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=f%d.bin\r\n\r\nx\r\n", i)
	}
	b.WriteString("--b--\r\n")
	r, err := Parse([]byte(b.String()), Limits{MaxParts: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Attachments) >= 100 || !strings.Contains(strings.Join(r.Warnings, ";"), "more than 100 MIME parts") {
		t.Errorf("1000 parts with MaxParts 100: %d attachments, warnings %q", len(r.Attachments), r.Warnings)
	}

	// Nesting 100 deep.
	b.Reset()
	b.WriteString("From: a@example.org\r\nSubject: deep\r\n")
	for i := range 100 {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\ndeep text\r\n")
	r, err = Parse([]byte(b.String()), Limits{MaxDepth: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Warnings, ";"), "nesting deeper than 10") {
		t.Errorf("100-deep nesting: warnings %q", r.Warnings)
	}

	// An attachment over the limit is hashed and measured, not kept.
	big := bytes.Repeat([]byte("A"), 3<<20)
	raw := []byte("From: a@example.org\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=big.bin\r\n\r\n")
	raw = append(append(raw, big...), "\r\n--b--\r\n"...)
	r, err = Parse(raw, Limits{MaxAttachmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Attachments) != 1 || r.Attachments[0].Size != 3<<20 || !r.Attachments[0].Truncated || r.Attachments[0].Content != nil {
		t.Errorf("big attachment: %+v", r.Attachments)
	}
}

func TestHostListsOrganisationVersions(t *testing.T) {
	raw := "From: \"Ana (Acme CERT)\" <ana@gmail.com>\r\nSubject: hosts\r\nContent-Language: de\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nAffected: ExampleVPN version 9.1.2 and v10.0\r\n" +
		"--b\r\nContent-Type: text/csv; name=hosts.csv\r\n\r\nhost,ip\r\nvpn1.example.com,198.51.100.10\r\nvpn2.example.com,198.51.100.11\r\n" +
		"--b\r\nContent-Type: application/json; name=more.json\r\n\r\n[{\"ip\":\"2001:db8::7\"}]\r\n--b--\r\n"
	r, err := Parse([]byte(raw), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if err := all(eq("org", r.Organisation, "Acme CERT"), eq("versions", strings.Join(r.Versions, ","), "9.1.2,10.0"),
		eq("ipv4", strings.Join(r.Indicators.IPv4, ","), "198.51.100.10,198.51.100.11"), eq("ipv6", strings.Join(r.Indicators.IPv6, ","), "2001:db8::7"),
		eq("lang (declared)", r.Language, "de")); err != nil {
		t.Error(err)
	}
	if got := guessOrganisation("", "bob@bigcorp.example"); got != "bigcorp.example" {
		t.Errorf("organisation from domain = %q", got)
	}
	if got := guessOrganisation("Bob", "bob@gmail.com"); got != "" {
		t.Errorf("free-mail domain taken as organisation: %q", got)
	}
}

func TestForwardedInline(t *testing.T) {
	raw := "From: carl@customer.example\r\nSubject: Fwd: invoice\r\n\r\nLooks like phishing?\r\n\r\n" +
		"---------- Forwarded message ---------\r\nFrom: Billing <billing@invoices-paypa1.example>\r\nDate: Mon, 23 Nov 2026 at 09:12\r\n" +
		"Subject: Invoice #2231 overdue\r\nTo: <carl@customer.example>\r\n\r\nPay at hxxp://invoices-paypa1[.]example/pay\r\n"
	r, _ := Parse([]byte(raw), DefaultLimits)
	if len(r.Forwarded) != 1 || r.Forwarded[0].From != "billing@invoices-paypa1.example" || r.Forwarded[0].Subject != "Invoice #2231 overdue" {
		t.Errorf("forwarded %+v", r.Forwarded)
	}
	if strings.Join(r.Indicators.URLs, ",") != "http://invoices-paypa1.example/pay" {
		t.Errorf("urls %v", r.Indicators.URLs)
	}
	outlook := "From: d@customer.example\r\nSubject: FW: alert\r\n\r\nFYI\r\n-----Original Message-----\r\nFrom: IT Helpdesk <it@helpdesk-login.example>\r\nSent: Monday\r\nSubject: Password expires\r\n\r\nx\r\n"
	r, _ = Parse([]byte(outlook), DefaultLimits)
	if len(r.Forwarded) != 1 || r.Forwarded[0].From != "it@helpdesk-login.example" || r.Forwarded[0].Subject != "Password expires" {
		t.Errorf("outlook forwarded %+v", r.Forwarded)
	}
}

func TestHugeHeaderLine(t *testing.T) {
	raw := "From: a@example.org\r\nSubject: " + strings.Repeat("A", 2<<20) + "\r\n\r\nbody\r\n"
	_, err := Parse([]byte(raw), DefaultLimits)
	if !IsNotAMessage(err) || !strings.Contains(err.Error(), "header") {
		t.Errorf("a 2 MB header line: err = %v; want a clear not-a-message error about the header", err)
	}
}

func TestNotAMessage(t *testing.T) {
	for _, in := range []string{"", "   \r\n", "\x00\x01\x02PK\x03\x04 binary\x00", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"} {
		if _, err := Parse([]byte(in), DefaultLimits); !IsNotAMessage(err) {
			t.Errorf("Parse(%q) err = %v, want ErrNotAMessage", in, err)
		}
	}
}

// TestHeaderlessText: text with no header is shown by mail clients as a
// body, and read so, with a warning (mime4j's "noheader" messages).
func TestHeaderlessText(t *testing.T) {
	r, err := Parse([]byte("this is a report without any header\r\nSQL injection at https://shop.example.com/?id=1\r\n"), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Text, "SQL injection") || len(r.Indicators.URLs) != 1 || !slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "no header") }) {
		t.Errorf("text %q urls %v warnings %q", r.Text, r.Indicators.URLs, r.Warnings)
	}
}

// TestObsoleteHeaderSyntax reads RFC 5322 section 4.5 syntax and a
// malformed field name as a mail client would.
func TestObsoleteHeaderSyntax(t *testing.T) {
	raw := "Subject :The obsolete syntax\r\n       \r\n and folding\r\nFrom  : Eve <eve@example.org>\r\nInval\xe9d-Header: x\r\n\r\nbody\r\n"
	r, err := Parse([]byte(raw), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "The obsolete syntax and folding" || r.From != "eve@example.org" || r.Text != "body" || len(r.Warnings) < 2 {
		t.Errorf("subject %q from %q text %q warnings %q", r.Subject, r.From, r.Text, r.Warnings)
	}
}

func eq(what, got, want string) error {
	if got != want {
		return fmt.Errorf("%s = %q, want %q", what, got, want)
	}
	return nil
}

func contains(what, got, sub string) error {
	if !strings.Contains(got, sub) {
		return fmt.Errorf("%s = %q, want it to contain %q", what, got, sub)
	}
	return nil
}

func notContains(what, got, sub string) error {
	if strings.Contains(got, sub) {
		return fmt.Errorf("%s = %q, must not contain %q", what, got, sub)
	}
	return nil
}

func nonEmpty(what string, v []string) error {
	if len(v) == 0 {
		return fmt.Errorf("%s is empty", what)
	}
	return nil
}

func all(errs ...error) error {
	var msgs []string
	for _, e := range errs {
		if e != nil {
			msgs = append(msgs, e.Error())
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return nil
}

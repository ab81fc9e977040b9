package parsers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAutomaticMail: the project's own samples of machine mail (testdata/,
// golden reports beside them) are each classified as what they are, and
// never answerable; the ordinary reports beside them stay answerable.
func TestAutomaticMail(t *testing.T) {
	for _, tc := range []struct {
		file     string
		category Category
		auto     bool
		reason   string
	}{
		{"mdn-receipt.eml", CategoryAutoReply, true, "read receipt"},
		{"mdn-no-report-type.eml", CategoryAutoReply, true, "read receipt"},
		{"ooo-exchange-de.eml", CategoryAutoReply, true, "Exchange"},
		{"ooo-subject-only-fr.eml", CategoryAutoReply, true, "out-of-office subject"},
		{"ooo-subject-only-ja.eml", CategoryAutoReply, true, "out-of-office subject"},
		{"vacation-x-autoreply.eml", CategoryAutoReply, true, "X-Autoreply"},
		{"challenge-tmda.eml", CategoryAutoReply, true, "challenge-response"},
		{"bounce-qmail-plain.eml", CategoryBounce, true, "mailer daemon"},
		{"bounce-no-header.eml", CategoryBounce, true, "non-delivery report"},
		{"precedence-junk.eml", CategoryAutoReply, true, "Precedence: junk"},
		{"x-loop.eml", CategoryAutoReply, true, "X-Loop"},
		{"no-from-sender.eml", CategoryAbuse, false, ""},
		{"no-from-return-path.eml", CategoryVulnerability, false, ""},
		{"plain-utf8.eml", CategoryVulnerability, false, ""},
	} {
		raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Parse(raw, DefaultLimits)
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if r.Category != tc.category || r.AutoSubmitted != tc.auto || !strings.Contains(r.AutoReason, tc.reason) {
			t.Errorf("%s: category %s auto %v reason %q; want %s, %v, reason with %q", tc.file, r.Category, r.AutoSubmitted, r.AutoReason, tc.category, tc.auto, tc.reason)
		}
	}
}

// TestLoopSafety has one case for each sign of a machine that RFC 3834 and
// real responders use, each on an otherwise ordinary report, so that
// removing any one check fails exactly one case; and the ordinary report
// itself, which must stay answerable.
func TestLoopSafety(t *testing.T) {
	const body = "Content-Type: text/plain\r\n\r\nThere is an XSS in the login page.\r\n"
	base := "From: r@example.org\r\nTo: security@example.com\r\nMessage-ID: <x@example.org>\r\n"
	for _, tc := range []struct {
		name, header, subject string
		auto                  bool
	}{
		{"ordinary report", "", "XSS in login", false},
		{"Auto-Submitted", "Auto-Submitted: auto-generated\r\n", "XSS in login", true},
		{"Auto-Submitted: no", "Auto-Submitted: no\r\n", "XSS in login", false},
		{"X-Autoreply", "X-Autoreply: yes\r\n", "XSS in login", true},
		{"X-Loop", "X-Loop: someone@example.net\r\n", "XSS in login", true},
		{"our own X-Loop", "X-Loop: tocsin security@example.com\r\n", "XSS in login", true},
		{"X-Auto-Response-Suppress", "X-Auto-Response-Suppress: OOF, AutoReply\r\n", "XSS in login", true},
		{"Precedence: bulk", "Precedence: bulk\r\n", "XSS in login", true},
		{"Precedence: junk", "Precedence: junk\r\n", "XSS in login", true},
		{"Precedence: list", "Precedence: list\r\n", "XSS in login", true},
		{"List-Id", "List-Id: <sec.lists.example.org>\r\n", "XSS in login", true},
		{"null Return-Path", "Return-Path: <>\r\n", "XSS in login", true},
		{"Exchange-generated", "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent\r\n", "XSS in login", true},
		{"out-of-office subject, no header", "", "Out of Office: XSS in login", true},
		{"German out-of-office subject", "", "Abwesenheitsnotiz: XSS in login", true},
		{"Korean auto-reply subject", "", "자동 응답: XSS in login", true},
		{"mailer daemon", "Sender: MAILER-DAEMON@mx.example.org\r\nFrom: Mail Delivery Subsystem <mailer-daemon@mx.example.org>\r\n", "XSS in login", true},
	} {
		raw := base + "Subject: " + tc.subject + "\r\n" + tc.header + body
		if strings.Contains(tc.header, "From:") {
			raw = strings.Replace(raw, "From: r@example.org\r\n", "", 1)
		}
		r, err := Parse([]byte(raw), DefaultLimits)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.AutoSubmitted != tc.auto {
			t.Errorf("%s: auto_submitted %v (%q), want %v", tc.name, r.AutoSubmitted, r.AutoReason, tc.auto)
		}
	}
}

// memSink is an AttachmentSink that keeps what it is given, for tests.
type memSink struct{ got map[string][]byte }

func (s *memSink) Begin(name, mediaType string) (AttachmentWriter, error) {
	return &memWriter{s: s, name: name}, nil
}

type memWriter struct {
	s    *memSink
	name string
	buf  []byte
}

func (w *memWriter) Write(b []byte) (int, error) { w.buf = append(w.buf, b...); return len(b), nil }
func (w *memWriter) Finish(sum string, size int64) error {
	if int64(len(w.buf)) != size {
		return fmt.Errorf("size %d, got %d bytes", size, len(w.buf))
	}
	w.s.got[w.name+"/"+sum] = w.buf
	return nil
}

// TestAttachmentsStreamToSink: with a sink, every attachment, however
// large, goes to it whole and none stays in the report; those the parser
// reads (here a CSV host list) are still read.
func TestAttachmentsStreamToSink(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 3<<16) // 3 MiB
	raw := "From: a@example.org\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=big.bin\r\n\r\n" + big + "\r\n" +
		"--b\r\nContent-Type: text/csv; name=hosts.csv\r\n\r\nhost,ip\r\nvpn1.example.com,198.51.100.10\r\n--b--\r\n"
	sink := &memSink{got: map[string][]byte{}}
	r, err := ParseWith([]byte(raw), Options{Limits: Limits{MaxAttachmentBytes: 1 << 20}, Attachments: sink})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Attachments) != 2 {
		t.Fatalf("attachments %+v", r.Attachments)
	}
	for _, a := range r.Attachments {
		if !a.Stored || a.Content != nil || a.Truncated {
			t.Errorf("%s: stored %v, content %d bytes, truncated %v", a.Name, a.Stored, len(a.Content), a.Truncated)
		}
		got := sink.got[a.Name+"/"+a.SHA256]
		if int64(len(got)) != a.Size || a.Size == 0 {
			t.Errorf("%s: sink has %d bytes, size %d", a.Name, len(got), a.Size)
		}
	}
	if string(sink.got["big.bin/"+r.Attachments[0].SHA256]) != big {
		t.Error("big.bin reached the sink altered")
	}
	if strings.Join(r.Indicators.IPv4, ",") != "198.51.100.10" {
		t.Errorf("host list not read: %v", r.Indicators.IPv4)
	}
}

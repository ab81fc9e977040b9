package parsers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// seedMail adds the project's own messages and the real mail of the public
// suites in ../shared/samples (those under 256 KiB, so that a fuzz run
// stays quick) to f's corpus.
func seedMail(f *testing.F) {
	var files []string
	for _, pat := range []string{"testdata/*.eml", filepath.Join(samplesDir(), "*", "*.eml"), filepath.Join(samplesDir(), "*", "*.msg")} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 256<<10 {
			f.Add(b)
		}
	}
}

var categories = map[Category]bool{CategoryVulnerability: true, CategoryIncident: true, CategoryAbuse: true, CategoryAdvisory: true,
	CategoryAutoReply: true, CategoryBounce: true, CategoryOther: true}

// FuzzParse feeds arbitrary bytes to Parse and checks what users rely on:
// a report or ErrNotAMessage, never a panic; valid UTF-8 and a one-line
// subject; a known category; automatic mail at P4; every attachment's
// size and digest matching the bytes the sink received; and the same
// report for the same bytes. `make fuzz` runs it long; `make test` runs
// the seed corpus and a short burst.
func FuzzParse(f *testing.F) {
	seedMail(f)
	f.Add([]byte("From: a@b\r\nContent-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n"))
	lim := Limits{MaxParts: 50, MaxDepth: 8, MaxTextBytes: 1 << 16, MaxAttachmentBytes: 1 << 16}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sink := &memSink{got: map[string][]byte{}}
		r, err := ParseWith(raw, Options{Limits: lim, Attachments: sink})
		if err != nil {
			if !IsNotAMessage(err) {
				t.Fatalf("error is not ErrNotAMessage: %v", err)
			}
			return
		}
		if !utf8.ValidString(r.Text) || !utf8.ValidString(r.Subject) || !utf8.ValidString(r.From) || !utf8.ValidString(r.FromName) {
			t.Fatalf("invalid UTF-8 in report: %q %q %q", r.Subject, r.From, r.Text)
		}
		if strings.ContainsAny(r.Subject, "\r\n") {
			t.Fatalf("subject of more than one line: %q", r.Subject)
		}
		if !categories[r.Category] {
			t.Fatalf("category %q", r.Category)
		}
		if r.AutoSubmitted && r.Priority != "P4" {
			t.Fatalf("automatic mail (%s) at %s", r.AutoReason, r.Priority)
		}
		for _, a := range r.Attachments {
			got, ok := sink.got[a.Name+"/"+a.SHA256]
			if sum := sha256.Sum256(got); !a.Stored || !ok || int64(len(got)) != a.Size || hex.EncodeToString(sum[:]) != a.SHA256 {
				t.Fatalf("attachment %q: stored %v, sink %d bytes, size %d, digest %s", a.Name, a.Stored, len(got), a.Size, a.SHA256)
			}
		}
		again, _ := ParseWith(raw, Options{Limits: lim, Attachments: &memSink{got: map[string][]byte{}}})
		j1, _ := json.Marshal(r)
		j2, _ := json.Marshal(again)
		if !bytes.Equal(j1, j2) {
			t.Fatalf("the same bytes gave two reports:\n%s\n%s", j1, j2)
		}
	})
}

func newFuzzParser() *parser {
	return &parser{lim: Limits{MaxParts: 50, MaxDepth: 8, MaxTextBytes: 1 << 16, MaxAttachmentBytes: 1 << 16}, r: &Report{}}
}

// FuzzIODEF: the IODEF reader on arbitrary XML never panics.
func FuzzIODEF(f *testing.F) {
	b, _ := os.ReadFile("testdata/iodef.eml")
	f.Add(b)
	f.Add([]byte(`<IODEF-Document><Incident><IncidentID>x</IncidentID><Address>1.2.3.4</Address></Incident></IODEF-Document>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		newFuzzParser().iodef(data)
	})
}

// FuzzCVSS: vector search and scoring never panic, and scores stay in 0-10.
func FuzzCVSS(f *testing.F) {
	f.Add("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
	f.Add("CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:N/A:N/E:P")
	f.Add("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:P/U:Red")
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range findCVSS(s) {
			if c.BaseScore != -1 && (c.BaseScore < 0 || c.BaseScore > 10) {
				t.Fatalf("%s scored %v", c.Vector, c.BaseScore)
			}
		}
	})
}

// FuzzIndicators: indicator extraction never panics, and what it returns
// is what it says: addresses parse as addresses of their family, URLs are
// http(s), hashes are hex of a digest's length.
func FuzzIndicators(f *testing.F) {
	f.Add("hxxps://evil[.]example/x 10[.]0[.]0[.]1 fe80::1 d41d8cd98f00b204e9800998ecf8427e")
	f.Add("see http://198.51.100.7:8080/a?b=c and 2001:db8::7, sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	f.Fuzz(func(t *testing.T, s string) {
		ind := findIndicators(s)
		for _, u := range ind.URLs {
			if !utf8.ValidString(u) && utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 URL %q from valid input", u)
			}
			if l := strings.ToLower(u); !strings.HasPrefix(l, "http://") && !strings.HasPrefix(l, "https://") {
				t.Fatalf("URL %q is not http(s)", u)
			}
		}
		for _, a := range ind.IPv4 {
			if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() {
				t.Fatalf("IPv4 %q does not parse as one", a)
			}
		}
		for _, a := range ind.IPv6 {
			if ip, err := netip.ParseAddr(a); err != nil || !ip.Is6() {
				t.Fatalf("IPv6 %q does not parse as one", a)
			}
		}
		for _, h := range ind.Hashes {
			if _, err := hex.DecodeString(h); err != nil || (len(h) != 32 && len(h) != 40 && len(h) != 64 && len(h) != 128) {
				t.Fatalf("hash %q", h)
			}
		}
	})
}

// FuzzFeedbackAndXARF: the ARF and X-ARF field readers never panic.
func FuzzFeedbackAndXARF(f *testing.F) {
	f.Add([]byte("Feedback-Type: abuse\r\nUser-Agent: x/1\r\nVersion: 1\r\nSource-IP: 192.0.2.1\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := newFuzzParser()
		p.feedbackReport(data)
		p.xarfReport(data)
	})
}

// FuzzSplitSigned: the RFC 3156 splitter never panics, and the signed
// part it returns is bytes of the message exactly as they stand (what the
// signature covers; RFC 3156 section 5).
func FuzzSplitSigned(f *testing.F) {
	f.Add([]byte("Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=b\r\n\r\n--b\r\nx\r\n--b\r\n\r\nsig\r\n--b--\r\n"))
	seedMail(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		signed, _, _, err := SplitSigned(data)
		if err == nil && !bytes.Contains(data, signed) && !bytes.Contains(bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")), signed) {
			t.Fatalf("signed part %q is not in the message", signed)
		}
	})
}

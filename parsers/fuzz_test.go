package parsers

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, must
// return a report or ErrNotAMessage, and the report's text must be UTF-8.
// `make fuzz` runs it long; `make test` runs the seed corpus.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte("From: a@b\r\nContent-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := Parse(raw, Limits{MaxParts: 50, MaxDepth: 8, MaxTextBytes: 1 << 16, MaxAttachmentBytes: 1 << 16})
		if err != nil {
			if !IsNotAMessage(err) {
				t.Fatalf("error is not ErrNotAMessage: %v", err)
			}
			return
		}
		if !utf8.ValidString(r.Text) || !utf8.ValidString(r.Subject) {
			t.Fatalf("invalid UTF-8 in report: %q %q", r.Subject, r.Text)
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

// FuzzIndicators: indicator extraction never panics and returns valid UTF-8.
func FuzzIndicators(f *testing.F) {
	f.Add("hxxps://evil[.]example/x 10[.]0[.]0[.]1 fe80::1 d41d8cd98f00b204e9800998ecf8427e")
	f.Fuzz(func(t *testing.T, s string) {
		ind := findIndicators(s)
		for _, u := range ind.URLs {
			if !utf8.ValidString(u) && utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 URL %q from valid input", u)
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

// FuzzSplitSigned: the RFC 3156 splitter never panics.
func FuzzSplitSigned(f *testing.F) {
	f.Add([]byte("Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=b\r\n\r\n--b\r\nx\r\n--b\r\n\r\nsig\r\n--b--\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		SplitSigned(data)
	})
}

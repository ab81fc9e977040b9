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

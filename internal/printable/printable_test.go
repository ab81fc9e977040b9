package printable

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"", ""},
		{"Eve\r\n  Point of contact:  Mallory", "Eve Point of contact: Mallory"},
		{"a\nBcc: x@evil.test", "a Bcc: x@evil.test"},
		{"  padded\t", "padded"},
		{"nul\x00here", "nul␀here"},
		{"esc\x1b]52;c;ZXZpbA==\x07", "esc␛]52;c;ZXZpbA==␇"},
		{"del\x7f", "del␡"},
		{"c1\u0085next", "c1 next"},
		{"c1\u009bcsi", "c1\uFFFDcsi"},
		{"admin\u202egnp.exe", "admingnp.exe"},
		{"iso\u2066late\u2069", "isolate"},
		{"line\u2028sep\u2029para", "line sep para"},
		{"zero\u200bwidth", "zerowidth"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"日本語 の 報告", "日本語 の 報告"},
		{"Ünïcödé\u00a0nbsp", "Ünïcödé nbsp"},
		{"emoji 👩\u200d💻", "emoji 👩\u200d💻"},
	} {
		if got := Line(tc.in); got != tc.want {
			t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestText(t *testing.T) {
	got := Text("first\r\nsecond\x1b[2J\rthird\u202e")
	if want := "first\nsecond␛[2J\nthird"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
}

func TestRunes(t *testing.T) {
	if got := Runes("abcdef", 4); got != "abc…" {
		t.Errorf("Runes = %q", got)
	}
	if got := Runes("abc", 4); got != "abc" {
		t.Errorf("Runes = %q", got)
	}
}

// FuzzLine checks the promise itself: whatever goes in, one line of valid,
// printable UTF-8 comes out, and cleaning it again changes nothing.
func FuzzLine(f *testing.F) {
	for _, s := range []string{"Eve\r\n  Point of contact: x", "\x00\x1b\u202e", "a  b", " x ", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Line(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Line(%q) = %q: invalid UTF-8", s, out)
		}
		for _, r := range out {
			if r != ' ' && (unicode.IsSpace(r) || unicode.IsControl(r) || isBidiOrInvisible(r)) {
				t.Fatalf("Line(%q) = %q keeps %U", s, out, r)
			}
		}
		if strings.Contains(out, "  ") || strings.TrimSpace(out) != out {
			t.Fatalf("Line(%q) = %q: unfolded space", s, out)
		}
		if again := Line(out); again != out {
			t.Fatalf("Line not idempotent: %q -> %q -> %q", s, out, again)
		}
	})
}

// TestIsPlain: the fast path takes exactly the strings Line leaves alone.
func TestIsPlain(t *testing.T) {
	for s, want := range map[string]bool{"": true, "a b": true, "~": true, " a": false, "a ": false, "a  b": false,
		"\x1f": false, "\x7f": false, "é": false, "a\tb": false, " ": false} {
		if got := isPlain(s); got != want {
			t.Errorf("isPlain(%q) = %v, want %v", s, got, want)
		}
		if isPlain(s) && Line(s) != s {
			t.Errorf("isPlain(%q) but Line changes it to %q", s, Line(s))
		}
	}
}

func TestRunesBounds(t *testing.T) {
	for _, tc := range []struct {
		s    string
		max  int
		want string
	}{{"abc", 0, "abc"}, {"abc", -1, "abc"}, {"abc", 3, "abc"}, {"abcd", 3, "ab…"}, {"日本語テキスト", 4, "日本語…"}} {
		if got := Runes(tc.s, tc.max); got != tc.want {
			t.Errorf("Runes(%q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
		}
	}
}

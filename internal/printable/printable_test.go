package printable

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"tocsin/internal/printabletest"
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

// hostile is issue 15's finding.
const hostile = printabletest.Hostile

// TestPolicy pins the one policy per class of character and per function:
// Line for one-line fields, Text for a person's free text, Inert for a
// whole output whose layout is kept.
func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		name, in, line, text, inert string
	}{
		{"C0 ESC, CSI sequence", "a\x1b[2Jb", "a␛[2Jb", "a␛[2Jb", "a␛[2Jb"},
		{"OSC title ended by BEL", "\x1b]0;t\x07", "␛]0;t␇", "␛]0;t␇", "␛]0;t␇"},
		{"NUL and DEL", "a\x00b\x7f", "a␀b␡", "a␀b␡", "a␀b␡"},
		{"C1 CSI", "a\u009b2Jb", "a\uFFFD2Jb", "a\uFFFD2Jb", "a\uFFFD2Jb"},
		{"C1 OSC and ST", "\u009d0;t\u009c", "\uFFFD0;t\uFFFD", "\uFFFD0;t\uFFFD", "\uFFFD0;t\uFFFD"},
		{"RLO", "admin\u202egnp.exe", "admingnp.exe", "admingnp.exe", "admingnp.exe"},
		{"LRE RLE PDF LRO", "\u202aa\u202bb\u202cc\u202dd", "abcd", "abcd", "abcd"},
		{"isolates", "\u2066a\u2067b\u2068c\u2069", "abc", "abc", "abc"},
		{"marks", "a\u200eb\u200fc\u061cd", "abcd", "abcd", "abcd"},
		{"invisible Cf", "a\u200bb\u2060c\u2062d\ufeffe\u00adf\U000E0041g", "abcdefg", "abcdefg", "abcdefg"},
		{"Hangul filler", "a\u3164b", "ab", "ab", "ab"},
		{"joiners kept", "👩\u200d💻 \u0645\u200c\u06cc", "👩\u200d💻 \u0645\u200c\u06cc", "👩\u200d💻 \u0645\u200c\u06cc", "👩\u200d💻 \u0645\u200c\u06cc"},
		{"CR LF injection", "x\r\nBcc: y", "x Bcc: y", "x\nBcc: y", "x\nBcc: y"},
		{"lone CR overwrites", "ok\rEVIL", "ok EVIL", "ok\nEVIL", "ok\nEVIL"},
		{"VT FF NEL LS PS", "a\vb\fc\u0085d\u2028e\u2029f", "a b c d e f", "a b c d e f", "a\nb\nc\nd\ne\nf"},
		{"tabs and indents", "  a\tb  c", "a b c", "a b c", "  a\tb  c"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb", "a\uFFFDb", "a\uFFFDb"},
		{"other scripts", "日本語 Ünïcödé", "日本語 Ünïcödé", "日本語 Ünïcödé", "日本語 Ünïcödé"},
		{"mentions are the platforms'", "<!channel> @everyone", "<!channel> @everyone", "<!channel> @everyone", "<!channel> @everyone"},
	} {
		for _, f := range []struct {
			name string
			fn   func(string) string
			want string
		}{{"Line", Line, tc.line}, {"Text", Text, tc.text}, {"Inert", Inert, tc.inert}} {
			if got := f.fn(tc.in); got != f.want {
				t.Errorf("%s: %s(%q) = %q, want %q", tc.name, f.name, tc.in, got, f.want)
			}
		}
	}
}

// TestHostileLeavesNothing: the string, through each function,
// keeps none of the code points it was built from.
func TestHostileLeavesNothing(t *testing.T) {
	for name, out := range map[string]string{"Line": Line(hostile), "Text": Text(hostile), "Inert": Inert(hostile)} {
		if bad := Unsafe(out); bad != "" {
			t.Errorf("%s(hostile) = %q keeps %s", name, out, bad)
		}
	}
	if got := Line(hostile); strings.ContainsAny(got, "\r\n") {
		t.Errorf("Line(hostile) = %q keeps a line break", got)
	}
}

// TestJSON: encoded JSON keeps its data and loses what a terminal obeys.
func TestJSON(t *testing.T) {
	in := map[string]string{"subject": hostile + " \u2066\U000E0041\u2028\x7f", "plain": "日本語 👩\u200d💻"}
	enc, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out := JSON(enc)
	if bad := Unsafe(string(out)); bad != "" {
		t.Errorf("JSON keeps %s: %s", bad, out)
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("JSON output is not JSON: %v\n%s", err, out)
	}
	for k, v := range in {
		if back[k] != v {
			t.Errorf("JSON changed %s: got %q, want %q", k, back[k], v)
		}
	}
	if plain := []byte(`{"a": "b"}`); string(JSON(plain)) != string(plain) {
		t.Errorf("JSON changed plain ASCII: %s", JSON(plain))
	}
}

// TestInertKeepsPrintedText: what is already printable passes byte for
// byte (a rendered form through the mail composer's guard).
func TestInertKeepsPrintedText(t *testing.T) {
	for _, s := range []string{"", "a\n\tb\n", "Sehr geehrte Frau Müller,\n\n  Referenz: 日本\n-- \n"} {
		if got := Inert(s); got != s {
			t.Errorf("Inert(%q) = %q", s, got)
		}
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
		// Inert and Text keep the layout, and make the rest as inert.
		for name, out := range map[string]string{"Inert": Inert(s), "Text": Text(s)} {
			if !utf8.ValidString(out) || Unsafe(out) != "" || strings.Contains(out, "\r") {
				t.Fatalf("%s(%q) = %q keeps %s", name, s, out, Unsafe(out))
			}
		}
		if again := Inert(Inert(s)); again != Inert(s) {
			t.Fatalf("Inert not idempotent: %q -> %q -> %q", s, Inert(s), again)
		}
		if enc, err := json.Marshal(s); err == nil {
			var want, back string
			json.Unmarshal(enc, &want)
			if err := json.Unmarshal(JSON(enc), &back); err != nil || back != want || Unsafe(string(JSON(enc))) != "" {
				t.Fatalf("JSON(%s) = %s: %v, %q", enc, JSON(enc), err, back)
			}
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

// TestWriter: written in pieces of every size, split runes and CR LFs
// included, the output is Inert of the whole.
func TestWriter(t *testing.T) {
	in := "a\r\nb " + hostile + " 日本語 👩\u200d💻\r"
	for size := 1; size <= 5; size++ {
		var out strings.Builder
		w := NewWriter(&out)
		for i := 0; i < len(in); i += size {
			if n, err := w.Write([]byte(in[i:min(i+size, len(in))])); err != nil || n != min(size, len(in)-i) {
				t.Fatalf("Write: %d, %v", n, err)
			}
		}
		w.Flush()
		if got, want := out.String(), Inert(in); got != want {
			t.Errorf("in pieces of %d: got %q, want %q", size, got, want)
		}
	}
}

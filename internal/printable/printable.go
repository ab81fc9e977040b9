// Package printable is the one path by which text that Tocsin did not
// write — a reporter's name, subject or form field, a chat user's note, a
// roster entry, a remote server's error — reaches anything Tocsin signs,
// sends or shows: a notification form, a mail header or body, a chat card,
// a desk page, a terminal. It makes such text inert: valid UTF-8, no
// control characters, no bidirectional overrides or invisible characters,
// and, for Line, no line breaks, so that it cannot add a line to a signed
// form, a field to a header, an escape sequence to a terminal, or reorder
// what a reader sees.
//
// The policy, the same for every output:
//   - C0 controls and DEL are shown as their Unicode control pictures
//     (ESC as ␛, BEL as ␇, NUL as ␀), so a reader sees that one was sent;
//     C1 controls (U+0080–U+009F, CSI U+009B among them) have no pictures
//     and become U+FFFD. Invalid UTF-8 becomes U+FFFD.
//   - Format characters (Unicode category Cf) are removed: the bidi
//     embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069),
//     the directional marks, zero-width spaces, soft hyphens, invisible
//     operators, tags; so are the standalone Hangul fillers (U+3164,
//     U+FFA0), which draw nothing and make names look empty. Only
//     the zero-width joiner and non-joiner stay: emoji, Indic and Persian
//     text need them, and they hide nothing.
//   - Line breaks (CR, LF, CRLF, VT, FF, NEL, U+2028, U+2029): Line makes
//     every run of white space one space, for one-line fields (headers,
//     subjects, card fields, CLI columns); Text and Inert make every line
//     break "\n", for multi-line outputs. Tab stays only in Inert.
//
// Line is for a field, Text for a person's free text in a form, Inert for
// a whole output that mixes Tocsin's words with others' (a mail body, a
// page); JSON for encoded JSON meant for a terminal.
//
// The forms in package templates, and the desk's pages in bot/web, apply
// them to every value they print (EscapeActions), the way html/template
// escapes by context, so a new form, page or field is safe without anyone
// remembering to call it.
package printable

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Line returns s as one line of printable text: every run of white space,
// line breaks included (CR, LF, VT, FF, NEL, U+2028, U+2029), becomes one
// space; other control characters are shown as their Unicode control
// pictures (NUL as ␀, ESC as ␛) or U+FFFD; bidirectional embeddings,
// overrides and isolates, and other invisible format characters that can
// reorder or hide text, are removed; invalid UTF-8 becomes U+FFFD. Leading
// and trailing space is trimmed.
func Line(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch c := class(r); c {
		case drop:
			continue
		case blank:
			space = true
			continue
		default:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			if c == control {
				r = picture(r)
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Text returns s as printable lines: line ends are normalised to "\n" and
// every line is made a Line (so no control character, bidi override or
// stray CR survives), but the line structure is kept. It is for multi-line
// text that a person wrote for a form's free-text sections.
func Text(s string) string {
	lines := strings.Split(newlines(s), "\n")
	for i, l := range lines {
		lines[i] = Line(l)
	}
	return strings.Join(lines, "\n")
}

// Inert returns s with its layout kept — spaces, tabs and line breaks as
// they are, line ends normalised to "\n" — and everything else as Line
// has it: control characters shown (ESC as ␛, C1 as U+FFFD), format
// characters that reorder or hide text removed, invalid UTF-8 as U+FFFD.
// It is the last guard of a whole output that mixes Tocsin's words with
// others': a mail body composed in Go, a desk page, a terminal. Text that
// Inert leaves alone it returns unchanged, so a form already made
// printable passes through byte for byte.
func Inert(s string) string {
	if isInert(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range newlines(strings.ToValidUTF8(s, "\uFFFD")) {
		switch c := class(r); {
		case r == '\n', r == '\t':
			b.WriteRune(r)
		case c == drop:
		case c == blank && (r < 0x20 || r == 0x85 || r == 0x2028 || r == 0x2029):
			b.WriteByte('\n') // VT, FF, NEL and the Unicode separators break lines
		case c == control:
			b.WriteRune(picture(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// JSON returns encoded JSON with every character that Inert would change
// written as a \uXXXX escape instead: the same data, decoded, and inert on
// a terminal. (encoding/json escapes C0 controls itself, but writes DEL,
// C1 controls such as U+009B and bidi overrides as they are.) The input
// must be JSON, whose raw non-ASCII characters can only be in strings.
func JSON(b []byte) []byte {
	if isInert(string(b)) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r >= 0x7f && (class(r) == control || class(r) == drop || r == 0x85 || r == 0x2028 || r == 0x2029 || (r == utf8.RuneError && n == 1)) {
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
		} else {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

// Unsafe names the characters of s that no output of this package keeps —
// control characters but "\n" and "\t", C1 controls, format characters
// that reorder or hide text, invalid UTF-8 — as "U+001B U+202E", or ""
// when there are none: what a test of any output asserts, whichever
// function made it.
func Unsafe(s string) string {
	var bad []string
	for i, r := range s {
		switch {
		case r == '\n', r == '\t':
		case r == utf8.RuneError:
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				bad = append(bad, fmt.Sprintf("byte %#x", s[i]))
			}
		case r < 0x20, class(r) == control, class(r) == drop, r == 0x85, r == 0x2028, r == 0x2029:
			bad = append(bad, fmt.Sprintf("%U", r))
		}
	}
	return strings.Join(bad, " ")
}

// newlines makes every CRLF and lone CR one "\n".
func newlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// Runes caps s at max runes, marking a cut with "…".
func Runes(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

type charClass int

const (
	keep charClass = iota
	blank
	control
	drop
)

func class(r rune) charClass {
	switch {
	case r == ' ', r == '\t', r == '\n', r == '\r', r == '\v', r == '\f', r == 0x85, r == 0x2028, r == 0x2029:
		return blank
	case unicode.IsSpace(r):
		return blank // NBSP and the other spaces fold too: no invisible runs
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return control
	case isBidiOrInvisible(r):
		return drop
	case r == utf8.RuneError:
		return keep // the replacement character is printable and says what happened
	case r == 0x200c, r == 0x200d:
		return keep // the joiners, the only format characters kept
	case !unicode.IsGraphic(r):
		return control
	}
	return keep
}

// isBidiOrInvisible reports the characters that change how text around
// them is ordered or shown, or draw nothing at all: every format character
// (category Cf: the bidi embeddings, overrides and isolates of Trojan
// Source, CVE-2021-42574, the directional marks, zero-width spaces, soft
// hyphens, invisible operators, tags, interlinear annotations) but the
// joiners, and the Hangul fillers.
func isBidiOrInvisible(r rune) bool {
	switch {
	case r == 0x200c, r == 0x200d: // ZWNJ and ZWJ: emoji, Indic and Persian text need them
		return false
	case unicode.Is(unicode.Cf, r):
		return true
	case r == 0x180e, r == 0x3164, r == 0xffa0: // Mongolian vowel separator (no longer Cf), Hangul fillers
		return true
	}
	return false
}

// picture is the visible stand-in for a control character: the Unicode
// control pictures for C0 and DEL, U+FFFD for C1 and the rest.
func picture(r rune) rune {
	switch {
	case r < 0x20:
		return 0x2400 + r
	case r == 0x7f:
		return 0x2421
	}
	return utf8.RuneError
}

// isInert is Inert's fast path: printable ASCII, tabs and "\n".
func isInert(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

// isPlain is the fast path: printable ASCII with single inner spaces.
func isPlain(s string) bool {
	prevSpace := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			return false
		}
		if c == ' ' {
			if prevSpace {
				return false
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
	}
	return !prevSpace || s == ""
}

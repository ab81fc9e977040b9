// Package printable is the one path by which text that Tocsin did not
// write — a reporter's name, subject or form field, a chat user's note —
// reaches anything Tocsin signs, sends or shows: a notification form, a mail
// header, a chat card, a terminal. It makes such text inert: valid UTF-8,
// no control characters, no bidirectional overrides, and, for Line, no
// line breaks, so that it cannot add a line to a signed form, a field to a
// header, or an escape sequence to a terminal.
//
// The forms in package templates apply Line to every value they print, the
// way html/template escapes by context, so a new form or field is safe
// without anyone remembering to call it.
package printable

import (
	"strings"
	"unicode"
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
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Line(l)
	}
	return strings.Join(lines, "\n")
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
	case unicode.Is(unicode.Cf, r):
		return keep // joiners that emoji and Indic and Persian text need
	case !unicode.IsGraphic(r):
		return control
	}
	return keep
}

// isBidiOrInvisible reports the format characters that change how text
// around them is ordered or shown: the bidi embeddings, overrides and
// isolates (Trojan Source, CVE-2021-42574), the directional marks, and the
// zero-width characters that hide text or join it into something else.
func isBidiOrInvisible(r rune) bool {
	switch {
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	case r == 0x200b, r == 0x2060, r == 0xfeff, r == 0x00ad, r == 0x180e:
		return true
	case r >= 0xfff9 && r <= 0xfffb: // interlinear annotation
		return true
	case r >= 0xe0000 && r <= 0xe007f: // tag characters: invisible ASCII
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

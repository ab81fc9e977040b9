package printable

import (
	"io"
	"sync"
	"unicode/utf8"
)

// Writer passes what is written to it on as Inert makes it: the guard of
// a terminal, so that no command's output, whatever field it forgot to
// make a Line, carries an escape sequence or a bidi override. A UTF-8
// sequence or a CR LF split between two writes is held until the next
// one; Flush writes what is held. It is safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	w    io.Writer
	held []byte
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes Inert(p) (with what an earlier write held) and reports
// len(p) written unless w failed.
func (t *Writer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	buf := append(t.held, p...)
	cut := len(buf) - partialRune(buf)
	if cut > 0 && buf[cut-1] == '\r' {
		cut-- // perhaps the first half of a CR LF
	}
	t.held = append([]byte(nil), buf[cut:]...)
	if cut == 0 {
		return len(p), nil
	}
	if _, err := io.WriteString(t.w, Inert(string(buf[:cut]))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is held, as Inert makes it.
func (t *Writer) Flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.held) == 0 {
		return nil
	}
	s := Inert(string(t.held))
	t.held = nil
	_, err := io.WriteString(t.w, s)
	return err
}

// partialRune is the length of the start of a UTF-8 sequence that b ends
// with, 0 when b ends on a whole rune (or on bytes that no more will make
// one).
func partialRune(b []byte) int {
	for n := 1; n <= utf8.UTFMax-1 && n <= len(b); n++ {
		c := b[len(b)-n]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-n:]) {
				return n
			}
			return 0
		}
	}
	return 0
}

// Package printabletest holds what the tests of every output share to
// check package printable's promise: issue 15's hostile string, which a
// test sends through an output (a mail, a card, a page, a terminal), and
// what it looks like shown inert. A test then asserts printable.Unsafe of
// what came out is "".
package printabletest

// Hostile is a screen clear (ESC [ 2 J), an OSC window title ended by BEL,
// a right-to-left override, a C1 CSI (U+009B), CR LF injections of a
// header field and of a signed form's line, and both chat platforms'
// broadcasts.
const Hostile = "Eve\x1b[2J\x1b]0;pwned\x07 \u202egnp.exe\u009b31m\r\nBcc: x@evil.test\r\nAnswer reference: 0123456789 <!channel> @everyone"

// Shown is Hostile's window title as every function of package printable
// shows it: its controls visible, so a reader sees they were sent.
const Shown = "␛]0;pwned␇"

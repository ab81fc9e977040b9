package responders

import (
	"bytes"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"tocsin/internal/printable"
)

// Mail is one outgoing message before it is composed.
type Mail struct {
	From    *mail.Address
	To      []*mail.Address
	Subject string
	// PublicSubject is the subject outside the encryption of an encrypted
	// mail: the incident tag and nothing the report said. "" is "...".
	PublicSubject string
	Date          time.Time
	MessageID     string   // without angle brackets
	InReplyTo     string   // without angle brackets
	References    []string // without angle brackets, oldest first
	// AutoSubmitted is the RFC 3834 value: "auto-replied" for answers to a
	// report, "auto-generated" for notifications nobody asked for.
	AutoSubmitted string
	Body          string // UTF-8 plain text, "\n" line ends
}

// ComposeSigned returns m as an RFC 3156 PGP/MIME signed message:
// multipart/signed with the text part first (readable in any client) and
// the detached signature second. The signed bytes are exactly the first
// part's header and quoted-printable body, CRLF-canonical and 7-bit, as RFC
// 3156 section 5 requires, so no relay can alter them.
func ComposeSigned(m Mail, k *Key) ([]byte, error) {
	var part textproto.Header
	// textproto writes fields in reverse order of addition.
	part.Set("Content-Transfer-Encoding", "quoted-printable")
	part.Set("Content-Type", "text/plain; charset=utf-8")

	body := encodeQP(m.Body)
	var signed bytes.Buffer
	if err := textproto.WriteHeader(&signed, part); err != nil {
		return nil, fmt.Errorf("writing part header: %w", err)
	}
	signed.Write(body)
	sig, micalg, err := k.SignDetached(signed.Bytes())
	if err != nil {
		return nil, err
	}

	var sh textproto.Header
	sh.Set("Content-Disposition", `attachment; filename="signature.asc"`)
	sh.Set("Content-Description", "OpenPGP digital signature")
	sh.Set("Content-Type", `application/pgp-signature; name="signature.asc"`)
	return composeMultipart(m, `multipart/signed; micalg=`+micalg+`; protocol="application/pgp-signature"`,
		mimePart{part, body}, mimePart{sh, armorCRLF(sig)})
}

// ComposePlain returns m as a plain text/plain message, neither signed nor
// encrypted: for the one mail the desk sends before it may sign anything
// to an address (the report form's confirmation request).
func ComposePlain(m Mail) ([]byte, error) {
	var out bytes.Buffer
	h := outerHeader(m)
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("MIME-Version", "1.0")
	if err := textproto.WriteHeader(&out, h.Header.Header); err != nil {
		return nil, fmt.Errorf("writing header: %w", err)
	}
	out.Write(encodeQP(m.Body))
	return out.Bytes(), nil
}

// mimePart is one body part: its header and its encoded bytes.
type mimePart struct {
	h    textproto.Header
	body []byte
}

// composeMultipart writes m's header, with contentType (plus the boundary)
// as its Content-Type, and then the parts: the frame RFC 3156 messages
// share.
func composeMultipart(m Mail, contentType string, parts ...mimePart) ([]byte, error) {
	var out bytes.Buffer
	mw := textproto.NewMultipartWriter(&out)
	h := outerHeader(m)
	h.Set("Content-Type", contentType+`; boundary="`+mw.Boundary()+`"`)
	h.Set("MIME-Version", "1.0")
	if err := textproto.WriteHeader(&out, h.Header.Header); err != nil {
		return nil, fmt.Errorf("writing header: %w", err)
	}
	for _, p := range parts {
		w, err := mw.CreatePart(p.h)
		if err != nil {
			return nil, err
		}
		w.Write(p.body)
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// armorCRLF is ASCII armor with CRLF line ends, as a MIME body wants.
func armorCRLF(armored string) []byte {
	return []byte(strings.ReplaceAll(strings.TrimRight(armored, "\n"), "\n", "\r\n") + "\r\n")
}

func outerHeader(m Mail) mail.Header {
	var h mail.Header
	// Added in reverse of the order they are written.
	if m.AutoSubmitted != "" {
		h.Set("Auto-Submitted", m.AutoSubmitted)
		// Ask Exchange and friends not to answer our answers either.
		h.Set("X-Auto-Response-Suppress", "All")
	}
	if refs := msgIDs(m.References...); len(refs) > 0 {
		h.SetMsgIDList("References", refs)
	}
	if irt := msgIDs(m.InReplyTo); len(irt) > 0 {
		h.SetMsgIDList("In-Reply-To", irt)
	}
	h.SetMessageID(m.MessageID)
	h.SetDate(m.Date)
	h.SetSubject(printable.Line(m.Subject))
	h.SetAddressList("To", addresses(m.To))
	h.SetAddressList("From", addresses([]*mail.Address{m.From}))
	return h
}

// addresses returns list with every display name made one printable line:
// names come from reports, and a header carries no line a report wrote.
func addresses(list []*mail.Address) []*mail.Address {
	out := make([]*mail.Address, 0, len(list))
	for _, a := range list {
		if a != nil {
			out = append(out, &mail.Address{Name: printable.Line(a.Name), Address: a.Address})
		}
	}
	return out
}

// msgIDs keeps the message ids (from reports, for threading) that are one
// token of printable ASCII, as RFC 5322 section 3.6.4 has them; anything
// else is dropped rather than written into a header.
func msgIDs(ids ...string) []string {
	var out []string
	for _, id := range ids {
		ok := id != "" && len(id) <= 998
		for i := 0; ok && i < len(id); i++ {
			ok = id[i] > ' ' && id[i] < 0x7f && id[i] != '<' && id[i] != '>'
		}
		if ok {
			out = append(out, id)
		}
	}
	return out
}

// encodeQP quoted-printable encodes s with CRLF line ends. A line starting
// with "From " is written "=46rom " so that no mbox-style relay rewrites it
// to ">From " and breaks the signature.
//
// Every mail body passes here, so here is its last guard: s is made
// printable.Inert (its layout kept, no control character, no bidi
// override), whoever composed it and whatever field they forgot. A form
// rendered by package templates is inert already and passes unchanged.
func encodeQP(s string) []byte {
	s = printable.Inert(s)
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	io.WriteString(w, s)
	w.Close()
	lines := strings.SplitAfter(b.String(), "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "From ") {
			lines[i] = "=46rom " + l[len("From "):]
		}
	}
	return []byte(strings.Join(lines, ""))
}

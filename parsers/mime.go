package parsers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset" // decode every IANA charset, not just UTF-8 and ASCII
	"github.com/emersion/go-message/mail"
)

// Parse reads one RFC 5322 message (RFC 2045-2049 MIME) into a Report.
// Malformed parts produce Warnings, not errors; ErrNotAMessage is returned
// only when no header block can be read. OpenPGP content is detected but
// not opened; ParseWith takes the keys to open it.
func Parse(raw []byte, lim Limits) (*Report, error) {
	return ParseWith(raw, Options{Limits: lim})
}

// ParseWith is Parse with keys: PGP/MIME (RFC 3156) and inline-PGP reports
// are decrypted with opt.Keys and their signatures checked against them.
func ParseWith(raw []byte, opt Options) (*Report, error) {
	return parseAt(raw, opt, 0)
}

// parseAt parses a message found at MIME depth depth (0 for the report
// itself, more for forwarded messages inside it).
func parseAt(raw []byte, opt Options, depth int) (*Report, error) {
	return parseWithin(raw, opt, depth, nil)
}

// budget is what one message may cost, shared by every layer of it: the
// parts walked and the bytes decoded (base64, decompression, decryption,
// forwarded messages), so that no nesting restarts the count.
type budget struct {
	parts     int
	decoded   int64 // bytes left to decode
	exhausted bool
}

// parseWithin parses a message within b (nil: a budget of its own).
func parseWithin(raw []byte, opt Options, depth int, b *budget) (*Report, error) {
	lim := opt.Limits.withDefaults()
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("empty input: %w", ErrNotAMessage)
	}
	if b == nil {
		b = &budget{decoded: lim.MaxDecodedBytes}
	}
	p := &parser{lim: lim, opt: opt, r: &Report{}, top: depth, wholeAt: -1, budget: b}
	if bytes.HasPrefix(raw, []byte("From ")) {
		// An mbox separator line ("From sender date"), as mail exported
		// from a mailbox file starts; it is not a header field.
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
			p.warn("leading mbox \"From \" line skipped")
		}
	}
	ent, err := message.Read(bytes.NewReader(raw))
	src := raw // the bytes ent was read from
	if ent == nil {
		if fixed, how := repairHeader(raw); fixed != nil {
			if ent, err = message.Read(bytes.NewReader(fixed)); ent != nil {
				src = fixed
				for _, h := range how {
					p.warn("%s", h)
				}
			}
		}
	}
	bodyOnly := false
	if ent == nil && !fieldStart.Match(bytes.TrimLeft(raw, " \t\r\n")) && isText(raw) {
		// No header at all: a mail client shows such a message as its
		// body, and so do we.
		if ent, err = message.Read(io.MultiReader(strings.NewReader("\r\n"), bytes.NewReader(raw))); ent != nil {
			bodyOnly, src = true, nil
			p.warn("no header block: the whole input was read as the body")
		}
	}
	if ent == nil {
		return nil, fmt.Errorf("reading header: %v: %w", err, ErrNotAMessage)
	}
	if err != nil {
		p.warn("top-level body: %v; read undecoded", err)
	}
	if ent.Header.Len() == 0 && !bodyOnly {
		if !isText(raw) {
			return nil, fmt.Errorf("no header fields: %w", ErrNotAMessage)
		}
		p.warn("no header block: the whole input was read as the body")
	}
	p.header(mail.Header{Header: ent.Header})
	p.xarf = strings.EqualFold(strings.TrimSpace(ent.Header.Get("X-ARF")), "yes")
	p.hasARF = p.xarf // machine-made abuse reports are filed, never answered
	p.walk(ent, depth, src)
	p.finish()
	return p.r, nil
}

// fieldStart matches the start of a header field as real mail writes it,
// the obsolete syntax of RFC 5322 section 4.5 included (white space
// before the colon): a name of anything but white space and colons.
var fieldStart = regexp.MustCompile(`^[^\s:]+[ \t]*:`)

// fieldName is a well-formed field name (RFC 5322 section 3.6.8).
var fieldName = regexp.MustCompile(`^[!-9;-~]+$`)

// repairHeader mends the header faults seen in real mail so that the
// message can be read as a mail client shows it: white space before the
// first field, white space before a colon (obsolete syntax), white-space-only
// folded lines, fields with a malformed name (skipped), and a header that
// runs into the body without the blank line. It returns nil when the input
// does not start like a header, and says what it mended.
func repairHeader(raw []byte) ([]byte, []string) {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	lines := bytes.SplitAfter(trimmed, []byte("\n"))
	if len(lines) == 0 || !fieldStart.Match(lines[0]) {
		return nil, nil
	}
	var out bytes.Buffer
	var how []string
	if len(trimmed) != len(raw) {
		how = append(how, "white space before the first header field skipped")
	}
	note := func(s string) {
		if !slices.Contains(how, s) {
			how = append(how, s)
		}
	}
	for i, l := range lines {
		content := bytes.TrimRight(l, "\r\n")
		switch {
		case len(content) == 0: // the proper end of the header
			out.WriteString("\r\n")
			for _, b := range lines[i+1:] {
				out.Write(b)
			}
			return out.Bytes(), how
		case content[0] == ' ' || content[0] == '\t':
			if len(bytes.TrimSpace(content)) == 0 {
				note("empty folded header line skipped")
				continue
			}
			out.Write(content)
			out.WriteString("\r\n")
		case fieldStart.Match(content):
			name, value, _ := bytes.Cut(content, []byte(":"))
			trimmedName := bytes.TrimRight(name, " \t")
			if !fieldName.Match(trimmedName) {
				note(fmt.Sprintf("header line %d has a malformed field name; skipped", i+1))
				continue
			}
			if len(trimmedName) != len(name) {
				note("white space before a header colon (obsolete syntax) removed")
			}
			out.Write(trimmedName)
			out.WriteByte(':')
			out.Write(value)
			out.WriteString("\r\n")
		default:
			note(fmt.Sprintf("header not ended by a blank line; body taken to start at line %d", i+1))
			out.WriteString("\r\n")
			for _, b := range lines[i:] {
				out.Write(b)
			}
			return out.Bytes(), how
		}
	}
	out.WriteString("\r\n")
	return out.Bytes(), how
}

// isText reports whether raw could be text a person wrote: no NUL bytes
// and few other control characters in its first 8 KiB. Anything else is
// not mail at all.
func isText(raw []byte) bool {
	head := raw[:min(len(raw), 8<<10)]
	if len(bytes.TrimSpace(head)) == 0 || bytes.IndexByte(head, 0) >= 0 {
		return false
	}
	ctl := 0
	for _, c := range head {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' {
			ctl++
		}
	}
	return ctl*20 < len(head)
}

type parser struct {
	contentLanguage string
	xarf            bool            // X-ARF: YES
	forwardedText   strings.Builder // text of forwarded messages, for indicators
	lim             Limits
	opt             Options
	offered         openpgp.EntityList // keys that came with the message
	r               *Report
	parts           int
	text            strings.Builder
	html            strings.Builder
	hasDSN          bool
	hasARF          bool
	hasMDN          bool // RFC 8098 read receipt
	top             int  // the depth this message starts at (0 for a report, more for a forwarded one)
	budget          *budget
	tri             *triage // the text triage reads, once the text is final
	wholeAt         int     // the depth of the decrypted entity that is the whole message, or -1
}

func (p *parser) warn(format string, args ...any) {
	if len(p.r.Warnings) < 50 {
		p.r.Warnings = append(p.r.Warnings, fmt.Sprintf(format, args...))
	}
}

var addrInText = regexp.MustCompile(`[A-Za-z0-9._%+\-=]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)

func (p *parser) header(h mail.Header) {
	r := p.r
	if from, err := h.AddressList("From"); err == nil && len(from) > 0 {
		r.From = strings.ToLower(from[0].Address)
		r.FromName = from[0].Name
	} else if raw := h.Get("From"); raw != "" {
		// Best effort on a From line that is not RFC 5322: take the first
		// address-like token, and say so.
		if m := addrInText.FindString(raw); m != "" {
			r.From = strings.ToLower(m)
		}
		p.warn("From header is malformed (%v); read address %q", err, r.From)
	}
	if r.From != "" {
		r.FromSource = "from"
	} else {
		// No usable From: RFC 5322 section 3.6.2 names Sender as the
		// mailbox responsible for sending; Return-Path is the envelope
		// sender the delivering MTA recorded (RFC 5321 section 4.4).
		if a, err := h.AddressList("Sender"); err == nil && len(a) > 0 && a[0].Address != "" {
			r.From, r.FromSource = strings.ToLower(a[0].Address), "sender"
			if r.FromName == "" {
				r.FromName = a[0].Name
			}
		} else if rp := strings.Trim(strings.TrimSpace(h.Get("Return-Path")), "<>"); rp != "" && addrInText.MatchString(rp) {
			r.From, r.FromSource = strings.ToLower(addrInText.FindString(rp)), "return-path"
		}
		if r.FromSource != "" {
			p.warn("no From address: the reporter is taken from %s", map[string]string{"sender": "Sender", "return-path": "Return-Path"}[r.FromSource])
		}
	}
	if to, err := h.AddressList("To"); err == nil {
		for _, a := range to {
			r.To = append(r.To, strings.ToLower(a.Address))
		}
	}
	subj, err := h.Subject()
	if err != nil {
		p.warn("Subject: %v; kept undecoded", err)
		subj = h.Get("Subject")
	}
	r.Subject = cleanLine(subj)
	if d, err := h.Date(); err == nil {
		r.Date = d.UTC()
	} else if h.Get("Date") != "" {
		p.warn("Date header unreadable: %v", err)
	}
	r.Thread.MessageID, _ = h.MessageID()
	if irt, err := h.MsgIDList("In-Reply-To"); err == nil && len(irt) > 0 {
		r.Thread.InReplyTo = irt[0]
	}
	if refs, err := h.MsgIDList("References"); err == nil {
		r.Thread.References = refs
	}
	r.Thread.IncidentTag = IncidentTag(r.Subject)
	p.autocrypt(h.Header)
	// RFC 3282: a declared language stands in when the text is too short to tell.
	if cl := strings.ToLower(strings.TrimSpace(h.Get("Content-Language"))); len(cl) >= 2 {
		p.contentLanguage = cl[:2]
	}
	p.authentication(h.Header)
	if reason := autoSubmitted(h.Header); reason != "" {
		r.AutoSubmitted = true
		r.AutoReason = reason
	}
}

// cleanLine folds a header value to one line of valid UTF-8.
func cleanLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Join(strings.Fields(s), " ")
}

// triage returns the text triage reads for subject and text, made once.
func (p *parser) triage(subject, text string) *triage {
	if p.tri == nil {
		p.tri = newTriage(subject, text)
	}
	return p.tri
}

// walk reads one entity; src, when not nil, is the bytes it was read from,
// so that a multipart body is split where it lies instead of copied.
func (p *parser) walk(e *message.Entity, depth int, src []byte) {
	p.parts++
	p.budget.parts++
	if p.budget.parts > p.lim.MaxParts {
		if p.budget.parts == p.lim.MaxParts+1 {
			p.warn("more than %d MIME parts; the rest were skipped", p.lim.MaxParts)
		}
		return
	}
	mediaType, params, err := e.Header.ContentType()
	if err != nil && e.Header.Get("Content-Type") != "" {
		mediaType, params = lenientMediaType(e.Header.Get("Content-Type"))
		p.warn("Content-Type %q malformed (%v); read as %s", e.Header.Get("Content-Type"), err, mediaType)
	}
	if mediaType == "" || !strings.Contains(mediaType, "/") {
		mediaType = "text/plain"
	}
	if mr := strings.HasPrefix(mediaType, "multipart/") && params["boundary"] != ""; mr {
		if depth >= p.lim.MaxDepth {
			p.warn("multipart nesting deeper than %d; inner parts skipped", p.lim.MaxDepth)
			return
		}
		switch {
		case mediaType == "multipart/signed" && strings.EqualFold(params["protocol"], "application/pgp-signature"):
			p.pgpSigned(e, params["boundary"], depth)
			return
		case mediaType == "multipart/encrypted" && strings.EqualFold(params["protocol"], "application/pgp-encrypted"):
			p.pgpEncrypted(e, depth)
			return
		}
		if mediaType == "multipart/report" {
			switch strings.ToLower(params["report-type"]) {
			case "delivery-status":
				p.hasDSN = true
			case "feedback-report":
				p.hasARF = true
			case "disposition-notification":
				p.hasMDN = true
			}
		}
		// Not go-message's multipart reader: it stops at the first fault,
		// and real mail has many.
		body, ok := bodyBytes(src, e.Header)
		if !ok {
			var err error
			if body, err = io.ReadAll(p.decode(e.Body)); err != nil {
				p.warn("multipart/%s body: %v; read what was readable", strings.TrimPrefix(mediaType, "multipart/"), err)
			}
		}
		parts, problems := splitMultipart(body, params["boundary"])
		for _, pr := range problems {
			p.warn("multipart/%s: %s", strings.TrimPrefix(mediaType, "multipart/"), pr)
		}
		for _, chunk := range parts {
			if p.budget.parts >= p.lim.MaxParts {
				p.parts++
				p.budget.parts++
				p.warn("more than %d MIME parts; the rest were skipped", p.lim.MaxParts)
				break
			}
			p.walkPart(chunk, depth+1)
		}
		return
	}

	disp, dparams, err := e.Header.ContentDisposition()
	if err != nil && e.Header.Get("Content-Disposition") != "" {
		disp, dparams = lenientMediaType(e.Header.Get("Content-Disposition"))
	}
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if name != "" {
		if dec, err := wordDecoder.DecodeHeader(name); err == nil {
			name = dec
		}
		name = cleanLine(name)
	}
	switch {
	case mediaType == "message/delivery-status":
		p.hasDSN = true
	case mediaType == "message/feedback-report":
		p.hasARF = true
	case mediaType == "message/disposition-notification", mediaType == "message/global-disposition-notification":
		p.hasMDN = true
	}
	isText := mediaType == "text/plain" || mediaType == "text/html"
	if isText && disp != "attachment" && name == "" {
		p.readText(e, mediaType)
		return
	}
	p.readAttachment(e, mediaType, name, depth)
}

// wordDecoder decodes RFC 2047 encoded words in every charset go-message
// knows, not only UTF-8 and ISO-8859-1.
var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// lenientMediaType reads a Content-Type or Content-Disposition value that
// mime.ParseMediaType refuses (an unquoted encoded word, a doubled
// semicolon, a stray character) the way mail clients do: the value up to
// the first ";" is the type, and every "key=value" after it a parameter,
// quotes removed; an RFC 2231 "key*=charset”value" is percent-decoded.
func lenientMediaType(v string) (string, map[string]string) {
	var fields []string
	inQuote, last := false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			inQuote = !inQuote
		case ';':
			if !inQuote {
				fields = append(fields, v[last:i])
				last = i + 1
			}
		}
	}
	fields = append(fields, v[last:])
	mt := strings.ToLower(strings.TrimSpace(fields[0]))
	if i := strings.IndexAny(mt, " \t"); i >= 0 {
		mt = mt[:i]
	}
	params := map[string]string{}
	for _, f := range fields[1:] {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.Trim(strings.TrimSpace(val), `"`)
		if base, ok := strings.CutSuffix(k, "*"); ok {
			if _, enc, ok := strings.Cut(val, "''"); ok {
				if dec, err := url.PathUnescape(enc); err == nil {
					val = dec
				}
			}
			k = base
		}
		if k != "" && params[k] == "" {
			params[k] = val
		}
	}
	return mt, params
}

// errBudget ends reading when a message's decoded-bytes budget is spent.
var errBudget = errors.New("decoded-bytes budget of the message spent")

// decode counts what r yields against the message's decoded-bytes
// budget, and fails with errBudget once it is spent (said once).
func (p *parser) decode(r io.Reader) io.Reader { return &budgetReader{p: p, r: r} }

type budgetReader struct {
	p *parser
	r io.Reader
}

func (b *budgetReader) Read(buf []byte) (int, error) {
	bud := b.p.budget
	if bud.decoded <= 0 {
		if !bud.exhausted {
			bud.exhausted = true
			b.p.warn("more than %d bytes decoded from this message (limits.max_decoded_bytes): the rest was not read", b.p.lim.MaxDecodedBytes)
		}
		return 0, errBudget
	}
	if int64(len(buf)) > bud.decoded {
		buf = buf[:bud.decoded]
	}
	n, err := b.r.Read(buf)
	bud.decoded -= int64(n)
	return n, err
}

// splitMultipart splits a multipart body (RFC 2046 section 5.1.1) as
// mail clients do, tolerating what real mail gets wrong: LF line ends,
// doubled delimiters (the empty part between them is skipped), a missing
// close delimiter, and a longer boundary that begins with this one (a line
// "--b-1" is content, not a delimiter of "b"). It returns the parts, each
// its header and body, and the faults found.
func splitMultipart(body []byte, boundary string) (parts [][]byte, problems []string) {
	if boundary == "" {
		return nil, []string{"no boundary parameter; body skipped"}
	}
	delim := []byte("--" + boundary)
	start := -1 // where the current part began; -1 in the preamble
	closed := false
	empty := 0
	for off := 0; off < len(body); {
		end := bytes.IndexByte(body[off:], '\n')
		next := len(body)
		if end >= 0 {
			next = off + end + 1
		}
		line := bytes.TrimRight(body[off:next], "\r\n")
		if rest, ok := bytes.CutPrefix(line, delim); ok {
			isClose := bytes.HasPrefix(rest, []byte("--"))
			if isClose {
				rest = rest[2:]
			}
			if len(bytes.Trim(rest, " \t")) == 0 { // a delimiter line (transport padding allowed)
				if start >= 0 {
					part := body[start:off]
					// The line break before a delimiter belongs to it.
					part = bytes.TrimSuffix(part, []byte("\n"))
					part = bytes.TrimSuffix(part, []byte("\r"))
					if len(bytes.TrimSpace(part)) == 0 {
						empty++
					} else {
						parts = append(parts, part)
					}
				}
				if isClose {
					closed = true
					break
				}
				start = next
			}
		}
		off = next
	}
	switch {
	case start < 0:
		problems = append(problems, "no boundary line found; body skipped")
	case !closed:
		if part := body[start:]; len(bytes.TrimSpace(part)) > 0 {
			parts = append(parts, part)
		}
		problems = append(problems, "missing final boundary; read to the end")
	}
	if empty > 0 {
		problems = append(problems, fmt.Sprintf("%d empty part(s) (doubled boundary) skipped", empty))
	}
	return parts, problems
}

// bodyBytes returns the body of the entity read from src, undecoded, when
// it needs no decoding (RFC 2046 section 5.1: a multipart body has no
// transfer encoding but 7bit, 8bit or binary): it follows the first empty
// line.
func bodyBytes(src []byte, h message.Header) ([]byte, bool) {
	if src == nil {
		return nil, false
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "", "7bit", "8bit", "binary":
	default:
		return nil, false
	}
	for off := 0; off < len(src); {
		end := bytes.IndexByte(src[off:], '\n')
		if end < 0 {
			return nil, false
		}
		line := bytes.TrimRight(src[off:off+end], "\r")
		off += end + 1
		if len(line) == 0 {
			return src[off:], true
		}
	}
	return nil, false
}

// walkPart reads one body part, mending its header as repairHeader does
// for a message, or taking it as plain text when it has none.
func (p *parser) walkPart(chunk []byte, depth int) {
	ent, err := message.Read(bytes.NewReader(chunk))
	src := chunk
	if ent == nil {
		if fixed, how := repairHeader(chunk); fixed != nil {
			if ent, err = message.Read(bytes.NewReader(fixed)); ent != nil {
				src = fixed
				for _, h := range how {
					p.warn("part %d: %s", p.parts+1, h)
				}
			}
		}
	}
	if ent == nil {
		ent, err = message.Read(io.MultiReader(strings.NewReader("\r\n"), bytes.NewReader(chunk)))
		src = nil
		if ent == nil {
			p.warn("part %d unreadable: %v; skipped", p.parts+1, err)
			return
		}
		p.warn("part %d has no readable header; read as text", p.parts+1)
	} else if err != nil {
		p.warn("part %d: %v; read undecoded", p.parts+1, err)
	}
	p.walk(ent, depth, src)
}

func (p *parser) readText(e *message.Entity, mediaType string) {
	dst := &p.text
	if mediaType == "text/html" {
		dst = &p.html
	}
	remaining := p.lim.MaxTextBytes - int64(dst.Len())
	if remaining <= 0 {
		p.warn("text beyond %d bytes was not kept", p.lim.MaxTextBytes)
		return
	}
	b, err := io.ReadAll(io.LimitReader(p.decode(e.Body), remaining+1))
	if err != nil {
		p.warn("%s part: %v; kept what was readable", mediaType, err)
	}
	if int64(len(b)) > remaining {
		b = b[:remaining]
		p.warn("text beyond %d bytes was not kept", p.lim.MaxTextBytes)
	}
	if !utf8.Valid(b) {
		p.warn("%s part is not valid UTF-8 after decoding; invalid bytes replaced", mediaType)
		b = []byte(strings.ToValidUTF8(string(b), "\uFFFD"))
	}
	if dst.Len() > 0 {
		dst.WriteString("\n")
	}
	dst.Write(b)
}

func (p *parser) readAttachment(e *message.Entity, mediaType, name string, depth int) {
	if name == "" {
		name = "part" + fmt.Sprint(p.parts) + extFor(mediaType)
	}
	h := sha256.New()
	writers := []io.Writer{h}
	sink := p.opt.Attachments
	var stored AttachmentWriter
	if sink != nil {
		var err error
		if stored, err = sink.Begin(name, mediaType); err != nil {
			p.warn("attachment %q could not be stored: %v", name, err)
		} else {
			writers = append(writers, stored)
		}
	}
	// Keep bytes in memory only to read them here, and only up to the limit:
	// past it, what was kept is dropped rather than held for nothing.
	var kept *capWriter
	if sink == nil || analysed(mediaType, name) {
		kept = &capWriter{max: p.lim.MaxAttachmentBytes}
		writers = append(writers, kept)
	}
	n, err := io.Copy(io.MultiWriter(writers...), p.decode(e.Body))
	if err != nil {
		p.warn("attachment %q: %v; hashed what was readable", name, err)
	}
	a := Attachment{Name: name, ContentType: mediaType, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	if stored != nil {
		if err := stored.Finish(a.SHA256, n); err != nil {
			p.warn("attachment %q could not be stored: %v", name, err)
		} else {
			a.Stored = true
		}
	}
	if kept != nil && !kept.over {
		data := kept.buf.Bytes()
		switch {
		case mediaType == "application/pgp-keys":
			p.offerKeys(data, bytes.Contains(data, []byte("-----BEGIN PGP")))
		case mediaType == "message/feedback-report":
			p.feedbackReport(data)
		case mediaType == "message/rfc822":
			p.forwarded(data, depth)
		case p.xarf && mediaType == "text/plain" && name != "" && p.r.Feedback == nil:
			p.xarfReport(data)
		case p.r.IODEF == nil && looksLikeIODEF(mediaType, data):
			p.iodef(data)
		case hostList(mediaType, name):
			// A CSV or JSON list of affected hosts: its addresses are indicators.
			p.forwardedText.Write(data[:min(len(data), 1<<20)])
			p.forwardedText.WriteByte('\n')
		}
		if sink == nil {
			a.Content = data
		}
	}
	if kept != nil && kept.over && sink == nil {
		a.Truncated = true
		p.warn("attachment %q is %d bytes, over the %d-byte limit: hashed, not kept", name, n, p.lim.MaxAttachmentBytes)
	}
	p.r.Attachments = append(p.r.Attachments, a)
}

// analysed reports whether the parser reads attachments of this kind
// itself, and so needs their bytes.
func analysed(mediaType, name string) bool {
	switch {
	case mediaType == "application/pgp-keys", mediaType == "message/feedback-report", mediaType == "message/rfc822",
		mediaType == "application/iodef+xml", mediaType == "application/octet-stream",
		strings.HasPrefix(mediaType, "text/"), strings.HasSuffix(mediaType, "xml"), hostList(mediaType, name):
		return true
	}
	return false
}

func hostList(mediaType, name string) bool {
	n := strings.ToLower(name)
	return mediaType == "text/csv" || mediaType == "application/json" || mediaType == "text/tab-separated-values" ||
		strings.HasSuffix(n, ".csv") || strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".tsv")
}

// capWriter keeps what is written while it fits in max bytes; once more
// comes, it drops what it kept (over) and keeps nothing more, so that a
// large part is hashed without being held.
type capWriter struct {
	buf  bytes.Buffer
	max  int64
	over bool
}

func (w *capWriter) Write(b []byte) (int, error) {
	if !w.over {
		if int64(w.buf.Len()+len(b)) > w.max {
			w.over = true
			w.buf = bytes.Buffer{}
		} else {
			w.buf.Write(b)
		}
	}
	return len(b), nil
}

func extFor(mediaType string) string {
	switch mediaType {
	case "text/plain":
		return ".txt"
	case "text/html":
		return ".html"
	case "message/rfc822":
		return ".eml"
	case "message/delivery-status", "message/feedback-report":
		return ".txt"
	}
	if exts, _ := mime.ExtensionsByType(mediaType); len(exts) > 0 {
		return exts[0]
	}
	return ".bin"
}

// finish fills the fields derived from what was read.
func (p *parser) finish() {
	r := p.r
	r.Text = strings.TrimSpace(p.text.String())
	if r.Text == "" && p.html.Len() > 0 {
		r.Text = strings.TrimSpace(htmlToText(p.html.String()))
	}
	r.Text = strings.TrimSpace(p.inlinePGP(r.Text))
	p.inlineForwards(r.Text)
	classify(r, p)
	names := make([]string, 0, len(r.Attachments))
	for _, a := range r.Attachments {
		names = append(names, a.Name)
	}
	corpus := r.Subject + "\n" + r.Text + "\n" + strings.Join(names, "\n") + "\n" + p.forwardedText.String()
	if f := r.Feedback; f != nil {
		corpus += "\n" + f.SourceIP + "\n" + f.ReportedDomain + "\n" + f.ReportedURI
	}
	r.CVEs = findCVEs(corpus)
	r.CWEs = findCWEs(corpus)
	r.CVSS = findCVSS(corpus)
	r.Indicators = findIndicators(corpus)
	// RFC 3282: a declared language stands in when the text does not tell.
	lang, sure := guessLanguage(r.Subject + "\n" + r.Text)
	if !sure && p.contentLanguage != "" {
		lang = p.contentLanguage
	}
	r.Language = lang
	r.Organisation = guessOrganisation(r.FromName, r.From)
	r.Versions = findVersions(r.Subject + "\n" + r.Text)
	p.spoofSigns()
	if r.SpoofSigns == nil {
		r.SpoofSigns = []string{}
	}
	r.Priority, r.PriorityReasonCodes = priorityHint(r, p.triage(r.Subject, r.Text))
	if p.opt.Policy != nil {
		p.opt.Policy.apply(r)
	}
	r.PriorityReasons = make([]string, len(r.PriorityReasonCodes))
	for i, why := range r.PriorityReasonCodes {
		r.PriorityReasons[i] = why.English()
	}
	if r.AffectedAssets == nil {
		r.AffectedAssets = []string{}
	}
	if r.From == "" {
		p.warn("no reporter address could be read")
	}
	if r.Attachments == nil {
		r.Attachments = []Attachment{}
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	if r.Thread.References == nil {
		r.Thread.References = []string{}
	}
	if r.Forwarded == nil {
		r.Forwarded = []Forwarded{}
	}
}

// IsNotAMessage reports whether err means the input was not mail at all.
func IsNotAMessage(err error) bool { return errors.Is(err, ErrNotAMessage) }

package parsers

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/emersion/go-message"
)

// Keyring is the OpenPGP keys Parse may use: the desk's private keys, to
// decrypt reports sent to it, and the public keys of known reporters, to
// verify their signatures. It is data handed in, so Parse stays pure.
type Keyring struct {
	entities openpgp.EntityList
}

// ReadKeyring reads armored keys (public or private; several per block
// are fine).
func ReadKeyring(armored ...[]byte) (*Keyring, error) {
	k := &Keyring{}
	for i, a := range armored {
		el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(a))
		if err != nil {
			return nil, fmt.Errorf("key block %d: %w", i+1, err)
		}
		k.entities = append(k.entities, el...)
	}
	return k, nil
}

func (k *Keyring) list() openpgp.EntityList {
	if k == nil {
		return nil
	}
	return k.entities
}

// Options are what Parse is given besides the bytes.
type Options struct {
	Limits
	// Keys decrypts and verifies; nil means OpenPGP content is detected
	// and reported, not opened.
	Keys *Keyring
	// Now is the time signatures are checked at (zero: the wall clock).
	Now time.Time
	// TrustedAuthServIDs are the receiving servers whose
	// Authentication-Results headers are believed (RFC 8601 section 5).
	TrustedAuthServIDs []string
	// OwnDomains are the organisation's domains: a display name naming
	// one on mail from elsewhere is flagged.
	OwnDomains []string
	// Policy refines the priority; nil means the built-in reading only.
	Policy *Policy
	// EarlierKeys are keys this sender offered in earlier mail (trust on
	// first use): a signature by one verifies, and says so.
	EarlierKeys *Keyring
	// Attachments, if set, receives every attachment's decoded bytes as
	// they are read, so that an attachment of any size costs no memory:
	// only the kinds the parser reads itself (keys, feedback and IODEF
	// reports, forwarded messages, host lists, text) are also kept, up to
	// MaxAttachmentBytes, while parsing, and no Attachment keeps Content.
	// Nil: attachments are kept in Content up to MaxAttachmentBytes.
	Attachments AttachmentSink
}

// AttachmentSink stores attachments as they are decoded (the daemon: to
// a content-addressed file). It is the parser's only way out, so Parse
// stays pure when it is nil.
type AttachmentSink interface {
	// Begin starts one attachment.
	Begin(name, mediaType string) (AttachmentWriter, error)
}

// AttachmentWriter takes one attachment's bytes; Finish is called with
// their SHA-256 (hex) and size once all were written (when the part broke
// off early, of what could be read).
type AttachmentWriter interface {
	io.Writer
	Finish(sha256 string, size int64) error
}

// OfferedKey is a public key that came with the message.
type OfferedKey struct {
	Fingerprint string
	Emails      []string // the addresses of its user IDs
	Armored     string
}

func (p *parser) pgpConfig() *packet.Config {
	if p.opt.Now.IsZero() {
		return nil
	}
	now := p.opt.Now
	return &packet.Config{Time: func() time.Time { return now }}
}

func fingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint))
}

// keyringWithOffered is the desk keyring plus the keys that came with the
// message (Autocrypt header, attached keys).
func (p *parser) keyringWithOffered() openpgp.EntityList {
	return append(append(append(openpgp.EntityList{}, p.opt.Keys.list()...), p.opt.EarlierKeys.list()...), p.offered...)
}

// signer fills the signature fields of r.PGP from the outcome of a check.
// A good signature makes the report verified only when it is bound to the
// report: it covers the whole message text (whole), its key is not the
// desk's own (the desk's key never vouches for mail sent to the desk), and
// one of the key's user ids is the sender's From address. Anything less is
// reported, with why, and not verified.
func (p *parser) signer(e *openpgp.Entity, issuer uint64, err error, whole bool) {
	g := &p.r.PGP
	g.Signed = true
	known := err == nil && e != nil && inList(p.opt.Keys.list(), e)
	earlier := err == nil && e != nil && inList(p.opt.EarlierKeys.list(), e)
	switch {
	case (known || earlier) && e.PrivateKey != nil:
		g.Signer = fingerprint(e)
		g.Reason = appendReason(g.Reason, "signed by the desk's own key "+g.Signer+", which never verifies mail sent to the desk: not verified")
	case (known || earlier) && !whole:
		g.Signer = fingerprint(e)
		g.Reason = appendReason(g.Reason, "good signature by "+g.Signer+" over only part of the message: not verified")
	case (known || earlier) && !hasUserID(e, p.r.From):
		g.Signer = fingerprint(e)
		g.Reason = appendReason(g.Reason, fmt.Sprintf("good signature by %s, but none of its user ids is the sender %q: not verified", g.Signer, p.r.From))
	case known:
		g.Verified, g.Signer = true, fingerprint(e)
		g.Reason = appendReason(g.Reason, "good signature by "+g.Signer+" (known key)")
	case earlier:
		g.Verified, g.Signer = true, fingerprint(e)
		g.Reason = appendReason(g.Reason, "good signature by "+g.Signer+" (key from earlier mail of this sender: trust on first use)")
	case err == nil && e != nil:
		g.Signer = fingerprint(e)
		g.Reason = appendReason(g.Reason, "good signature by "+g.Signer+", but the key came with this message and is not yet known to the desk")
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		g.Signer = fmt.Sprintf("key id %016X", issuer)
		g.Reason = appendReason(g.Reason, "signed by unknown key "+g.Signer+": not verified")
	default:
		g.Reason = appendReason(g.Reason, fmt.Sprintf("BAD signature: %v", err))
	}
}

// hasUserID reports whether one of e's user ids has the address addr.
func hasUserID(e *openpgp.Entity, addr string) bool {
	if addr == "" {
		return false
	}
	for _, id := range e.Identities {
		if id.UserId != nil && strings.EqualFold(strings.TrimSpace(id.UserId.Email), addr) {
			return true
		}
	}
	return false
}

func inList(list openpgp.EntityList, e *openpgp.Entity) bool {
	for _, k := range list {
		if bytes.Equal(k.PrimaryKey.Fingerprint, e.PrimaryKey.Fingerprint) {
			return true
		}
	}
	return false
}

func appendReason(old, s string) string {
	if old == "" {
		return s
	}
	return old + "; " + s
}

// maxSignedBytes bounds how much decrypted (and decompressed) content is
// read to check a signature over it: past it, the signature is reported
// unchecked, never good.
const maxSignedBytes = 256 << 20

// decrypt opens an OpenPGP message (armored or binary), returning the
// plaintext and recording the outcome. A signature inside is checked.
func (p *parser) decrypt(data []byte, whole bool) ([]byte, bool) {
	g := &p.r.PGP
	g.Encrypted = true
	if p.opt.Keys == nil {
		g.Reason = appendReason(g.Reason, "encrypted; no keys were given to decrypt it")
		return nil, false
	}
	in := io.Reader(bytes.NewReader(data))
	if blk, err := armor.Decode(bytes.NewReader(data)); err == nil {
		in = blk.Body
	}
	md, err := openpgp.ReadMessage(in, p.keyringWithOffered(), nil, p.pgpConfig())
	if err != nil {
		if errors.Is(err, pgperrors.ErrKeyIncorrect) {
			g.Reason = appendReason(g.Reason, "encrypted to a key the desk does not hold: cannot decrypt")
		} else {
			g.Reason = appendReason(g.Reason, fmt.Sprintf("cannot decrypt: %v", err))
		}
		return nil, false
	}
	limit := p.lim.MaxAttachmentBytes
	body := p.decode(md.UnverifiedBody)
	plain, err := io.ReadAll(io.LimitReader(body, limit+1))
	// The library checks a signature only when the signed data has been
	// read to its end: what is cut must still be read (and dropped), or a
	// padded message naming a known key would pass unchecked.
	readToEnd := err == nil
	if errors.Is(err, errBudget) {
		// What was decoded within the budget is read; the rest, and so the
		// signature, is not.
		g.Reason = appendReason(g.Reason, "decrypted content exceeds the message's decoded-bytes budget: cut")
		err = nil
	}
	if int64(len(plain)) > limit {
		g.Reason = appendReason(g.Reason, fmt.Sprintf("decrypted content exceeds %d bytes: cut", limit))
		plain = plain[:limit]
		n, derr := io.Copy(io.Discard, io.LimitReader(body, maxSignedBytes))
		readToEnd = derr == nil && n < maxSignedBytes
	} else if err != nil {
		g.Reason = appendReason(g.Reason, fmt.Sprintf("decryption failed: %v", err))
		return nil, false
	}
	g.Decrypted = true
	g.Reason = appendReason(g.Reason, "decrypted")
	if md.IsSigned && !readToEnd {
		g.Signed = true
		g.Reason = appendReason(g.Reason, fmt.Sprintf("signature not checked: the signed content is larger than %d bytes and was not read to its end: not verified", maxSignedBytes))
		return plain, true
	}
	if md.IsSigned {
		var e *openpgp.Entity
		if md.SignedBy != nil {
			e = md.SignedBy.Entity
		}
		serr := md.SignatureError
		if md.SignedBy == nil && serr == nil {
			serr = pgperrors.ErrUnknownIssuer
		}
		p.signer(e, md.SignedByKeyId, serr, whole)
	}
	return plain, true
}

// pgpEncrypted handles RFC 3156 section 4 multipart/encrypted: the second
// part holds the OpenPGP message, whose plaintext is a MIME entity.
func (p *parser) pgpEncrypted(e *message.Entity, depth int) {
	mr := e.MultipartReader()
	var ciphertext []byte
	for {
		part, err := mr.NextPart()
		if part == nil || err == io.EOF {
			break
		}
		if t, _, _ := part.Header.ContentType(); t == "application/octet-stream" {
			ciphertext, _ = io.ReadAll(io.LimitReader(p.decode(part.Body), p.lim.MaxAttachmentBytes))
		}
	}
	if ciphertext == nil {
		p.r.PGP.Encrypted = true
		p.warn("multipart/encrypted without an application/octet-stream part")
		return
	}
	// Encrypted and signed in one OpenPGP message: the signature covers
	// the report when this container is the message itself.
	whole := depth == p.top
	plain, ok := p.decrypt(ciphertext, whole)
	if !ok {
		return
	}
	inner, err := message.Read(bytes.NewReader(plain))
	if inner == nil {
		p.warn("decrypted content is not a MIME entity (%v); kept as text", err)
		p.text.Write(plain)
		return
	}
	// RFC 9788 protected headers: the real subject travels inside.
	if _, params, _ := inner.Header.ContentType(); params["protected-headers"] == "v1" {
		if s, err := wordDecoder.DecodeHeader(inner.Header.Get("Subject")); err == nil && s != "" {
			p.r.Subject = cleanLine(s)
		}
	}
	if whole {
		p.wholeAt = depth + 1 // the decrypted entity is the whole message
	}
	p.walk(inner, depth+1, nil)
}

// pgpSigned handles RFC 3156 section 5 multipart/signed: the signature
// covers the first part's exact bytes, CRLF-canonical.
func (p *parser) pgpSigned(e *message.Entity, boundary string, depth int) {
	body, _ := io.ReadAll(io.LimitReader(p.decode(e.Body), p.lim.MaxAttachmentBytes))
	parts := splitParts(body, boundary)
	if len(parts) < 2 {
		p.r.PGP.Signed = true
		p.warn("multipart/signed with %d parts; read as plain", len(parts))
		if len(parts) == 1 {
			p.walkRaw(parts[0], depth)
		}
		return
	}
	signed, sigPart := parts[0], parts[1]
	_, sig, _ := bytes.Cut(sigPart, []byte("\r\n\r\n"))
	// Read the content first: a key attached inside it is offered too.
	p.walkRaw(signed, depth)
	if blk, err := armor.Decode(bytes.NewReader(sig)); err == nil {
		sig, _ = io.ReadAll(blk.Body)
	}
	// RFC 3156: a signature over the message itself, or over the whole
	// decrypted content of an encrypted message.
	p.checkDetached(signed, sig, depth == p.top || depth == p.wholeAt)
}

func (p *parser) walkRaw(raw []byte, depth int) {
	ent, err := message.Read(bytes.NewReader(raw))
	if ent == nil {
		p.warn("signed part unreadable: %v", err)
		return
	}
	p.walk(ent, depth+1, raw)
}

// checkDetached checks the binary detached signature sig over signed and
// records the outcome, naming the issuer's key id when it is unknown.
func (p *parser) checkDetached(signed, sig []byte, whole bool) {
	_, signer, err := openpgp.VerifyDetachedSignature(p.keyringWithOffered(), bytes.NewReader(signed), bytes.NewReader(sig), p.pgpConfig())
	var issuer uint64
	if pk, perr := packet.Read(bytes.NewReader(sig)); perr == nil {
		if s, ok := pk.(*packet.Signature); ok && s.IssuerKeyId != nil {
			issuer = *s.IssuerKeyId
		}
	}
	p.signer(signer, issuer, err, whole)
}

// splitParts returns the raw body parts of a multipart body (RFC 2046
// 5.1.1: the CRLF before a delimiter belongs to it), after making bare LF
// line ends CRLF, as signatures are computed over the canonical form.
func splitParts(body []byte, boundary string) [][]byte {
	if !bytes.Contains(body, []byte("\r\n")) {
		body = bytes.ReplaceAll(body, []byte("\n"), []byte("\r\n"))
	}
	delim := []byte("\r\n--" + boundary)
	chunks := bytes.Split(append([]byte("\r\n"), body...), delim)
	var parts [][]byte
	for i, c := range chunks {
		if i == 0 {
			continue // preamble
		}
		if bytes.HasPrefix(c, []byte("--")) {
			break // close delimiter
		}
		// Drop the rest of the delimiter line (transport padding, CRLF).
		if j := bytes.Index(c, []byte("\r\n")); j >= 0 {
			parts = append(parts, c[j+2:])
		}
	}
	return parts
}

// SplitSigned returns, for a whole RFC 3156 multipart/signed message, the
// signed first part exactly as it stands, the armored signature and the
// micalg parameter.
func SplitSigned(raw []byte) (signed, sig []byte, micalg string, err error) {
	ent, err := message.Read(bytes.NewReader(raw))
	if ent == nil {
		return nil, nil, "", err
	}
	mt, params, _ := ent.Header.ContentType()
	if mt != "multipart/signed" || !strings.EqualFold(params["protocol"], "application/pgp-signature") {
		return nil, nil, "", fmt.Errorf("content type %q is not multipart/signed with protocol application/pgp-signature", mt)
	}
	body, _ := io.ReadAll(ent.Body)
	parts := splitParts(body, params["boundary"])
	if len(parts) != 2 {
		return nil, nil, "", fmt.Errorf("multipart/signed has %d parts, want 2", len(parts))
	}
	_, sig, ok := bytes.Cut(parts[1], []byte("\r\n\r\n"))
	if !ok {
		return nil, nil, "", errors.New("signature part has no body")
	}
	return parts[0], sig, params["micalg"], nil
}

var (
	pgpMessageRE = regexp.MustCompile(`(?s)-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----`)
	autocryptRE  = regexp.MustCompile(`(?i)(?:^|;)\s*keydata\s*=\s*([A-Za-z0-9+/=\s]+)`)
)

// inlinePGP opens inline PGP in the text body: an encrypted block is
// replaced by its plaintext, a cleartext-signed block by its verified text.
func (p *parser) inlinePGP(text string) string {
	if p.r.PGP.Encrypted || p.r.PGP.Signed {
		return text // PGP/MIME already handled
	}
	if blk := pgpMessageRE.FindString(text); blk != "" {
		// Whole when nothing but white space stands around the block.
		whole := strings.TrimSpace(strings.Replace(text, blk, "", 1)) == ""
		plain, ok := p.decrypt([]byte(strings.ReplaceAll(blk, "\r\n", "\n")), whole && p.top == 0)
		if !ok {
			return text
		}
		return strings.Replace(text, blk, strings.ToValidUTF8(string(plain), "\uFFFD"), 1)
	}
	if i := strings.Index(text, "-----BEGIN PGP SIGNED MESSAGE-----"); i >= 0 {
		b, rest := clearsign.Decode([]byte(text[i:]))
		if b == nil || b.ArmoredSignature == nil {
			p.r.PGP.Signed = true
			p.warn("inline PGP signature block is malformed")
			return text
		}
		sig, err := io.ReadAll(b.ArmoredSignature.Body)
		if err != nil {
			p.r.PGP.Signed = true
			p.warn("inline PGP signature unreadable: %v", err)
			return text
		}
		whole := strings.TrimSpace(text[:i]) == "" && len(bytes.TrimSpace(rest)) == 0
		p.checkDetached(b.Bytes, sig, whole)
		return text[:i] + string(b.Plaintext)
	}
	return text
}

// offerKeys collects keys the message carries: an Autocrypt header (the
// keydata attribute) and attached application/pgp-keys parts.
func (p *parser) offerKeys(data []byte, armored bool) {
	var el openpgp.EntityList
	var err error
	if armored {
		el, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		p.warn("offered OpenPGP key unreadable: %v", err)
		return
	}
	for _, e := range el {
		p.offered = append(p.offered, e)
		p.r.PGP.OfferedKeys = append(p.r.PGP.OfferedKeys, fingerprint(e))
		var buf bytes.Buffer
		if w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil); err == nil {
			if e.Serialize(w) == nil && w.Close() == nil {
				k := OfferedKey{Fingerprint: fingerprint(e), Armored: buf.String()}
				for _, id := range e.Identities {
					if id.UserId != nil && id.UserId.Email != "" {
						k.Emails = append(k.Emails, strings.ToLower(id.UserId.Email))
					}
				}
				p.r.OfferedKeyData = append(p.r.OfferedKeyData, k)
			}
		}
	}
}

func (p *parser) autocrypt(h message.Header) {
	v := h.Get("Autocrypt")
	if v == "" {
		return
	}
	m := autocryptRE.FindStringSubmatch(v)
	if m == nil {
		return
	}
	data, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(m[1]), ""))
	if err != nil {
		p.warn("Autocrypt keydata is not base64: %v", err)
		return
	}
	p.offerKeys(data, false)
}

package responders

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/gopenpgp/v2/crypto"
	"github.com/emersion/go-message/textproto"
)

// ErrNoKey means no usable encryption key is known for a recipient.
var ErrNoKey = errors.New("no usable OpenPGP encryption key")

// EncryptionKey returns the first of candidates (armored public keys, best
// first) that can encrypt to address at now: not expired or revoked, with
// an encryption-capable (sub)key, and with a user id for address, since a
// key is evidence about its owner only. The fingerprint says which.
func EncryptionKey(address string, now time.Time, candidates ...[]byte) (ring *crypto.KeyRing, fingerprint string, err error) {
	var problems []string
	for _, arm := range candidates {
		entities, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(arm))
		if err != nil {
			problems = append(problems, "unreadable key: "+err.Error())
			continue
		}
		for _, e := range entities {
			fpr := strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
			if !hasIdentity(e, address) {
				problems = append(problems, fpr+" has no user id "+address)
				continue
			}
			if _, ok := e.EncryptionKey(now); !ok {
				problems = append(problems, fpr+" has no valid encryption key (expired, revoked or sign-only)")
				continue
			}
			k, err := crypto.NewKeyFromEntity(e)
			if err != nil {
				return nil, "", err
			}
			if k.IsPrivate() {
				if k, err = k.ToPublic(); err != nil {
					return nil, "", err
				}
			}
			ring, err := crypto.NewKeyRing(k)
			return ring, fpr, err
		}
	}
	if len(problems) == 0 {
		return nil, "", fmt.Errorf("%w for %s", ErrNoKey, address)
	}
	return nil, "", fmt.Errorf("%w for %s: %s", ErrNoKey, address, strings.Join(problems, "; "))
}

func hasIdentity(e *openpgp.Entity, address string) bool {
	for _, id := range e.Identities {
		if id.UserId != nil && strings.EqualFold(id.UserId.Email, address) {
			return true
		}
	}
	return false
}

// ComposeEncrypted returns m as an RFC 3156 section 6.2 PGP/MIME message,
// signed and encrypted in one OpenPGP message to the recipients in to (and
// to the desk's own key, so that the desk can read what it sent).
//
// The encrypted entity is the text part with the real headers inside it
// ("protected headers": Subject, From, To, Date, Message-ID), so a client
// that decrypts shows the true subject; the outer Subject is
// m.PublicSubject, which must reveal nothing but the incident tag.
func ComposeEncrypted(m Mail, k *Key, to *crypto.KeyRing) ([]byte, error) {
	if to == nil || to.CountEntities() == 0 {
		return nil, ErrNoKey
	}
	var inner bytes.Buffer
	ih := outerHeader(m)
	// textproto writes fields in reverse order of addition: these come first.
	ih.Set("Content-Transfer-Encoding", "quoted-printable")
	ih.Set("Content-Type", `text/plain; charset=utf-8; protected-headers="v1"`)
	ih.Del("Auto-Submitted")
	ih.Del("X-Auto-Response-Suppress")
	ih.Del("In-Reply-To")
	ih.Del("References")
	if err := textproto.WriteHeader(&inner, ih.Header.Header); err != nil {
		return nil, fmt.Errorf("writing inner header: %w", err)
	}
	inner.Write(encodeQP(m.Body))

	rcpts, err := to.Copy()
	if err != nil {
		return nil, err
	}
	self, err := k.ring.GetKeys()[0].ToPublic()
	if err != nil {
		return nil, err
	}
	if err := rcpts.AddKey(self); err != nil {
		return nil, err
	}
	ct, err := rcpts.Encrypt(crypto.NewPlainMessage(inner.Bytes()), k.ring)
	if err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	armored, err := ct.GetArmored()
	if err != nil {
		return nil, err
	}

	outer := m
	outer.Subject = m.PublicSubject
	if outer.Subject == "" {
		outer.Subject = "..."
	}
	var vh, dh textproto.Header
	vh.Set("Content-Description", "PGP/MIME version identification")
	vh.Set("Content-Type", "application/pgp-encrypted")
	dh.Set("Content-Disposition", `inline; filename="encrypted.asc"`)
	dh.Set("Content-Description", "OpenPGP encrypted message")
	dh.Set("Content-Type", `application/octet-stream; name="encrypted.asc"`)
	return composeMultipart(outer, `multipart/encrypted; protocol="application/pgp-encrypted"`,
		mimePart{vh, []byte("Version: 1\r\n")}, mimePart{dh, armorCRLF(armored)})
}

// IndexKeys splits an armored keyring into one armored public key per
// entity, indexed by the lower-case e-mail address of each of its user
// ids, so that finding a recipient's key does not parse the whole ring.
func IndexKeys(armored []byte) (map[string][][]byte, error) {
	entities, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		return nil, err
	}
	out := map[string][][]byte{}
	for _, e := range entities {
		k, err := crypto.NewKeyFromEntity(e)
		if err != nil {
			return nil, err
		}
		pub, err := k.GetArmoredPublicKey()
		if err != nil {
			return nil, err
		}
		for _, id := range e.Identities {
			if id.UserId != nil && id.UserId.Email != "" {
				addr := strings.ToLower(id.UserId.Email)
				out[addr] = append(out[addr], []byte(pub))
			}
		}
	}
	return out, nil
}

// Fingerprints lists the primary-key fingerprints (upper-case hex) of the
// armored keys, as the parser reports a signer.
func Fingerprints(armored []byte) ([]string, error) {
	entities, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entities {
		out = append(out, strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint)))
	}
	return out, nil
}

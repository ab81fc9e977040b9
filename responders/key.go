// Package responders holds Tocsin's ways out: composing and signing mail
// (RFC 5322, RFC 3156 PGP/MIME), submitting it over SMTP, and, as they come,
// Slack, Discord and webhooks. Each sender reports whether a failure is
// temporary, so that the outbox retries only those.
package responders

import (
	"bytes"
	stdcrypto "crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/gopenpgp/v2/crypto"
	"github.com/ProtonMail/gopenpgp/v2/helper"

	"tocsin/internal/atomicfile"
)

// Key is the desk's OpenPGP key: it signs every outgoing mail and
// security.txt.
type Key struct {
	ring      *crypto.KeyRing
	publicArm string
	fpr       string
}

// KeyTypes are the kinds of desk key LoadOrCreateKey generates: Ed25519
// with a Curve25519 subkey (small, fast, the default), or RSA for
// recipients whose software reads nothing newer.
var KeyTypes = []string{"ed25519", "rsa3072", "rsa4096"}

// LoadOrCreateKey reads the armored private key at path, or generates an
// OpenPGP v4 key of keyType (see KeyTypes; "" is ed25519) for name <email>
// there (mode 0600) when the file does not exist. GnuPG 2.2 reads v4 keys;
// it cannot read v6 ones.
func LoadOrCreateKey(path, name, email, keyType string) (k *Key, created bool, err error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		algo, bits := "x25519", 0
		switch keyType {
		case "", "ed25519":
		case "rsa3072":
			algo, bits = "rsa", 3072
		case "rsa4096":
			algo, bits = "rsa", 4096
		default:
			return nil, false, fmt.Errorf("unknown key type %q (want one of %v)", keyType, KeyTypes)
		}
		key, err := crypto.GenerateKey(name, email, algo, bits)
		if err != nil {
			return nil, false, fmt.Errorf("generating key: %w", err)
		}
		arm, err := key.Armor()
		if err != nil {
			return nil, false, fmt.Errorf("armoring key: %w", err)
		}
		if err := atomicfile.Write(path, []byte(arm), 0o600); err != nil {
			return nil, false, fmt.Errorf("writing key: %w", err)
		}
		k, err := newKey(key)
		return k, true, err
	case err != nil:
		return nil, false, fmt.Errorf("reading key: %w", err)
	}
	key, err := crypto.NewKeyFromArmored(string(data))
	if err != nil {
		return nil, false, fmt.Errorf("%s: not an armored OpenPGP key: %w", path, err)
	}
	if !key.IsPrivate() {
		return nil, false, fmt.Errorf("%s: holds a public key; the desk needs its private key", path)
	}
	if locked, _ := key.IsLocked(); locked {
		return nil, false, fmt.Errorf("%s: key is passphrase-protected; passphrases are not supported yet", path)
	}
	k, err = newKey(key)
	return k, false, err
}

func newKey(key *crypto.Key) (*Key, error) {
	ring, err := crypto.NewKeyRing(key)
	if err != nil {
		return nil, fmt.Errorf("building key ring: %w", err)
	}
	pub, err := key.GetArmoredPublicKey()
	if err != nil {
		return nil, fmt.Errorf("exporting public key: %w", err)
	}
	return &Key{ring: ring, publicArm: pub, fpr: strings.ToUpper(key.GetFingerprint())}, nil
}

// ArmoredPublicKey returns the public key for /pgp-key.asc.
func (k *Key) ArmoredPublicKey() string { return k.publicArm }

// Fingerprint returns the upper-case hex v4 fingerprint.
func (k *Key) Fingerprint() string { return k.fpr }

// SignDetached returns an armored detached signature over data, made with
// SHA-256 (RFC 3156's pgp-sha256, which every OpenPGP client reads), and
// its micalg name read back from the signature packet, so that the header
// always matches what was signed.
func (k *Key) SignDetached(data []byte) (armored, micalg string, err error) {
	var sig bytes.Buffer
	cfg := &packet.Config{DefaultHash: stdcrypto.SHA256}
	if err := openpgp.DetachSign(&sig, k.ring.GetKeys()[0].GetEntity(), bytes.NewReader(data), cfg); err != nil {
		return "", "", fmt.Errorf("signing: %w", err)
	}
	p, err := packet.Read(bytes.NewReader(sig.Bytes()))
	if err != nil {
		return "", "", fmt.Errorf("reading own signature: %w", err)
	}
	sp, ok := p.(*packet.Signature)
	if !ok {
		return "", "", fmt.Errorf("signing produced a %T, not a signature", p)
	}
	name, ok := micalgs[sp.Hash]
	if !ok {
		return "", "", fmt.Errorf("signature hash %v has no RFC 3156 micalg name", sp.Hash)
	}
	armored, err = crypto.NewPGPSignature(sig.Bytes()).GetArmored()
	return armored, name, err
}

// micalgs are the RFC 3156 section 5 / RFC 4880 section 9.4 names.
var micalgs = map[stdcrypto.Hash]string{
	stdcrypto.SHA1: "pgp-sha1", stdcrypto.SHA224: "pgp-sha224", stdcrypto.SHA256: "pgp-sha256",
	stdcrypto.SHA384: "pgp-sha384", stdcrypto.SHA512: "pgp-sha512",
}

// SignCleartext returns text as an OpenPGP cleartext-signed message
// (RFC 9580 section 7), as RFC 9116 asks of security.txt.
func (k *Key) SignCleartext(text string) (string, error) {
	return helper.SignCleartextMessage(k.ring, text)
}

// SignLine returns a detached signature over data as base64 on one line,
// for records kept one per line in a file (the audit anchors).
func (k *Key) SignLine(data []byte) (string, error) {
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, k.ring.GetKeys()[0].GetEntity(), bytes.NewReader(data), &packet.Config{DefaultHash: stdcrypto.SHA256}); err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig.Bytes()), nil
}

// VerifyLine checks a SignLine signature over data by this key.
func (k *Key) VerifyLine(data []byte, sig string) error {
	b, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("signature is not base64: %w", err)
	}
	return k.ring.VerifyDetached(crypto.NewPlainMessage(data), crypto.NewPGPSignature(b), 0)
}

// LoadKey reads the armored private key at path; unlike LoadOrCreateKey
// it never makes one (a command that only checks must not).
func LoadKey(path string) (*Key, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("reading key: %w", err)
	}
	k, _, err := LoadOrCreateKey(path, "", "", "")
	return k, err
}

// Package gpgtest checks Tocsin's OpenPGP output with GnuPG itself, the
// implementation most recipients run. Tests fail, rather than skip, when
// gpg is missing: interop with it is the point.
package gpgtest

import (
	"bytes"
	"crypto/rand"
	"time"

	"fmt"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message"

	"tocsin/parsers"
)

// Home is a throwaway GnuPG home directory.
type Home struct {
	t   testing.TB
	dir string
}

// NewHome makes an empty GnuPG home under t.TempDir().
func NewHome(t testing.TB) *Home {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg not found: OpenPGP interop tests need GnuPG (apt-get install gnupg)")
	}
	// gpg-agent's socket path must be short: keep the home under /tmp.
	dir, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o700)
	h := &Home{t: t, dir: dir}
	t.Cleanup(h.Close)
	return h
}

// Close stops the home's gpg-agent and removes the home.
func (h *Home) Close() {
	exec.Command("gpgconf", "--homedir", h.dir, "--kill", "all").Run()
	os.RemoveAll(h.dir)
}

// Shared returns a home not tied to one test, for keys that are slow to
// make and used by many tests; TestMain closes it. A failure in it panics,
// which fails the whole test binary loudly.
func Shared() *Home {
	return NewHome(sharedTB{})
}

type sharedTB struct{ testing.TB }

func (sharedTB) Helper()                           {}
func (sharedTB) Cleanup(func())                    {}
func (sharedTB) Fatal(args ...any)                 { panic("gpgtest: " + fmt.Sprint(args...)) }
func (sharedTB) Fatalf(format string, args ...any) { panic("gpgtest: " + fmt.Sprintf(format, args...)) }
func (sharedTB) TempDir() string {
	d, err := os.MkdirTemp("", "gpgtest")
	if err != nil {
		panic(err)
	}
	return d
}

// command is gpg in this home, unattended: no agent prompts, no passphrase,
// every imported key trusted (these homes hold only test keys).
func (h *Home) command(stdin []byte, args ...string) *exec.Cmd {
	base := []string{"--homedir", h.dir, "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", "", "--trust-model", "always"}
	cmd := exec.Command("gpg", append(base, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	return cmd
}

// Run runs gpg in the home with stdin and returns combined output.
func (h *Home) Run(stdin []byte, args ...string) (string, error) {
	h.t.Helper()
	out, err := h.command(stdin, args...).CombinedOutput()
	return string(out), err
}

// Import imports an armored key.
func (h *Home) Import(armored string) {
	h.t.Helper()
	if out, err := h.Run([]byte(armored), "--import"); err != nil {
		h.t.Fatalf("gpg --import: %v\n%s", err, out)
	}
}

// VerifyPGPMIME checks that raw is an RFC 3156 multipart/signed message
// whose signature GnuPG accepts, and that micalg names the hash actually
// used. It returns the signed part's bytes.
func (h *Home) VerifyPGPMIME(raw []byte) []byte {
	h.t.Helper()
	signed, sig, micalg, err := parsers.SplitSigned(raw)
	if err != nil {
		h.t.Fatalf("not RFC 3156 signed mail: %v", err)
	}
	d := h.t.TempDir()
	os.WriteFile(filepath.Join(d, "part"), signed, 0o600)
	os.WriteFile(filepath.Join(d, "part.sig"), sig, 0o600)
	out, err := h.Run(nil, "--verify", filepath.Join(d, "part.sig"), filepath.Join(d, "part"))
	if err != nil || !strings.Contains(out, "Good signature") {
		h.t.Fatalf("gpg --verify failed: %v\n%s", err, out)
	}
	pk, _ := h.Run(sig, "--list-packets")
	algos := map[string]string{"2": "pgp-sha1", "8": "pgp-sha256", "9": "pgp-sha384", "10": "pgp-sha512", "11": "pgp-sha224"}
	for num, name := range algos {
		if strings.Contains(pk, "digest algo "+num+",") && name != micalg {
			h.t.Fatalf("micalg=%s but the signature uses %s", micalg, name)
		}
	}
	return signed
}

// GenKey makes a key for uid ("Name <addr>"): "ed25519" (with a cv25519
// encryption subkey) or "rsa3072". It returns the fingerprint.
func (h *Home) GenKey(uid, algo string) string {
	h.t.Helper()
	primary, usage := algo, "sign"
	if algo == "rsa3072" {
		usage = "sign,encr"
	}
	if out, err := h.Run(nil, "--quick-gen-key", uid, primary, usage, "never"); err != nil {
		h.t.Fatalf("gpg --quick-gen-key: %v\n%s", err, out)
	}
	out, _ := h.Run(nil, "--with-colons", "--list-keys", uid)
	fpr := ""
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	if algo == "ed25519" {
		if out, err := h.Run(nil, "--quick-add-key", fpr, "cv25519", "encr", "never"); err != nil {
			h.t.Fatalf("gpg --quick-add-key: %v\n%s", err, out)
		}
	}
	return fpr
}

// Export returns the armored public key of uid.
func (h *Home) Export(uid string) []byte {
	h.t.Helper()
	return h.Output(nil, "--armor", "--export", uid)
}

// Revoke revokes the key fpr with the revocation certificate gpg made
// when it generated the key.
func (h *Home) Revoke(fpr string) {
	h.t.Helper()
	cert, err := os.ReadFile(filepath.Join(h.dir, "openpgp-revocs.d", fpr+".rev"))
	if err != nil {
		h.t.Fatalf("revocation certificate: %v", err)
	}
	// gpg guards the certificate against an accidental import with a
	// leading colon on its armor line.
	h.Import(strings.Replace(string(cert), ":-----BEGIN", "-----BEGIN", 1))
}

// ExportSecret returns the armored private key of uid (no passphrase).
func (h *Home) ExportSecret(uid string) []byte {
	h.t.Helper()
	return h.Output(nil, "--armor", "--export-secret-keys", uid)
}

// Output runs gpg and returns its standard output only.
func (h *Home) Output(stdin []byte, args ...string) []byte {
	h.t.Helper()
	out, err := h.output(stdin, args...)
	if err != nil {
		h.t.Fatalf("gpg %v: %v", args, err)
	}
	return out
}

func (h *Home) output(stdin []byte, args ...string) ([]byte, error) {
	cmd := h.command(stdin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, stderr.String())
	}
	return out, nil
}

// DecryptPGPMIME checks that raw is an RFC 3156 section 4
// multipart/encrypted message (protocol application/pgp-encrypted, a
// "Version: 1" part, then the OpenPGP message), that `gpg --decrypt` in
// this home decrypts it and finds a good signature, and returns the
// decrypted MIME entity.
func (h *Home) DecryptPGPMIME(raw []byte) []byte {
	h.t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		h.t.Fatalf("reading mail: %v", err)
	}
	mt, params, _ := e.Header.ContentType()
	if mt != "multipart/encrypted" || params["protocol"] != "application/pgp-encrypted" {
		h.t.Fatalf("Content-Type %s %v, want multipart/encrypted; protocol=application/pgp-encrypted", mt, params)
	}
	mr := e.MultipartReader()
	var parts [][]byte
	var types []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		t, _, _ := p.Header.ContentType()
		b, _ := io.ReadAll(p.Body)
		parts, types = append(parts, b), append(types, t)
	}
	if len(parts) != 2 || types[0] != "application/pgp-encrypted" || !strings.Contains(string(parts[0]), "Version: 1") || types[1] != "application/octet-stream" {
		h.t.Fatalf("parts %v, want application/pgp-encrypted (Version: 1) then application/octet-stream", types)
	}
	cmd := h.command(parts[1], "--status-fd", "2", "--decrypt")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		h.t.Fatalf("gpg --decrypt: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "[GNUPG:] GOODSIG") || !strings.Contains(stderr.String(), "[GNUPG:] DECRYPTION_OKAY") {
		h.t.Fatalf("gpg --decrypt: no good signature or no decryption:\n%s", stderr.String())
	}
	return out
}

// ForgedSignedReport signs body with a throwaway key, rewrites the signature's
// issuer (key id and fingerprint) to the victim's, and encrypts the
// packets to the desk, as an attacker holding only public keys can; it
// returns the PGP/MIME report.
func ForgedSignedReport(t testing.TB, victimPub, deskPub []byte, from, body string) []byte {
	t.Helper()
	victim, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(victimPub))
	if err != nil {
		t.Fatal(err)
	}
	desk, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(deskPub))
	if err != nil {
		t.Fatal(err)
	}
	attacker, err := openpgp.NewEntity("Mallory", "", "mallory@evil.test", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var signed bytes.Buffer
	w, err := openpgp.Sign(&signed, attacker, &openpgp.FileHints{IsBinary: true}, &packet.Config{DefaultCompressionAlgo: packet.CompressionNone})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, crlf(body))
	w.Close()
	packets := signed.Bytes()
	idOf := func(fpr []byte) []byte { return fpr[len(fpr)-8:] }
	af, vf := attacker.PrimaryKey.Fingerprint, victim[0].PrimaryKey.Fingerprint
	packets = bytes.ReplaceAll(packets, af, vf)
	packets = bytes.ReplaceAll(packets, idOf(af), idOf(vf))
	if !bytes.Contains(packets, idOf(vf)) {
		t.Fatal("forgery: the victim's key id is not in the packets")
	}

	enc, ok := desk[0].EncryptionKey(time.Now())
	if !ok {
		t.Fatal("desk key cannot encrypt")
	}
	key := make([]byte, 32)
	rand.Read(key)
	var ct bytes.Buffer
	aw, _ := armor.Encode(&ct, "PGP MESSAGE", nil)
	if err := packet.SerializeEncryptedKey(aw, enc.PublicKey, packet.CipherAES256, key, nil); err != nil {
		t.Fatal(err)
	}
	sw, err := packet.SerializeSymmetricallyEncrypted(aw, packet.CipherAES256, false, packet.CipherSuite{}, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Compressed, as gpg would: the padding then costs the ciphertext
	// nothing, so only the decrypted content is over the limit.
	cw, err := packet.SerializeCompressed(sw, packet.CompressionZLIB, nil)
	if err != nil {
		t.Fatal(err)
	}
	cw.Write(packets)
	cw.Close()
	sw.Close()
	aw.Close()
	return []byte(crlf(`From: <` + from + `>
To: security@example.com
Subject: ...
Message-ID: <forged@example.org>
MIME-Version: 1.0
Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="enc"

--enc
Content-Type: application/pgp-encrypted

Version: 1

--enc
Content-Type: application/octet-stream

` + ct.String() + `
--enc--
`))
}

func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

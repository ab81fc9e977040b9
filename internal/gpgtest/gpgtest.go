// Package gpgtest checks Tocsin's OpenPGP output with GnuPG itself, the
// implementation most recipients run. Tests fail, rather than skip, when
// gpg is missing: interop with it is the point.
package gpgtest

import (
	"bytes"
	"fmt"
	"mime"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", dir, "--kill", "all").Run()
		os.RemoveAll(dir)
	})
	return &Home{t: t, dir: dir}
}

// Run runs gpg in the home with stdin and returns combined output.
func (h *Home) Run(stdin []byte, args ...string) (string, error) {
	h.t.Helper()
	base := []string{"--homedir", h.dir, "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", ""}
	cmd := exec.Command("gpg", append(base, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
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
	signed, sig, micalg, err := SplitSigned(raw)
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

// SplitSigned returns the first body part of a multipart/signed message
// exactly as it stands (header and body, the bytes that were signed, RFC
// 3156 section 5), the armored signature, and micalg.
func SplitSigned(raw []byte) (signed, sig []byte, micalg string, err error) {
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		return nil, nil, "", fmt.Errorf("no header/body separator (CRLF CRLF)")
	}
	ct := ""
	for _, line := range strings.Split(strings.ReplaceAll(string(head), "\r\n ", " "), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Type") {
			ct = strings.TrimSpace(v)
		}
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/signed" || params["protocol"] != "application/pgp-signature" {
		return nil, nil, "", fmt.Errorf("Content-Type %q is not multipart/signed with protocol application/pgp-signature", ct)
	}
	delim := []byte("--" + params["boundary"])
	// Parts are separated by CRLF--boundary; the CRLF belongs to the delimiter (RFC 2046 5.1.1).
	chunks := bytes.Split(append([]byte("\r\n"), body...), append([]byte("\r\n"), delim...))
	if len(chunks) < 4 {
		return nil, nil, "", fmt.Errorf("expected two body parts, found %d chunks", len(chunks))
	}
	signed = bytes.TrimPrefix(chunks[1], []byte("\r\n"))
	_, sig, ok = bytes.Cut(chunks[2], []byte("\r\n\r\n"))
	if !ok {
		return nil, nil, "", fmt.Errorf("signature part has no body")
	}
	return signed, sig, params["micalg"], nil
}

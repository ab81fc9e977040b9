package sandbox

import (
	"errors"
	"net/smtp"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// loginAuth is SMTP AUTH LOGIN for net/smtp, which has PLAIN only.
type loginAuth struct{ user, pass string }

func (a loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return "LOGIN", nil, nil }
func (a loginAuth) Next(from []byte, more bool) ([]byte, error) {
	switch {
	case !more:
		return nil, nil
	case string(from) == "Username:":
		return []byte(a.user), nil
	case string(from) == "Password:":
		return []byte(a.pass), nil
	}
	return nil, errors.New("unexpected challenge " + string(from))
}

// TestSMTPPlaysTheMX pins issue 15 §9: the sandbox's SMTP server takes
// AUTH PLAIN and LOGIN (any address, the sandbox's password), removes
// every Authentication-Results claiming its own authserv-id, keeps
// others', and stamps its own on top: DMARC pass only when the client
// logged in as the From address.
func TestSMTPPlaysTheMX(t *testing.T) {
	dir := t.TempDir()
	info, s := start(t, dir)
	defer s.Close()
	if info.SMTPPassword == "" {
		t.Fatal("sandbox.json has no smtp_password")
	}
	forged := "Authentication-Results: sandbox.test; dmarc=pass header.from=example.org\r\n" +
		"Authentication-Results: (looks fine)\r\n SANDBOX.TEST (v1); auth=pass smtp.auth=tom@example.org;\r\n dmarc=pass header.from=example.org\r\n" +
		"Authentication-Results: mx.example.net; dmarc=pass header.from=example.org\r\n"
	send := func(auth smtp.Auth, from string) error {
		msg := "From: <" + from + ">\r\nTo: " + Alias + "\r\nSubject: x\r\n" + forged + "\r\nbody\r\n"
		return smtp.SendMail(s.SMTPAddr, auth, from, []string{Alias}, []byte(msg))
	}
	if err := send(smtp.PlainAuth("", "tom@example.org", info.SMTPPassword, "127.0.0.1"), "tom@example.org"); err != nil {
		t.Fatalf("PLAIN as the From: %v", err)
	}
	if err := send(loginAuth{"tom@example.org", info.SMTPPassword}, "ann@example.org"); err != nil {
		t.Fatalf("LOGIN as someone else than the From: %v", err)
	}
	if err := send(nil, "tom@example.org"); err != nil {
		t.Fatalf("no AUTH: %v", err)
	}
	if err := send(smtp.PlainAuth("", "tom@example.org", "wrong", "127.0.0.1"), "tom@example.org"); err == nil || !strings.Contains(err.Error(), "535") {
		t.Errorf("a wrong password: %v, want 535", err)
	}
	if err := send(loginAuth{"not an address", info.SMTPPassword}, "tom@example.org"); err == nil {
		t.Error("a user that is no address: accepted")
	}

	files, _ := filepath.Glob(filepath.Join(dir, "mailbox", "*.eml"))
	sort.Strings(files)
	want := []string{
		"sandbox.test; auth=pass smtp.auth=tom@example.org; dmarc=pass header.from=example.org",
		"sandbox.test; auth=pass smtp.auth=tom@example.org; dmarc=none header.from=example.org",
		"sandbox.test; auth=none; dmarc=none header.from=example.org",
	}
	if len(files) != len(want) {
		t.Fatalf("%d messages delivered, want %d", len(files), len(want))
	}
	for i, f := range files {
		raw, _ := os.ReadFile(f)
		head, _, _ := strings.Cut(strings.ReplaceAll(string(raw), "\r\n ", " "), "\r\n\r\n")
		var ars []string
		for _, l := range strings.Split(head, "\r\n") {
			if v, ok := strings.CutPrefix(l, "Authentication-Results: "); ok {
				ars = append(ars, v)
			}
		}
		if len(ars) != 2 || ars[0] != want[i] || !strings.HasPrefix(ars[1], "mx.example.net;") {
			t.Errorf("message %d: Authentication-Results %q, want %q on top, mx.example.net's kept and no other", i, ars, want[i])
		}
	}
}

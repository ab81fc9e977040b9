package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"tocsin/internal/imaptest"
)

// authSMTP is an SMTP server on loopback that takes one login and counts
// the mail it is given.
type authSMTP struct{ mails int }

func (b *authSMTP) NewSession(*smtp.Conn) (smtp.Session, error) { return &authSess{b: b}, nil }

type authSess struct {
	b      *authSMTP
	authed bool
}

func (s *authSess) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *authSess) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, u, p string) error {
		if u != "desk@example.com" || p != "smtp-secret-value" {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}
func (s *authSess) Mail(string, *smtp.MailOptions) error { s.b.mails++; return nil }
func (s *authSess) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *authSess) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }
func (s *authSess) Reset()                               {}
func (s *authSess) Logout() error                        { return nil }

// TestCheckConnect (issue 18): check --connect logs in to the in-process
// IMAP server and selects its mailbox, and says EHLO and AUTH to the
// SMTP server without sending anything; a wrong password or a wrong port
// fails it, naming which and why (check alone passed them).
func TestCheckConnect(t *testing.T) {
	imapSrv := imaptest.Serve(t, nil, "desk@example.com", "imap-secret-value")
	backend := &authSMTP{}
	srv := smtp.NewServer(backend)
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, iport, _ := net.SplitHostPort(imapSrv.Addr)
	_, sport, _ := net.SplitHostPort(ln.Addr().String())
	dir := t.TempDir()
	write := func(name, imapPort, imapPW, smtpPort string) string {
		path := filepath.Join(dir, name)
		os.WriteFile(filepath.Join(dir, name+".imap"), []byte(imapPW), 0o600)
		os.WriteFile(filepath.Join(dir, name+".smtp"), []byte("smtp-secret-value"), 0o600)
		os.WriteFile(path, []byte(fmt.Sprintf(`desk: {address: security@corp.test, name: Corp Security}
data_dir: %s
imap: {host: 127.0.0.1, port: %s, tls: none, username: desk@example.com, password_file: %s, idle: false}
smtp: {host: 127.0.0.1, port: %s, tls: none, username: desk@example.com, password_file: %s}
`, filepath.Join(dir, "data-"+name), imapPort, path+".imap", smtpPort, path+".smtp")), 0o600)
		return path
	}
	good := write("good.yaml", iport, "imap-secret-value", sport)
	out, errs, err := run("check", "--config", good, "--connect")
	if err != nil || !strings.Contains(out, "imap: connected: logged in as desk@example.com, INBOX holds 0 messages") || !strings.Contains(out, "smtp: connected:") {
		t.Fatalf("check --connect, right: %v\n%s%s", err, out, errs)
	}
	if backend.mails != 0 {
		t.Errorf("check --connect sent %d mails", backend.mails)
	}

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	_, wrongPort, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()
	bad := write("bad.yaml", iport, "wrong-password-value", wrongPort)
	if out, errs, err := run("check", "--config", bad); err != nil {
		t.Fatalf("check alone refused what only --connect can see: %v\n%s%s", err, out, errs)
	}
	out, _, err = run("check", "--config", bad, "--connect")
	if err == nil {
		t.Fatalf("check --connect passed a wrong password and port:\n%s", out)
	}
	for _, want := range []string{"imap: FAILED: logging in as desk@example.com", "smtp: FAILED: connecting to 127.0.0.1:" + wrongPort, "2 connection(s) failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("check --connect lacks %q:\n%s", want, out)
		}
	}
}

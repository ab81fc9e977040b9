package responders

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"tocsin/config"
)

// sink is an in-process SMTP server that records deliveries and can be
// told to refuse them.
type sink struct {
	mu       sync.Mutex
	got      [][]byte
	rcptErr  error
	authUser string
	authPass string
	conns    int
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	return &sinkSession{s: s}, nil
}

type sinkSession struct{ s *sink }

func (x *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (x *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, u, p string) error {
		if u != x.s.authUser || p != x.s.authPass {
			return errors.New("bad credentials")
		}
		return nil
	}), nil
}
func (x *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (x *sinkSession) Rcpt(string, *smtp.RcptOptions) error {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	return x.s.rcptErr
}
func (x *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	x.s.mu.Lock()
	x.s.got = append(x.s.got, b)
	x.s.mu.Unlock()
	return err
}
func (x *sinkSession) Reset()        {}
func (x *sinkSession) Logout() error { return nil }

func startSink(t *testing.T) (*sink, config.SMTP) {
	t.Helper()
	s := &sink{authUser: "bot", authPass: "pw"}
	srv := smtp.NewServer(s)
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	return s, config.SMTP{Server: config.Server{Host: host, Port: p, TLS: config.TLSNone, Username: "bot", Secret: config.Secret{Password: "pw"}}, Timeout: 5 * time.Second}
}

func TestSMTPSendsAndReusesConnection(t *testing.T) {
	s, cfg := startSink(t)
	snd, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	for i := range 3 {
		if err := snd.Send(context.Background(), "security@example.com", []string{"r@example.org"}, []byte("Subject: "+strconv.Itoa(i)+"\r\n\r\nhi\r\n")); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if len(s.got) != 3 {
		t.Fatalf("delivered %d messages, want 3", len(s.got))
	}
	if s.conns != 1 {
		t.Errorf("used %d connections for 3 messages, want 1 (RSET reuse)", s.conns)
	}
}

func TestSMTPClassifiesFailures(t *testing.T) {
	s, cfg := startSink(t)
	snd, _ := NewSMTP(cfg)
	defer snd.Close()
	msg := []byte("Subject: x\r\n\r\nx\r\n")

	s.rcptErr = &smtp.SMTPError{Code: 450, Message: "mailbox busy"}
	err := snd.Send(context.Background(), "a@example.com", []string{"b@example.org"}, msg)
	if err == nil || !IsTemporary(err) {
		t.Errorf("450: err = %v, temporary = %v; want a temporary failure", err, IsTemporary(err))
	}
	s.rcptErr = &smtp.SMTPError{Code: 550, Message: "no such user"}
	err = snd.Send(context.Background(), "a@example.com", []string{"b@example.org"}, msg)
	if err == nil || IsTemporary(err) {
		t.Errorf("550: err = %v, temporary = %v; want a permanent failure", err, IsTemporary(err))
	}

	bad := cfg
	bad.Secret.Password = "wrong"
	snd2, _ := NewSMTP(bad)
	defer snd2.Close()
	if err := snd2.Send(context.Background(), "a@example.com", []string{"b@example.org"}, msg); err == nil || !IsTemporary(err) {
		t.Errorf("bad password: err = %v; want a temporary failure (the operator can fix it; the message is fine)", err)
	}

	down := cfg
	down.Port = 1 // nothing listens there
	snd3, _ := NewSMTP(down)
	if err := snd3.Send(context.Background(), "a@example.com", []string{"b@example.org"}, msg); err == nil || !IsTemporary(err) {
		t.Errorf("server down: err = %v; want a temporary failure", err)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

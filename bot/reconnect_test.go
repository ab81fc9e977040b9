package bot_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"tocsin/config"
	"tocsin/internal/testtls"
)

// oauthSession adds SASL XOAUTH2 (as Gmail and Microsoft 365 speak it) to
// an in-process IMAP session: a right bearer token logs the user in.
type oauthSession struct {
	imapserver.Session
	user, password, token string
}

func (s *oauthSession) AuthenticateMechanisms() []string { return []string{"XOAUTH2"} }

func (s *oauthSession) Authenticate(mech string) (sasl.Server, error) {
	if mech != "XOAUTH2" {
		return nil, errors.New("unsupported mechanism")
	}
	return &xoauth2Server{s: s}, nil
}

type xoauth2Server struct{ s *oauthSession }

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if resp == nil {
		return []byte{}, false, nil
	}
	want := "user=" + x.s.user + "\x01auth=Bearer " + x.s.token + "\x01\x01"
	if !bytes.Equal(resp, []byte(want)) {
		return nil, true, errors.New("invalid token")
	}
	return nil, true, x.s.Session.Login(x.s.user, x.s.password)
}

// TestReconnectPollingStartTLSAndOAuth2 follows a mailbox over STARTTLS,
// logging in with an XOAUTH2 token from a command, without IDLE (polling),
// and keeps going after the server goes away and comes back.
func TestReconnectPollingStartTLSAndOAuth2(t *testing.T) {
	tlsCfg := testtls.SelfSigned(t)
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("security@example.com", "unused-password")
	u.Create("INBOX", nil)
	mem.AddUser(u)
	serve := func(ln net.Listener) *imapserver.Server {
		srv := imapserver.New(&imapserver.Options{
			NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
				return &oauthSession{Session: mem.NewSession(), user: "security@example.com", password: "unused-password", token: "ya29.test-token"}, nil, nil
			},
			// IMAP4rev1 only: the wrapper does not pass on the rev2 methods.
			Caps:      imap.CapSet{imap.CapIMAP4rev1: {}},
			TLSConfig: tlsCfg, // STARTTLS
		})
		go srv.Serve(ln)
		return srv
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	srv := serve(ln)

	sink := &smtpSink{}
	ssrv := smtp.NewServer(sinkNoAuth{sink})
	sln, _ := net.Listen("tcp", "127.0.0.1:0")
	go ssrv.Serve(sln)
	t.Cleanup(func() { ssrv.Close() })

	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token.json")
	os.WriteFile(tokFile, []byte(`{"access_token":"ya29.test-token","expires_in":3600}`), 0o600)
	_, iport, _ := net.SplitHostPort(addr)
	_, sport, _ := net.SplitHostPort(sln.Addr().String())
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`desk: {address: security@example.com}
data_dir: %s
http: {listen: '127.0.0.1:0', api_tokens: [{password: tok}]}
imap:
  host: 127.0.0.1
  port: %s
  tls: starttls
  insecure_skip_verify: true
  username: security@example.com
  oauth2: {mechanism: xoauth2, token_command: "cat %s"}
  idle: false
  poll_interval: 1s
smtp: {host: 127.0.0.1, port: %s, tls: none}
`, filepath.Join(dir, "data"), iport, tokFile, sport)))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg)
	d.info.APIToken = "tok"

	deliver := func(n int) {
		c, err := imapclient.DialStartTLS(addr, &imapclient.Options{TLSConfig: tlsCfgClient()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Authenticate(&xoauth2Client{"security@example.com", "ya29.test-token"}); err != nil {
			t.Fatal(err)
		}
		appendMail(t, c, strings.ReplaceAll(report("r@example.org", fmt.Sprintf("rc%d@example.org", n), fmt.Sprintf("report %d", n), "x"), "\n", "\r\n"))
	}
	deliver(1)
	eventually(t, "the first report answered by polling", 10*time.Second, func() bool { return sink.count() == 1 })

	if code, comps := d.health(); code != 200 {
		t.Errorf("healthz while connected: %d %v", code, comps)
	}
	// The server goes away: within two poll intervals /healthz says so,
	// naming the IMAP intake; /metrics shows it disconnected.
	srv.Close()
	eventually(t, "healthz to report the IMAP server down", 10*time.Second, func() bool {
		code, comps := d.health()
		return code == 503 && strings.HasPrefix(comps["imap"], "imap security@example.com@127.0.0.1:") && comps["outbox"] == "ok" && comps["store"] == "ok"
	})
	if v := d.metric("tocsin_imap_connected"); v != 0 {
		t.Errorf("tocsin_imap_connected %v while the server is down", v)
	}
	// It comes back on the same address.
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv2 := serve(ln2)
	t.Cleanup(func() { srv2.Close() })
	deliver(2)
	eventually(t, "the second report answered after reconnecting", 20*time.Second, func() bool { return sink.count() == 2 })
	if code, body := d.health(); code != 200 || d.metric("tocsin_imap_connected") != 1 || d.metric("tocsin_imap_last_success_timestamp_seconds") < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("after reconnecting: healthz %d %s, connected %v", code, body, d.metric("tocsin_imap_connected"))
	}
	if n := len(d.incidents()); n != 2 {
		t.Errorf("%d incidents, want 2", n)
	}
}

func tlsCfgClient() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }

type xoauth2Client struct{ user, token string }

func (a *xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + a.user + "\x01auth=Bearer " + a.token + "\x01\x01"), nil
}
func (a *xoauth2Client) Next([]byte) ([]byte, error) { return []byte{}, nil }

package bot_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"tocsin/config"
)

// mailbox is an in-process IMAP server (go-imap's) holding one user's
// INBOX, restartable on the same address.
type mailbox struct {
	t      *testing.T
	mem    *imapmemserver.Server
	user   *imapmemserver.User
	addr   string
	srv    *imapserver.Server
	logins atomic.Int32
	opts   func(*imapserver.Options)
}

func newMailbox(t *testing.T, opts func(*imapserver.Options)) *mailbox {
	m := &mailbox{t: t, mem: imapmemserver.New(), opts: opts}
	m.user = imapmemserver.NewUser("security@example.com", "imap-secret-value")
	m.user.Create("INBOX", nil)
	m.mem.AddUser(m.user)
	m.serve("127.0.0.1:0")
	t.Cleanup(func() { m.srv.Close() })
	return m
}

type countingSession struct {
	imapserver.Session
	m *mailbox
}

func (s *countingSession) Login(u, p string) error {
	s.m.logins.Add(1)
	return s.Session.Login(u, p)
}

func (m *mailbox) serve(addr string) {
	o := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &countingSession{Session: m.mem.NewSession(), m: m}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
	}
	if m.opts != nil {
		m.opts(o)
	}
	m.srv = imapserver.New(o)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		m.t.Fatal(err)
	}
	m.addr = ln.Addr().String()
	go m.srv.Serve(ln)
}

func (m *mailbox) deliver(raw string) {
	m.t.Helper()
	raw = strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\n", "\r\n")
	if _, err := m.user.Append("INBOX", &literal{strings.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{}); err != nil {
		m.t.Fatal(err)
	}
}

type literal struct {
	*strings.Reader
	n int64
}

func (l *literal) Size() int64 { return l.n }

// daemonOn runs the daemon on the mailbox and an SMTP sink. imapExtra
// replaces the IMAP TLS and login (default: none, password); extra is YAML
// appended to the config (limits).
func daemonOn(t *testing.T, m *mailbox, sink *smtpSink, imapExtra, extra string) *daemon {
	return daemonOnTLS(t, m, sink, imapExtra, "none", extra)
}

// daemonOnTLS is daemonOn with the SMTP server's tls setting.
func daemonOnTLS(t *testing.T, m *mailbox, sink *smtpSink, imapExtra, smtpTLS, extra string) *daemon {
	if imapExtra == "" {
		imapExtra = "tls: none, password: imap-secret-value"
	}
	ssrv := smtp.NewServer(sinkNoAuth{sink})
	sln, _ := net.Listen("tcp", "127.0.0.1:0")
	go ssrv.Serve(sln)
	t.Cleanup(func() { ssrv.Close() })
	dir := t.TempDir()
	_, iport, _ := net.SplitHostPort(m.addr)
	_, sport, _ := net.SplitHostPort(sln.Addr().String())
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`desk: {address: security@example.com}
data_dir: %s
http: {listen: '127.0.0.1:0', api_tokens: [{password: a-long-enough-api-token}]}
imap: {host: 127.0.0.1, port: %s, username: security@example.com, idle: false, poll_interval: 1s, %s}
smtp: {host: 127.0.0.1, port: %s, tls: %s}
%s`, filepath.Join(dir, "data"), iport, imapExtra, sport, smtpTLS, extra)))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg)
	d.info.APIToken = "a-long-enough-api-token"
	return d
}

// TestUIDValidityResetRescans: the server renumbers the mailbox (a new
// UIDVALIDITY, as after a restore). Tocsin reads it again from the start;
// what it filed before is recognised, only the new report is filed and
// answered.
func TestUIDValidityResetRescans(t *testing.T) {
	m := newMailbox(t, nil)
	sink := &smtpSink{}
	d := daemonOn(t, m, sink, "", "")
	m.deliver(report("a@example.org", "u1@example.org", "first", "XSS in search"))
	m.deliver(report("b@example.org", "u2@example.org", "second", "SQL injection in login"))
	eventually(t, "two answers", 10*time.Second, func() bool { return sink.count() == 2 })

	// The server is restored: the same mail under a new UIDVALIDITY, and
	// one new report.
	m.srv.Close()
	m.user.Delete("INBOX")
	m.user.Create("INBOX", nil)
	m.deliver(report("a@example.org", "u1@example.org", "first", "XSS in search"))
	m.deliver(report("b@example.org", "u2@example.org", "second", "SQL injection in login"))
	m.deliver(report("c@example.org", "u3@example.org", "third", "Open redirect"))
	m.serve(m.addr)

	eventually(t, "the new report answered", 20*time.Second, func() bool { return sink.count() == 3 })
	d.settled(5)
	if n := d.metric("tocsin_messages_duplicate_total"); n != 2 {
		t.Errorf("%v duplicates after the rescan, want 2", n)
	}
	if n := len(d.incidents()); n != 3 {
		t.Errorf("%d incidents, want 3", n)
	}
	if n := sink.count(); n != 3 {
		t.Errorf("%d answers, want 3", n)
	}
}

// TestOversizeMessageFiledFromHeader: a message over
// limits.max_message_bytes is filed from its header (nothing is lost) and
// answered, and the incident says where the whole message is.
func TestOversizeMessageFiledFromHeader(t *testing.T) {
	m := newMailbox(t, nil)
	sink := &smtpSink{}
	d := daemonOn(t, m, sink, "", "limits: {max_message_bytes: 4096}\n")
	m.deliver(report("big@example.org", "big1@example.org", "Huge log of the intrusion", strings.Repeat("log line 198.51.100.7\n", 500)))
	eventually(t, "the answer", 10*time.Second, func() bool { return sink.count() == 1 })
	incs := d.incidents()
	if len(incs) != 1 || incs[0].Reporter != "big@example.org" {
		t.Fatalf("incidents %+v", incs)
	}
	var full struct {
		Subject  string `json:"subject"`
		Messages []struct {
			Report struct {
				Text string `json:"text"`
			} `json:"report"`
		} `json:"messages"`
	}
	d.api("GET", "/api/v1/incidents/"+incs[0].ID, nil, &full)
	if full.Subject != "Huge log of the intrusion" || !strings.Contains(full.Messages[0].Report.Text, "larger than limits.max_message_bytes (4096)") {
		t.Errorf("incident %+v", full)
	}
}

// TestOAuthBearer logs in with SASL OAUTHBEARER (RFC 7628), the bearer
// token from a file.
func TestOAuthBearer(t *testing.T) {
	var tokens atomic.Int32
	m := newMailbox(t, func(o *imapserver.Options) {
		inner := o.NewSession
		o.NewSession = func(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			s, g, err := inner(c)
			return &oauthBearerSession{Session: s, tokens: &tokens}, g, err
		}
	})
	sink := &smtpSink{}
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte(`{"access_token":"bearer-token-123","expires_in":3600}`), 0o600)
	d := daemonOn(t, m, sink, "tls: none, oauth2: {mechanism: oauthbearer, token_file: "+tok+"}", "")
	_ = d
	m.deliver(report("o@example.org", "o1@example.org", "via oauthbearer", "x"))
	eventually(t, "the answer", 10*time.Second, func() bool { return sink.count() == 1 })
	if tokens.Load() == 0 || m.logins.Load() != 0 {
		t.Errorf("%d OAUTHBEARER logins, %d password logins; want only OAUTHBEARER", tokens.Load(), m.logins.Load())
	}
}

type oauthBearerSession struct {
	imapserver.Session
	tokens *atomic.Int32
}

func (s *oauthBearerSession) AuthenticateMechanisms() []string { return []string{sasl.OAuthBearer} }

func (s *oauthBearerSession) Authenticate(mech string) (sasl.Server, error) {
	return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
		if o.Token != "bearer-token-123" || o.Username != "security@example.com" {
			return &sasl.OAuthBearerError{Status: "invalid_token"}
		}
		s.tokens.Add(1)
		// Log in below the password-login counter: this is not one.
		if err := s.Session.(*countingSession).Session.Login("security@example.com", "imap-secret-value"); err != nil {
			return &sasl.OAuthBearerError{Status: "invalid_request"}
		}
		return nil
	}), nil
}

// TestStartTLSIsNeverSkipped: configured for STARTTLS, Tocsin refuses a
// server that does not offer it rather than log in or send in clear: no
// IMAP login happens and /healthz says why; no mail reaches the SMTP
// server and the outbox says why.
func TestStartTLSIsNeverSkipped(t *testing.T) {
	m := newMailbox(t, nil) // no TLS configured: no STARTTLS offered
	sink := &smtpSink{}
	d := daemonOn(t, m, sink, "tls: starttls, password: imap-secret-value", "")
	eventually(t, "healthz to name the IMAP problem", 10*time.Second, func() bool {
		code, comps := d.health()
		return code == 503 && strings.Contains(strings.ToLower(comps["imap"]), "starttls")
	})
	if n := m.logins.Load(); n != 0 {
		t.Errorf("%d logins in clear on a server without STARTTLS", n)
	}

	// SMTP: a report by the API; the answer must not go out in clear.
	m2 := newMailbox(t, nil)
	sink2 := &smtpSink{}
	d2 := daemonOnTLS(t, m2, sink2, "", "starttls", "") // the sink offers no STARTTLS
	body := []byte(`{"from":"s@example.org","subject":"report","text":"x"}`)
	if code := d2.api("POST", "/api/v1/reports", body, nil); code/100 != 2 {
		t.Fatalf("API: %d", code)
	}
	eventually(t, "the send to fail", 10*time.Second, func() bool {
		for _, inc := range d2.incidents() {
			for _, o := range d2.incident(inc.ID).Outbox {
				if o.Recipient == "s@example.org" && o.Attempts >= 1 && o.State != "sending" {
					return true
				}
			}
		}
		return false
	})
	if n := sink2.count(); n != 0 {
		t.Errorf("%d mails sent in clear to an SMTP server without STARTTLS", n)
	}
	var failed bool
	for _, inc := range d2.incidents() {
		for _, a := range d2.incident(inc.ID).Audit {
			failed = failed || strings.HasPrefix(a.Action, "send-") && strings.Contains(strings.ToLower(a.Detail), "tls")
		}
	}
	if !failed {
		t.Error("the audit does not say the send failed for want of TLS")
	}
}

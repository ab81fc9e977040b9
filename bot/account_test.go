package bot_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"tocsin/config"
	"tocsin/internal/gpgtest"
	"tocsin/internal/imaptest"
	"tocsin/internal/testtls"
)

// smtpSink is an SMTP server with STARTTLS and AUTH PLAIN, like a real
// submission server; it records what it accepts.
type smtpSink struct {
	mu   sync.Mutex
	msgs [][]byte
	tls  bool
}

func (s *smtpSink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &sinkSess{s: s, conn: c}, nil
}

type sinkSess struct {
	s      *smtpSink
	conn   *smtp.Conn
	authed bool
}

func (x *sinkSess) AuthMechanisms() []string { return []string{sasl.Plain} }
func (x *sinkSess) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, u, p string) error {
		if u != "bot@example.com" || p != "smtp-secret" {
			return errors.New("bad credentials")
		}
		x.authed = true
		return nil
	}), nil
}
func (x *sinkSess) Mail(string, *smtp.MailOptions) error {
	if !x.authed {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	return nil
}
func (x *sinkSess) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (x *sinkSess) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, b)
	_, isTLS := x.conn.TLSConnectionState()
	x.s.tls = x.s.tls || isTLS
	x.s.mu.Unlock()
	return err
}
func (x *sinkSess) Reset()        {}
func (x *sinkSess) Logout() error { return nil }

func (s *smtpSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// TestRealAccount runs the daemon from a config file against a separate
// IMAP server (implicit TLS) and SMTP server (STARTTLS, AUTH), with
// processed mail moved to a folder. The message is moved only after its
// incident exists; the answer goes out through the submission server.
func TestRealAccount(t *testing.T) {
	tlsCfg := testtls.SelfSigned(t)
	imapAddr := imaptest.Serve(t, tlsCfg, "security@example.com", "imap-secret").Addr

	sink := &smtpSink{}
	ssrv := smtp.NewServer(sink)
	ssrv.TLSConfig = tlsCfg
	sln, _ := net.Listen("tcp", "127.0.0.1:0")
	go ssrv.Serve(sln)
	t.Cleanup(func() { ssrv.Close() })

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "imap.pw"), []byte("imap-secret\n"), 0o600)
	t.Setenv("TEST_SMTP_PW", "smtp-secret")
	_, iport, _ := net.SplitHostPort(imapAddr)
	_, sport, _ := net.SplitHostPort(sln.Addr().String())
	cfgFile := filepath.Join(dir, "tocsin.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`desk:
  address: security@example.com
  name: Example Security
  incident_prefix: INC
data_dir: %s
http:
  listen: 127.0.0.1:0
  api_tokens: [{password: tok}]
imap:
  host: 127.0.0.1
  port: %s
  tls: tls
  insecure_skip_verify: true
  username: security@example.com
  password_file: %s
  processed: {action: move, folder: Triaged}
  poll_interval: 2s
smtp:
  host: 127.0.0.1
  port: %s
  tls: starttls
  insecure_skip_verify: true
  username: bot@example.com
  password_env: TEST_SMTP_PW
`, filepath.Join(dir, "data"), iport, filepath.Join(dir, "imap.pw"), sport)), 0o600)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg)
	d.info.APIToken = "tok"

	// A report is delivered into the mailbox (IMAP APPEND, as an MTA would).
	c, err := imapclient.DialTLS(imapAddr, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("security@example.com", "imap-secret").Wait(); err != nil {
		t.Fatal(err)
	}
	raw := strings.ReplaceAll(report("Rita <rita@example.org>", "rita1@example.org", "Leaked API key in public repo", "Your key AKIA... is on GitHub."), "\n", "\r\n")
	appendMail(t, c, raw)

	eventually(t, "the answer at the SMTP server", 15*time.Second, func() bool { return sink.count() == 1 })
	incs := d.incidents()
	if len(incs) != 1 || !strings.HasPrefix(incs[0].ID, "INC-") {
		t.Fatalf("incidents %+v, want one INC-…", incs)
	}
	if !sink.tls {
		t.Error("the answer was not sent over STARTTLS")
	}
	eventually(t, "the report moved to Triaged", 5*time.Second, func() bool {
		st, err := c.Status("Triaged", &imap.StatusOptions{NumMessages: true}).Wait()
		return err == nil && *st.NumMessages == 1
	})
	st, _ := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if *st.NumMessages != 0 {
		t.Errorf("INBOX still holds %d messages", *st.NumMessages)
	}
	g := d.importDeskKey(gpgtest.NewHome(t))
	g.VerifyPGPMIME(sink.msgs[0])
	if got := headerOf(sink.msgs[0], "Subject"); !strings.HasPrefix(got, "["+incs[0].ID+"] ") {
		t.Errorf("subject %q lacks the incident tag", got)
	}
}

package bot_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"tocsin/bot"
	"tocsin/bot/clock"
	"tocsin/config"
)

// refusingBackend answers RCPT with a fixed SMTP error for a given
// recipient and accepts the rest.
type refusingBackend struct {
	sink    *smtpSink
	mu      sync.Mutex
	refuse  map[string]*smtp.SMTPError
	refused map[string]int
}

func (b *refusingBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &refusingSession{sinkSess: sinkSess{s: b.sink, conn: c, authed: true}, b: b}, nil
}

type refusingSession struct {
	sinkSess
	b *refusingBackend
}

func (x *refusingSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.b.mu.Lock()
	defer x.b.mu.Unlock()
	if e := x.b.refuse[to]; e != nil {
		x.b.refused[to]++
		if e.Code < 500 && x.b.refused[to] >= 2 {
			return nil // a temporary failure that clears on the second try
		}
		return e
	}
	return nil
}

// startRefusingSMTP serves SMTP on loopback, refusing the recipients in
// refuse with their error, and returns the server and its port.
func startRefusingSMTP(t *testing.T, refuse map[string]*smtp.SMTPError) (*refusingBackend, string) {
	be := &refusingBackend{sink: &smtpSink{}, refused: map[string]int{}, refuse: refuse}
	srv := smtp.NewServer(be)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return be, port
}

// TestFailedSendsAreVisible: a permanent refusal becomes a dead letter
// shown by the API, the desk page and the metrics; a temporary one is
// retried and delivered.
func TestFailedSendsAreVisible(t *testing.T) {
	_, port := startRefusingSMTP(t, map[string]*smtp.SMTPError{
		"gone@example.org": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
		"busy@example.org": {Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"},
	})
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf("desk: {address: security@example.com}\ndata_dir: %s\nhttp: {listen: '127.0.0.1:0', api_tokens: [{password: tok}], desk_users: [{name: desk, password: pw}]}\nsmtp: {host: 127.0.0.1, port: %s, tls: none}\n", t.TempDir(), port)))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg)
	d.info.APIToken = "tok"
	var out map[string]string
	d.api("POST", "/api/v1/reports", []byte(`{"from":"gone@example.org","subject":"Report one","text":"x"}`), &out)
	gone := out["incident"]
	d.api("POST", "/api/v1/reports", []byte(`{"from":"busy@example.org","subject":"Report two","text":"x"}`), &out)
	busy := out["incident"]

	eventually(t, "the dead letter", 10*time.Second, func() bool {
		o := d.incident(gone).Outbox
		return len(o) == 1 && o[0].State == "failed"
	})
	inc := d.incident(gone)
	if inc.Outbox[0].Attempts != 1 {
		t.Errorf("a permanent failure was tried %d times, want 1", inc.Outbox[0].Attempts)
	}
	found := false
	for _, a := range inc.Audit {
		found = found || a.Action == "send-failed" && strings.Contains(a.Detail, "550")
	}
	if !found {
		t.Errorf("audit log does not record the failure: %+v", inc.Audit)
	}
	// The temporary failure is retried after backoff (about 2 s) and delivered.
	eventually(t, "the retried delivery", 15*time.Second, func() bool {
		o := d.incident(busy).Outbox
		return len(o) == 1 && o[0].State == "sent"
	})
	if o := d.incident(busy).Outbox[0]; o.Attempts != 2 {
		t.Errorf("busy recipient: %d attempts, want 2", o.Attempts)
	}
	_, metrics := getBody(t, "http://"+d.addrs.HTTP+"/metrics")
	for _, want := range []string{"tocsin_replies_failed_total 1", "tocsin_replies_retried_total 1", "tocsin_replies_sent_total 1", `tocsin_outbox_depth{state="failed"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	req, _ := http.NewRequest("GET", "http://"+d.addrs.HTTP+"/", nil)
	req.SetBasicAuth("desk", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		page.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(page.String(), "Failed sends") || !strings.Contains(page.String(), "gone@example.org") {
		t.Errorf("desk page does not show the dead letter")
	}
}

// TestDataDirectoryIsLocked: a second daemon on the same data directory
// refuses to start (the embedded store has one writer), and says why.
func TestDataDirectoryIsLocked(t *testing.T) {
	d := startSandbox(t)
	err := bot.Run(context.Background(), bot.SandboxConfig(d.cfg.DataDir, "127.0.0.1:0"), bot.RunOptions{SandboxIMAP: "127.0.0.1:0", SandboxSMTP: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "in use by another tocsin") {
		t.Errorf("second daemon on %s: %v", d.cfg.DataDir, err)
	}
}

// TestGlobalEncryptAlways: with replies.encrypt: always, a reporter whose
// key is not known gets nothing rather than plaintext; the report is filed
// and the dead letter says why.
func TestGlobalEncryptAlways(t *testing.T) {
	cfg := bot.SandboxConfig(t.TempDir(), "127.0.0.1:0")
	cfg.Replies.Encrypt = config.EncryptAlways
	d := startDaemon(t, cfg)
	d.sendMail("nokey@example.org", report("nokey@example.org", "nk1@example.org", "XSS", "details"))
	d.settled(1)
	if n := len(d.sent()); n != 0 {
		t.Errorf("%d mails sent without a key under encrypt: always", n)
	}
	incs := d.incidents()
	if len(incs) != 1 {
		t.Fatalf("%d incidents", len(incs))
	}
	var dead bool
	for _, o := range d.incident(incs[0].ID).Outbox {
		dead = dead || o.State == "failed" && o.Recipient == "nokey@example.org"
	}
	if !dead {
		t.Errorf("outbox %+v: want a dead letter to nokey@example.org", d.incident(incs[0].ID).Outbox)
	}
}

// TestMetricsOnTheirOwnListener: with http.metrics_listen, /metrics is
// served there (behind the metrics token) and not on the desk's listener.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cfg := bot.SandboxConfig(t.TempDir(), "127.0.0.1:0")
	cfg.HTTP.MetricsListen = addr
	cfg.HTTP.MetricsToken = &config.Secret{Password: "metrics-token-0123456789"}
	d := startDaemon(t, cfg)
	if code, _ := getBody(t, "http://"+d.addrs.HTTP+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the desk listener: %d, want 404", code)
	}
	if code, _ := getBody(t, "http://"+addr+"/metrics"); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer metrics-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/metrics with the token: %d", resp.StatusCode)
	}
}

// TestSandboxIsLoopbackOnly: the sandbox refuses to listen anywhere but
// on this machine.
func TestSandboxIsLoopbackOnly(t *testing.T) {
	for _, o := range []struct{ http, imap string }{{"0.0.0.0:0", "127.0.0.1:0"}, {"127.0.0.1:0", ":0"}} {
		err := bot.Run(context.Background(), bot.SandboxConfig(t.TempDir(), o.http), bot.RunOptions{SandboxIMAP: o.imap, SandboxSMTP: "127.0.0.1:0"})
		if err == nil || !strings.Contains(err.Error(), "loopback only") {
			t.Errorf("http %s imap %s: %v", o.http, o.imap, err)
		}
	}
}

// TestPoisonMessageIsQuarantined: a message that cannot be filed (here:
// its attachment cannot be stored) is tried three times, then kept aside
// with why; the mail after it is filed as usual.
func TestPoisonMessageIsQuarantined(t *testing.T) {
	d := startSandbox(t)
	// Make attachments unstorable: a file where the spool directory goes.
	os.MkdirAll(filepath.Join(d.cfg.DataDir, "blobs"), 0o700)
	os.WriteFile(filepath.Join(d.cfg.DataDir, "blobs", "tmp"), nil, 0o600)
	poison := "From: p@example.org\r\nTo: security@sandbox.test\r\nSubject: with attachment\r\nMessage-ID: <poison@example.org>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=x.bin\r\n\r\nxyz\r\n--b--\r\n"
	d.sendMail("p@example.org", poison)
	d.sendMail("n@example.org", report("n@example.org", "n1@example.org", "Plain report", "no attachment"))
	eventually(t, "the quarantine and the next report", 30*time.Second, func() bool {
		return d.metric("tocsin_messages_quarantined_total") == 1 && len(d.incidents()) == 1
	})
	un := d.unfiled()
	if len(un) != 1 || un[0].Category != "quarantined" || !strings.Contains(un[0].UnfiledReason, "filing failed 3 times") {
		t.Errorf("unfiled %+v, want the poison message quarantined with why", un)
	}
	if inc := d.incidents()[0]; inc.Reporter != "n@example.org" {
		t.Errorf("filed %+v, want the plain report", inc)
	}
}

// TestRetryFollowsTheClock: the outbox waits on the daemon's clock, not
// the wall's: a temporary failure is retried when the clock says its
// backoff is over, however little real time passed.
func TestRetryFollowsTheClock(t *testing.T) {
	be, port := startRefusingSMTP(t, map[string]*smtp.SMTPError{
		"busy@example.org": {Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"},
	})
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf("desk: {address: security@example.com}\ndata_dir: %s\nhttp: {listen: '127.0.0.1:0', api_tokens: [{password: a-long-enough-api-token}]}\nsmtp: {host: 127.0.0.1, port: %s, tls: none}\n", t.TempDir(), port)))
	if err != nil {
		t.Fatal(err)
	}
	fake := clock.NewFake(time.Now())
	d := startDaemon(t, cfg, fake)
	d.info.APIToken = "a-long-enough-api-token"
	var out map[string]string
	d.api("POST", "/api/v1/reports", []byte(`{"from":"busy@example.org","subject":"Report","text":"x"}`), &out)
	// The first attempt fails; the dispatcher then sleeps on the clock.
	eventually(t, "the first attempt and the dispatcher asleep", 10*time.Second, func() bool {
		o := d.incident(out["incident"]).Outbox
		return len(o) == 1 && o[0].Attempts == 1 && o[0].State == "pending" && fake.Waiters() > 0
	})
	if n := be.sink.count(); n != 0 {
		t.Fatalf("%d delivered before the backoff", n)
	}
	// Move the clock past the backoff (2 s ±20 %), again on each look:
	// the dispatcher may only now be going to sleep on it.
	eventually(t, "the retry once the clock moved", 10*time.Second, func() bool {
		fake.Advance(time.Minute)
		return be.sink.count() == 1
	})
	// The receiver has the mail before the sender records it sent.
	eventually(t, "the second attempt recorded", 10*time.Second, func() bool {
		return d.incident(out["incident"]).Outbox[0].State != "sending"
	})
	if o := d.incident(out["incident"]).Outbox[0]; o.Attempts != 2 || o.State != "sent" {
		t.Errorf("outbox %+v, want sent on the second attempt", o)
	}
}

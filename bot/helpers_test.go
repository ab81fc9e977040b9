package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/smtp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"tocsin/bot"
	"tocsin/bot/clock"
	"tocsin/bot/sandbox"
	"tocsin/config"
	"tocsin/internal/gpgtest"
)

// daemon is a Tocsin running in-process for a test.
type daemon struct {
	t     testing.TB
	cfg   *config.Config
	addrs bot.Addrs
	info  sandbox.Info
	stop  func()
	// fake is the daemon's clock when a test set a fake one.
	fake *clock.Fake
}

// startDaemon runs bot.Run on cfg (loopback, ephemeral ports) until the
// test ends; clk, if given, is the daemon's clock.
func startDaemon(t testing.TB, cfg *config.Config, clk ...bot.Clock) *daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan bot.Addrs, 1)
	done := make(chan error, 1)
	logw := &testLog{t: t}
	level := slog.LevelDebug
	if _, bench := t.(*testing.B); bench {
		level, logw.done = slog.LevelError, true
	}
	go func() {
		o := bot.RunOptions{
			Log:         slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: level})),
			SandboxIMAP: "127.0.0.1:0", SandboxSMTP: "127.0.0.1:0",
			Ready: func(a bot.Addrs) { ready <- a },
		}
		if len(clk) > 0 {
			o.Clock = clk[0]
		}
		done <- bot.Run(ctx, cfg, o)
	}()
	d := &daemon{t: t, cfg: cfg}
	select {
	case d.addrs = <-ready:
	case err := <-done:
		t.Fatalf("daemon exited at start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not start in 20s")
	}
	stopped := false
	d.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("daemon did not stop in 15s")
		}
		logw.close()
	}
	t.Cleanup(d.stop)
	if cfg.Sandbox {
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, "sandbox.json"))
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(b, &d.info)
	}
	return d
}

// startSandbox runs the sandbox with no playbook: intake tests count
// the messages, cards and answers a report makes, and a call tree would
// add its own (the call-tree tests start theirs with startTreeSandbox).
// waitIncidents waits until n incidents are filed. With a fake clock it
// moves time on by the mailbox's poll interval every second of waiting:
// the sandbox's IDLE reports what arrived since the last command, but a
// message landing in the microseconds between that report and go-imap's
// tracker taking over is found by the next poll, which fake time would
// never bring.
func (d *daemon) waitIncidents(n int) {
	d.t.Helper()
	last := time.Now()
	eventually(d.t, fmt.Sprintf("%d incidents", n), 15*time.Second, func() bool {
		if d.fake != nil && time.Since(last) > time.Second {
			d.fake.Advance(d.cfg.IMAP.PollInterval)
			last = time.Now()
		}
		return len(d.incidents()) >= n
	})
}

func startSandbox(t *testing.T) *daemon {
	cfg := bot.SandboxConfig(t.TempDir(), "127.0.0.1:0")
	cfg.Playbooks = []config.Playbook{}
	return startDaemon(t, cfg)
}

// testLog sends daemon logs to t.Log, and stops once the test is over.
type testLog struct {
	t    testing.TB
	done bool
}

func (l *testLog) Write(p []byte) (int, error) {
	if !l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
func (l *testLog) close() { l.done = true }

// sendMail submits raw to the sandbox SMTP server, as any mail client would.
func (d *daemon) sendMail(from string, raw string) {
	d.t.Helper()
	raw = strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\n", "\r\n")
	if err := smtp.SendMail(d.addrs.SandboxSMTP, nil, from, []string{sandbox.Alias}, []byte(raw)); err != nil {
		d.t.Fatalf("sending mail: %v", err)
	}
}

// report builds a plain report.
func report(from, msgID, subject, body string, extra ...string) string {
	h := fmt.Sprintf("From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s>\nDate: %s\n", from, sandbox.Alias, subject, msgID, time.Now().Format(time.RFC1123Z))
	for _, e := range extra {
		h += e + "\n"
	}
	return h + "Content-Type: text/plain; charset=utf-8\n\n" + body + "\n"
}

// api calls the JSON API with the sandbox token.
func (d *daemon) api(method, path string, body []byte, out any) int {
	d.t.Helper()
	req, _ := http.NewRequest(method, "http://"+d.addrs.HTTP+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+d.info.APIToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			d.t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

type apiIncident struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Priority string `json:"priority"`
	Category string `json:"category"`
	Reporter string `json:"reporter"`
	Messages []struct {
		Direction string `json:"direction"`
		MessageID string `json:"message_id"`
		From      string `json:"from"`
		NewSender bool   `json:"new_sender"`
	} `json:"messages"`
	Audit []struct {
		Action string `json:"action"`
		Detail string `json:"detail"`
	} `json:"audit"`
	Outbox []struct {
		Key       string `json:"key"`
		State     string `json:"state"`
		Recipient string `json:"recipient"`
		Attempts  int    `json:"attempts"`
	} `json:"outbox"`
}

func (d *daemon) incidents() []apiIncident {
	d.t.Helper()
	var out struct{ Incidents []apiIncident }
	if code := d.api("GET", "/api/v1/incidents", nil, &out); code != 200 {
		d.t.Fatalf("GET /api/v1/incidents: %d", code)
	}
	return out.Incidents
}

func (d *daemon) incident(id string) apiIncident {
	d.t.Helper()
	var out apiIncident
	if code := d.api("GET", "/api/v1/incidents/"+id, nil, &out); code != 200 {
		d.t.Fatalf("GET incident %s: %d", id, code)
	}
	return out
}

// deskPage fetches a desk page with the sandbox login.
func (d *daemon) deskPage(path string) (int, string) {
	d.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+d.addrs.HTTP+path, nil)
	req.SetBasicAuth(d.info.DeskUser, d.info.DeskPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// health returns /healthz's status code and components.
func (d *daemon) health() (int, map[string]string) {
	d.t.Helper()
	code, body := getBody(d.t, "http://"+d.addrs.HTTP+"/healthz")
	var out struct{ Components map[string]string }
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		d.t.Fatalf("/healthz: %v\n%s", err, body)
	}
	return code, out.Components
}

// metric returns the value of one sample on /metrics ("name" or
// `name{label="v"}`), 0 when absent.
func (d *daemon) metric(sample string) float64 {
	d.t.Helper()
	_, body := getBody(d.t, "http://"+d.addrs.HTTP+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// settled waits until n messages have been taken in and nothing is left
// to send: the positive signal after which "nothing more happened" can be
// asserted.
func (d *daemon) settled(n int) {
	d.t.Helper()
	eventually(d.t, fmt.Sprintf("%d messages taken in and the outbox drained", n), 15*time.Second, func() bool {
		return d.metric("tocsin_messages_fetched_total") >= float64(n) &&
			d.metric(`tocsin_outbox_depth{state="pending"}`) == 0 && d.metric(`tocsin_outbox_depth{state="sending"}`) == 0
	})
}

type apiMessage struct {
	From          string `json:"from"`
	Subject       string `json:"subject"`
	Category      string `json:"category"`
	UnfiledReason string `json:"unfiled_reason"`
	NewSender     bool   `json:"new_sender"`
	MessageID     string `json:"message_id"`
}

// unfiled lists the automatic mail that opened no incident.
func (d *daemon) unfiled() []apiMessage {
	d.t.Helper()
	var out struct{ Messages []apiMessage }
	if code := d.api("GET", "/api/v1/messages?unfiled=true", nil, &out); code != 200 {
		d.t.Fatalf("GET /api/v1/messages?unfiled=true: %d", code)
	}
	return out.Messages
}

// sent returns the mail the sandbox kept for recipients other than the alias.
// sent is the mail the sandbox kept that went outside the desk: to
// reporters. The demo roster's people are all @sandbox.test; what the call
// trees sent them is paged().
func (d *daemon) sent() map[string][]byte { return d.sentWhere(false) }

// paged is the mail the sandbox kept that went to the demo roster.
func (d *daemon) paged() map[string][]byte { return d.sentWhere(true) }

func (d *daemon) sentWhere(roster bool) map[string][]byte {
	out := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join(d.cfg.DataDir, "sent", "*.eml"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.HasSuffix(headerOf(b, "X-Sandbox-Envelope-To"), "@sandbox.test>") == roster {
			out[filepath.Base(f)] = b
		}
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func headerOf(raw []byte, key string) string {
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	unfolded := strings.ReplaceAll(string(head), "\r\n ", " ")
	for _, line := range strings.Split(unfolded, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func getBody(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// appendMail delivers raw into INBOX with IMAP APPEND, as an MTA would.
func appendMail(t testing.TB, c *imapclient.Client, raw string) {
	t.Helper()
	ac := c.Append("INBOX", int64(len(raw)), nil)
	io.WriteString(ac, raw)
	ac.Close()
	if _, err := ac.Wait(); err != nil {
		t.Fatal(err)
	}
}

// importDeskKey imports the desk's public key, as served at /pgp-key.asc,
// into g, so gpg can check what the desk signs; it returns g.
func (d *daemon) importDeskKey(g *gpgtest.Home) *gpgtest.Home {
	d.t.Helper()
	_, key := getBody(d.t, "http://"+d.addrs.HTTP+"/pgp-key.asc")
	g.Import(key)
	return g
}

// startWithKnownKey starts the sandbox with the key of addr, from g, in
// pgp.keyring.
func startWithKnownKey(t *testing.T, g *gpgtest.Home, addr string) *daemon {
	t.Helper()
	dir := t.TempDir()
	ring := filepath.Join(dir, "known.asc")
	if err := os.WriteFile(ring, g.Export(addr), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := bot.SandboxConfig(dir, "127.0.0.1:0")
	cfg.PGP.Keyring = ring
	return startDaemon(t, cfg)
}

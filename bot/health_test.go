package bot_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"tocsin/bot/clock"
	"tocsin/config"
)

// TestHealthSeesFailingSends (issue 18): with the SMTP relay refusing
// connections, /healthz turns 503 once sends have failed for five
// minutes, naming the platform and since when, and the metrics say the
// same; once the relay is back and the item is sent, 200 again.
func TestHealthSeesFailingSends(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close() // nothing listens: connections are refused
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf("desk: {address: security@example.com}\ndata_dir: %s\nhttp: {listen: '127.0.0.1:0', api_tokens: [{password: a-long-enough-api-token}]}\nsmtp: {host: 127.0.0.1, port: %s, tls: none}\n", t.TempDir(), port)))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	fake := clock.NewFake(start)
	d := startDaemon(t, cfg, fake)
	d.info.APIToken = "a-long-enough-api-token"
	var out map[string]string
	d.api("POST", "/api/v1/reports", []byte(`{"from":"rita@example.org","subject":"Report","text":"x"}`), &out)
	eventually(t, "the first attempt", 10*time.Second, func() bool {
		o := d.incident(out["incident"]).Outbox
		return len(o) == 1 && o[0].Attempts >= 1 && o[0].State == "pending"
	})
	if code, comps := d.health(); code != 200 || comps["outbox"] != "ok" {
		t.Errorf("healthz right after the first failure: %d %v", code, comps)
	}

	// Five minutes of failures: degraded, saying which and since when.
	fake.Advance(6 * time.Minute)
	var comps map[string]string
	eventually(t, "healthz 503 naming the failing sends", 10*time.Second, func() bool {
		var code int
		code, comps = d.health()
		return code == 503 && strings.Contains(comps["outbox"], "mail sends failing since")
	})
	if !strings.Contains(comps["outbox"], "connection refused") {
		t.Errorf("the outbox component does not say why: %q", comps["outbox"])
	}
	if d.metric(`tocsin_outbox_degraded{reason="failing"}`) != 1 {
		t.Errorf("metrics: failing %v", d.metric(`tocsin_outbox_degraded{reason="failing"}`))
	}

	// The relay comes back on its port; the retry goes out: 200 again.
	back, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	srv := smtp.NewServer(&refusingBackend{sink: &smtpSink{}, refused: map[string]int{}, refuse: map[string]*smtp.SMTPError{}})
	go srv.Serve(back)
	t.Cleanup(func() { srv.Close() })
	eventually(t, "the retry once the relay is back", 15*time.Second, func() bool {
		fake.Advance(time.Minute)
		o := d.incident(out["incident"]).Outbox
		return o[0].State == "sent"
	})
	eventually(t, "healthz 200", 10*time.Second, func() bool {
		code, c := d.health()
		comps = c
		return code == 200
	})
	if d.metric(`tocsin_outbox_degraded{reason="failing"}`) != 0 || d.metric(`tocsin_outbox_degraded{reason="stale"}`) != 0 {
		t.Errorf("metrics after the send: %v", comps)
	}
}

// TestIMAPNeverConnectedSaysWhy (issue 18): while the first IMAP attempt
// hangs (a server that accepts and never greets), /healthz names what it
// waits for, not an empty reason.
func TestIMAPNeverConnectedSaysWhy(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	_, iport, _ := net.SplitHostPort(silent.Addr().String())
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`desk: {address: security@example.com}
data_dir: %s
http: {listen: '127.0.0.1:0', api_tokens: [{password: a-long-enough-api-token}]}
imap: {host: 127.0.0.1, port: %s, username: security@example.com, idle: false, poll_interval: 1s, tls: none, password: imap-secret-value}
smtp: {host: 127.0.0.1, port: 1, tls: none}
`, t.TempDir(), iport)))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg)
	code, comps := d.health()
	if code != 503 || !strings.Contains(comps["imap"], "never connected: the first attempt") {
		t.Errorf("healthz during the first attempt: %d %q", code, comps["imap"])
	}
}

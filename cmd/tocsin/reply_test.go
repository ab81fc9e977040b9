package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"tocsin/bot"
)

// TestPhoneReportAndReplyByCLI: against a running sandbox, tocsin report
// --phone files the call (the token's person audited as the taker),
// tocsin incidents reply --dry-run prints the form and sends nothing, and
// the audit verifies afterwards.
func TestPhoneReportAndReplyByCLI(t *testing.T) {
	data := t.TempDir()
	cfg := bot.SandboxConfig(data, "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan bot.Addrs, 1), make(chan error, 1)
	go func() {
		done <- bot.Run(ctx, cfg, bot.RunOptions{Log: slog.New(slog.DiscardHandler), Out: io.Discard, SandboxIMAP: "127.0.0.1:0", SandboxSMTP: "127.0.0.1:0",
			Ready: func(a bot.Addrs) { ready <- a }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("the sandbox did not start")
	}
	out, errs, err := run("report", "--phone", "--caller", "Ann Lee, Acme GmbH, +49 30 5550199, ann@example.org", "Phishing page on shop.sandbox.test", "--data", data)
	if err != nil {
		t.Fatalf("report: %v %s", err, errs)
	}
	id := strings.Fields(out)[0]
	shown, _, err := run("incidents", "show", id, "--json", "--data", data)
	if err != nil || !strings.Contains(shown, `"phone-report"`) || !strings.Contains(shown, "taken by officer@sandbox.test via api") {
		t.Errorf("incidents show %s: %v\n%s", id, err, shown)
	}
	out, errs, err = run("incidents", "reply", id, "status-update", "--text", "We took the page down.", "--dry-run", "--data", data)
	if err != nil || !strings.Contains(out, "ann@example.org") || !strings.Contains(out, "We took the page down.") {
		t.Errorf("reply --dry-run: %v %s\n%s", err, errs, out)
	}
	if _, errs, err := run("incidents", "reply", id, "poem", "--data", data); err == nil {
		t.Errorf("an unknown form was accepted: %s", errs)
	}
	if _, errs, err := run("incidents", "reply", id, "closure", "--text", "Done.", "--data", data); err != nil {
		t.Errorf("reply: %v %s", err, errs)
	}
	cancel()
	<-done
	if out, errs, err := run("audit", "verify", "--data", data); err != nil {
		t.Errorf("audit verify: %v %s %s", err, out, errs)
	}
}

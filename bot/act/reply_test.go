package act

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tocsin/bot/notify"
)

// queuedTo are the notices queued for the fixture's outbox of kind.
func (f *fixture) queuedOf(kind string) []notify.Notice {
	f.t.Helper()
	items, err := f.st.Claim(context.Background(), f.clock.Now().Add(time.Hour), time.Minute, 50)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []notify.Notice
	for _, it := range items {
		var n notify.Notice
		if it.Kind == kind && json.Unmarshal(it.Payload, &n) == nil {
			out = append(out, n)
		}
	}
	return out
}

// TestReplyPreviewThenSend: /reply previews (nothing queued, nothing
// audited), then queues the form to the reporter with its audit entry; an
// unknown form is refused.
func TestReplyPreviewThenSend(t *testing.T) {
	f := newFixture(t)
	pia := Actor{Person: "pia@example.com", Platform: "slack", RequestID: "r1"}
	res := f.do(pia, Command{Name: Reply, Incident: "SEC-2026-0001", Args: []string{"status-update"}, Text: "We patched pay.", DryRun: true})
	p, ok := res.(ReplyPreview)
	if !ok || p.Form != "status-update" || p.To != "r@example.org" || p.Lang != "en" || p.Subject == "" || !strings.Contains(p.Body, "We patched pay.") {
		t.Fatalf("preview: %+v", res)
	}
	if f.kicks != 0 || len(f.audits("reporter-answered")) != 0 {
		t.Errorf("a preview changed something: %d kicks", f.kicks)
	}
	res = f.do(pia, Command{Name: Reply, Incident: "SEC-2026-0001", Args: []string{"status-update"}, Text: "We patched pay."})
	if res != (ReplySent{Incident: "SEC-2026-0001", Form: "status-update", To: "r@example.org", By: "Pia"}) {
		t.Fatalf("send: %+v", res)
	}
	if a := f.audits("reporter-answered"); len(a) != 1 || a[0].Actor != "pia@example.com" || a[0].RequestID != "r1" {
		t.Errorf("audit: %+v", a)
	}
	if q := f.queuedOf("status-update"); len(q) != 1 || q[0].Data.NonTechnical != "We patched pay." || q[0].To.Address != "r@example.org" {
		t.Errorf("queued: %+v", q)
	}
	if f.kicks != 1 {
		t.Errorf("outbox woken %d times", f.kicks)
	}
	if r := f.do(pia, Command{Name: Reply, Incident: "SEC-2026-0001", Args: []string{"poem"}}); outcome(r) != string(MissingArgument) {
		t.Errorf("unknown form: %+v", r)
	}
	if r := f.do(Actor{Person: "ona@example.com"}, Command{Name: Reply, Incident: "SEC-2026-0001", Args: []string{"closure"}}); outcome(r) != string(NotPermitted) {
		t.Errorf("an owner replied: %+v", r)
	}
}

// TestReplyRefusedWhenNotWritable: a reporter who may not be written to
// gets nothing, by /reply or on close, and the results say why.
func TestReplyRefusedWhenNotWritable(t *testing.T) {
	f := newFixture(t)
	f.notWritable = AutomaticSender
	pia := Actor{Person: "pia@example.com", Platform: "api", RequestID: "r2"}
	res := f.do(pia, Command{Name: Reply, Incident: "SEC-2026-0001", Args: []string{"request-info"}, Text: "which host?"})
	if r, ok := res.(Refused); !ok || r.Reason != ReporterNotWritable || r.Arg != string(AutomaticSender) {
		t.Fatalf("reply to an automatic sender: %+v", res)
	}
	if res := f.do(pia, Command{Name: Close, Incident: "SEC-2026-0001"}); res != (Closed{Incident: "SEC-2026-0001", By: "Pia", ReporterNotWritable: AutomaticSender}) {
		t.Fatalf("close: %+v", res)
	}
	if q := append(f.queuedOf("closure"), f.queuedOf("request-info")...); len(q) != 0 {
		t.Errorf("queued to a reporter not written to: %+v", q)
	}
	if a := f.audits("no-answer"); len(a) != 1 {
		t.Errorf("no-answer audit: %+v", a)
	}
}

// TestCloseSendsClosure: closing queues the closure form once.
func TestCloseSendsClosure(t *testing.T) {
	f := newFixture(t)
	if res := f.do(Actor{Person: "ofe@example.com"}, Command{Name: Close, Incident: "SEC-2026-0001", Text: "fixed in 4.2.1"}); res != (Closed{Incident: "SEC-2026-0001", By: "Ofe", ReporterTold: true}) {
		t.Fatalf("close: %+v", res)
	}
	if q := f.queuedOf("closure"); len(q) != 1 || q[0].Data.Resolution != "fixed in 4.2.1" {
		t.Errorf("closure queued: %+v", q)
	}
}

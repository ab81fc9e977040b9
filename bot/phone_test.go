package bot_test

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"tocsin/bot"
)

// TestPhoneReportInChat: /report --caller files the call with the caller
// as its reporter and the taker audited as "taken by"; a caller without an
// address gets no mail, one with an address the acknowledgement.
func TestPhoneReportInChat(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	report := func(trigger, text string) string {
		_, out, _ := d.slackPost("/slack/commands", url.Values{"command": {"/report"}, "text": {text}, "user_id": {"U0TARA"}, "trigger_id": {trigger}}, time.Now(), "")
		m := regexp.MustCompile(`SEC-\d{4}-\d{4}`).FindString(strings.TrimSpace(strings.Split(out["text"].(string), ":")[0]))
		if m == "" {
			t.Fatalf("/report: %v", out)
		}
		return m
	}
	id := report("ph-1", `--caller "Ann Lee, Acme GmbH, +49 30 5550199" Phishing page on shop.sandbox.test asking for card numbers`)
	inc := d.incident(id)
	taken := false
	for _, a := range inc.Audit {
		if a.Action == bot.ActionPhoneReport {
			taken = strings.Contains(a.Detail, "Ann Lee, Acme GmbH, +49 30 5550199") && strings.Contains(a.Detail, "taken by tara@sandbox.test via slack")
		}
	}
	if !taken || inc.Reporter != "" {
		t.Errorf("phone report %s: reporter %q, audit %+v", id, inc.Reporter, inc.Audit)
	}
	id2 := report("ph-2", `--caller “Bob Roe, Beta Ltd, +1 212 5550177, bob@example.org” Defaced home page on www.sandbox.test`)
	if id2 == id || d.incident(id2).Reporter != "bob@example.org" {
		t.Fatalf("second phone report %s: %+v", id2, d.incident(id2))
	}
	eventually(t, "the acknowledgement to bob", 10*time.Second, func() bool { return len(d.sentTo("bob@example.org")) == 1 })
	d.settled(0)
	for _, b := range d.sent() {
		if to := headerOf(b, "X-Sandbox-Envelope-To"); !strings.HasSuffix(to, "@sandbox.test>") && to != "<bob@example.org>" {
			t.Errorf("mail to %s", to)
		}
	}
	if _, _, brk, err := bot.VerifyAudit(context.Background(), d.cfg); err != nil || brk != nil {
		t.Errorf("audit verify: %v %+v", err, brk)
	}
}

// TestPhoneReportByAPI: POST /api/v1/reports with source phone files the
// call, the token's person audited as the taker; without a caller it is
// refused.
func TestPhoneReportByAPI(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	body, _ := json.Marshal(map[string]any{"source": "phone", "text": "Ransom note on pay.sandbox.test",
		"caller": map[string]string{"name": "Cy Caller", "organisation": "Gamma AG", "phone": "+41 44 5550100"}})
	var out struct {
		Incident   string `json:"incident"`
		CallerTold bool   `json:"caller_told"`
	}
	if code := d.api("POST", "/api/v1/reports", body, &out); code != 202 || out.Incident == "" || out.CallerTold {
		t.Fatalf("phone report: %d %+v", code, out)
	}
	taken := false
	for _, a := range d.incident(out.Incident).Audit {
		taken = taken || a.Action == bot.ActionPhoneReport && strings.Contains(a.Detail, "Cy Caller, Gamma AG, +41 44 5550100") && strings.Contains(a.Detail, "taken by officer@sandbox.test via api")
	}
	if !taken {
		t.Errorf("no phone-report entry naming the caller and the taker: %+v", d.incident(out.Incident).Audit)
	}
	body, _ = json.Marshal(map[string]any{"source": "phone", "text": "x"})
	if code := d.api("POST", "/api/v1/reports", body, nil); code != 400 {
		t.Errorf("a phone report without a caller: %d", code)
	}
}

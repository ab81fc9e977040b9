package bot_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"tocsin/bot"
)

// treeAsset is an asset of GET /api/v1/incidents/{id} "calltree".
type treeAsset struct {
	Unit  string    `json:"unit"`
	Asset string    `json:"asset"`
	State string    `json:"state"`
	By    string    `json:"by"`
	At    time.Time `json:"at"`
	Note  string    `json:"note"`
	// Evidence: the files that came with the state (the team's scan output).
	Evidence []struct {
		Name   string `json:"name"`
		SHA256 string `json:"sha256"`
	} `json:"evidence"`
}

// assets are the incident's assets as the API shows them, by name.
func (d *daemon) assets(id string) map[string]treeAsset {
	d.t.Helper()
	var out struct {
		CallTree *struct {
			Assets []treeAsset `json:"assets"`
		} `json:"calltree"`
	}
	if code := d.api("GET", "/api/v1/incidents/"+id, nil, &out); code != 200 || out.CallTree == nil {
		d.t.Fatalf("GET %s: %d", id, code)
	}
	m := map[string]treeAsset{}
	for _, a := range out.CallTree.Assets {
		m[a.Asset] = a
	}
	return m
}

// TestAssetsFixedOneByOneAndValidated is the process's patch database: a
// P1 on pay.sandbox.test starts with that asset affected; the team adds
// pay-db-2 through the API with why; the owner fixes them one by one
// (a mail answer naming one, then /done ID ASSET in Slack, which, the
// last, also counts for her step); the team validates each by its scan;
// the E+24h status report lists them with their states; the audit
// verifies intact.
func TestAssetsFixedOneByOneAndValidated(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("assets1@example.org", "Ransomware on pay.sandbox.test, actively exploited", "Ransom notes on https://pay.sandbox.test/admin.")
	tr := d.waitState(id, "team-alerted", "notified")
	primary := tr.step("team-alerted").Notified[0]
	if a := d.assets(id); len(a) != 1 || a["pay.sandbox.test"].Unit != "payments" || a["pay.sandbox.test"].State != "affected" {
		t.Fatalf("assets from the report: %+v", a)
	}

	// Added by the API, with why; mistakes are 400.
	var out map[string]any
	if code := d.api("POST", "/api/v1/incidents/"+id+"/assets", []byte(`{"unit": "payments", "asset": "pay-db-2", "state": "affected", "note": "same build, found in the inventory"}`), &out); code != 200 {
		t.Fatalf("adding an asset: %d %v", code, out)
	}
	if a := d.assets(id)["pay-db-2"]; a.State != "affected" || a.By != "officer@sandbox.test" || a.Note != "same build, found in the inventory" {
		t.Errorf("pay-db-2 added as %+v", a)
	}
	for _, body := range []string{`{"unit": "payments", "asset": "x", "state": "patched", "note": "n"}`, `{"unit": "web", "asset": "x", "state": "affected", "note": "n"}`, `{"asset": "x", "state": "affected"}`} {
		if code := d.api("POST", "/api/v1/incidents/"+id+"/assets", []byte(body), &out); code != 400 {
			t.Errorf("%s: %d %v", body, code, out)
		}
	}

	reply := func(from, msgID, text string, raw []byte) {
		d.sendMail(from, report(from, msgID, "Re: ["+id+"]", text+"\n\nOn Tuesday the desk wrote:\n> Answer reference: "+tokenOf(t, raw)))
	}
	eventually(t, "the primary's alert", 10*time.Second, func() bool { return len(d.pagedTo(primary)) == 1 })
	reply(primary, "a-t1@sandbox.test", "ack", d.pagedTo(primary)[0])
	d.waitState(id, "units-alerted:payments", "notified")
	eventually(t, "uma's alert", 10*time.Second, func() bool { return len(d.pagedTo("uma@sandbox.test")) == 1 })
	reply("uma@sandbox.test", "a-u1@sandbox.test", "ack", d.pagedTo("uma@sandbox.test")[0])
	d.waitState(id, "owners-told:payments", "notified")
	reply("olga@sandbox.test", "a-o1@sandbox.test", "ack", d.alertFor("olga@sandbox.test", "Owners and administrators told"))
	d.waitState(id, "fix-installed:payments", "notified")

	// One by one: a mail answer naming the asset fixes it, not the step.
	reply("olga@sandbox.test", "a-o2@sandbox.test", "done pay.sandbox.test patched to 2.4.1, tested on staging", d.alertFor("olga@sandbox.test", "Fix tested and installed"))
	eventually(t, "pay.sandbox.test fixed", 10*time.Second, func() bool { return d.assets(id)["pay.sandbox.test"].State == "fixed" })
	if a := d.assets(id)["pay.sandbox.test"]; a.By != "olga@sandbox.test" || a.Note != "patched to 2.4.1, tested on staging" {
		t.Errorf("pay.sandbox.test %+v", a)
	}
	if s := d.tree(id).step("fix-installed:payments"); s.State != "notified" {
		t.Errorf("fix-installed %+v with pay-db-2 still open", s)
	}
	// The last one in Slack: its done counts for her step too.
	done := url.Values{"command": {"/done"}, "text": {id + " pay-db-2 patched as well"}, "user_id": {"U0OLGA"}, "trigger_id": {"a1"}}
	if code, out, _ := d.slackPost("/slack/commands", done, time.Now(), ""); code != 200 || out["response_type"] != "in_channel" {
		t.Fatalf("/done ID ASSET: %d %v", code, out)
	}
	if a := d.assets(id)["pay-db-2"]; a.State != "fixed" || a.By != "olga@sandbox.test" || a.Note != "patched as well" {
		t.Errorf("pay-db-2 %+v", a)
	}
	tr = d.waitState(id, "unit-confirmed:payments", "notified")
	if s := tr.step("fix-installed:payments"); s.State != "done" || fmt.Sprint(s.DoneBy) != "[olga@sandbox.test]" {
		t.Errorf("fix-installed %+v after the last asset", s)
	}
	reply("uma@sandbox.test", "a-u2@sandbox.test", "done", d.alertFor("uma@sandbox.test", "Unit confirms its systems are done"))

	// The team validates each by its scan, then its step.
	tr = d.waitState(id, "team-validated", "notified")
	validator := tr.step("team-validated").Notified[0]
	slackIDs := map[string]string{"tara@sandbox.test": "U0TARA", "theo@sandbox.test": "U0THEO"}
	for i, asset := range []string{"pay.sandbox.test", "payments:pay-db-2"} {
		v := url.Values{"command": {"/tocsin"}, "text": {"done " + id + " " + asset + " rescan clean"}, "user_id": {slackIDs[validator]}, "trigger_id": {fmt.Sprint("v", i)}}
		if code, out, _ := d.slackPost("/slack/commands", v, time.Now(), ""); code != 200 {
			t.Fatalf("validating %s: %d %v", asset, code, out)
		}
	}
	for name, a := range d.assets(id) {
		if a.State != "validated" || a.By != validator || a.Note != "rescan clean" {
			t.Errorf("%s after the scan: %+v", name, a)
		}
	}
	reply(validator, "a-v1@sandbox.test", "done scanned, all patched", d.alertFor(validator, "Team validated the fixes"))
	d.waitState(id, "status-report", "done")
	eventually(t, "the status report to the CIO", 10*time.Second, func() bool { return len(d.pagedTo("cio@sandbox.test")) == 1 })
	text := decodedText(t, d.pagedTo("cio@sandbox.test")[0])
	for _, want := range []string{"Affected systems", "pay.sandbox.test (payments): validated by the team's scan, by " + validator, "pay-db-2 (payments): validated"} {
		if !strings.Contains(text, want) {
			t.Errorf("the status report lacks %q:\n%s", want, text)
		}
	}

	// Every change is audited, and the audit holds the assets' states.
	actions := map[string]int{}
	for _, a := range d.incident(id).Audit {
		actions[a.Action]++
	}
	if actions["asset-affected"] != 1 || actions["asset-fixed"] != 2 || actions["asset-validated"] != 2 {
		t.Errorf("audited asset changes %v", actions)
	}
	if n, _, brk, err := bot.VerifyAudit(context.Background(), d.cfg); err != nil || brk != nil {
		t.Errorf("audit verify: %d, %v, %v", n, brk, err)
	}
}

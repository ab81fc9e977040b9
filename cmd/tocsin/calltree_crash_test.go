package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/smtp"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"tocsin/bot/chatops"
)

// api calls the daemon's API with the sandbox's token.
func (p *proc) api(t *testing.T, data, method, path, body string, out any) int {
	t.Helper()
	var info struct {
		APIToken string `json:"api_token"`
	}
	b, _ := os.ReadFile(filepath.Join(data, "sandbox.json"))
	json.Unmarshal(b, &info)
	req, _ := http.NewRequest(method, "http://"+p.httpAddr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+info.APIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0 // killed mid-request
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// TestCallTreeSurvivesKill9 runs a significant-event tree through a day
// on the sandbox clock nobody answers, killing the daemon with SIGKILL at
// random moments, and checks that the tree ends as it would have without
// the kills: every page, reminder, escalation and the CIO's status report
// sent exactly once, nothing pending, nothing lost.
func TestCallTreeSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	data := t.TempDir()
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)
	p := startProc(t, data)
	msg := "From: rita@example.org\r\nTo: security@sandbox.test\r\nSubject: Ransomware on pay.sandbox.test, actively exploited\r\nMessage-ID: <tree1@example.org>\r\n\r\nRansom notes on https://pay.sandbox.test/admin.\r\n"
	if err := smtp.SendMail(p.smtpAddr, nil, "rita@example.org", []string{"security@sandbox.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	kills := 0
	for _, step := range []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 20 * time.Hour, time.Hour} {
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		p.api(t, data, "POST", "/api/v1/sandbox/clock", fmt.Sprintf(`{"advance": %q}`, step.String()), nil)
		if rng.IntN(3) > 0 {
			time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
			p.kill9()
			kills++
			p = startProc(t, data)
		}
	}
	defer p.kill9()
	type step struct {
		ID          string   `json:"id"`
		State       string   `json:"state"`
		EscalatedTo []string `json:"escalated_to"`
		Notified    []string `json:"notified"`
	}
	var inc struct {
		Outbox []struct {
			Key       string `json:"key"`
			State     string `json:"state"`
			Recipient string `json:"recipient"`
		} `json:"outbox"`
		CallTree struct {
			Steps []step `json:"steps"`
		} `json:"calltree"`
	}
	id := fmt.Sprintf("SEC-%d-0001", time.Now().UTC().Year())
	deadline := time.Now().Add(60 * time.Second)
	for {
		p.api(t, data, "GET", "/api/v1/incidents/"+id, "", &inc)
		pending := 0
		for _, o := range inc.Outbox {
			if o.State != "sent" {
				pending++
			}
		}
		if len(inc.Outbox) > 0 && pending == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d kill -9s", kills)
	states := map[string]step{}
	for _, s := range inc.CallTree.Steps {
		states[s.ID] = s
	}
	if s := states["team-alerted"]; s.State != "overdue" || len(s.EscalatedTo) != 2 {
		t.Errorf("team-alerted %+v: want overdue, escalated to the secondary and the officers", s)
	}
	if s := states["status-report"]; s.State != "done" || fmt.Sprint(s.Notified) != "[cio@sandbox.test]" {
		t.Errorf("status-report %+v: want sent to the CIO at E+24h, whatever is still open", s)
	}
	if s := states["units-alerted:payments"]; s.State != "overdue" {
		t.Errorf("units-alerted %+v: waits for the team, and shows its deadline passed", s)
	}
	for _, o := range inc.Outbox {
		if o.State != "sent" {
			t.Errorf("outbox %s to %s is %s", o.Key, o.Recipient, o.State)
		}
	}
	// The mail that arrived: one of each, by Message-ID and by what it is.
	files, _ := filepath.Glob(filepath.Join(data, "sent", "*.eml"))
	got := map[string]int{}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		to, subject := header(b, "X-Sandbox-Envelope-To"), header(b, "Subject")
		got[to+" "+subject[strings.Index(subject, "]")+2:]]++
	}
	var list []string
	for k, n := range got {
		list = append(list, fmt.Sprintf("%d× %s", n, k))
	}
	sort.Strings(list)
	mails := 0
	for _, o := range inc.Outbox {
		if !strings.Contains(o.Recipient, ":") {
			mails++
		}
	}
	if len(files) != mails {
		t.Errorf("%d mails arrived for %d mail items in the outbox:\n%s", len(files), mails, strings.Join(list, "\n"))
	}
	ids := map[string]bool{}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		id := header(b, "Message-Id")
		if ids[id] {
			t.Errorf("%s arrived twice", id)
		}
		ids[id] = true
	}
	t.Logf("mail:\n%s", strings.Join(list, "\n"))
	out, _, err := run("incidents", "show", id, "--data", data)
	if err != nil || !strings.Contains(out, "call tree: significant-event") || !regexp.MustCompile(`team-alerted\s+ack\s+\S+ \S+\s+overdue`).MatchString(out) {
		t.Errorf("incidents show: %v\n%s", err, out)
	}
}

func header(raw []byte, key string) string {
	for _, l := range bytes.Split(raw, []byte("\r\n")) {
		if k, v, ok := strings.Cut(string(l), ": "); ok && strings.EqualFold(k, key) {
			return v
		}
		if len(l) == 0 {
			break
		}
	}
	return ""
}

// TestChatTry: `tocsin chat try` signs requests as Slack and Discord
// would and posts them to the running sandbox: /status answers, and the
// primary's button press acknowledges their step.
func TestChatTry(t *testing.T) {
	data := t.TempDir()
	p := startProc(t, data)
	defer p.kill9()
	msg := "From: rita@example.org\r\nTo: security@sandbox.test\r\nSubject: Ransomware on pay.sandbox.test, actively exploited\r\nMessage-ID: <try1@example.org>\r\n\r\nRansom notes.\r\n"
	if err := smtp.SendMail(p.smtpAddr, nil, "rita@example.org", []string{"security@sandbox.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("SEC-%d-0001", time.Now().UTC().Year())
	var inc struct {
		CallTree struct {
			Steps []struct {
				ID       string   `json:"id"`
				State    string   `json:"state"`
				Notified []string `json:"notified"`
			} `json:"steps"`
		} `json:"calltree"`
	}
	primary := ""
	deadline := time.Now().Add(20 * time.Second)
	for primary == "" && time.Now().Before(deadline) {
		p.api(t, data, "GET", "/api/v1/incidents/"+id, "", &inc)
		for _, s := range inc.CallTree.Steps {
			if s.ID == "team-alerted" && len(s.Notified) > 0 {
				primary = s.Notified[0]
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if primary == "" {
		t.Fatal("no call tree")
	}
	out, _, err := run("chat", "try", "discord", "--as", "uma", "/status "+id, "--data", data)
	if err != nil || !strings.Contains(out, "HTTP 200") || !strings.Contains(out, "significant") {
		t.Errorf("chat try discord /status: %v\n%s", err, out)
	}
	out, _, err = run("chat", "try", "slack", "--as", primary, "--button", "ack:"+id, "--data", data)
	if err != nil || !strings.Contains(out, "acknowledged") {
		t.Fatalf("chat try slack --button: %v\n%s", err, out)
	}
	p.api(t, data, "GET", "/api/v1/incidents/"+id, "", &inc)
	for _, s := range inc.CallTree.Steps {
		if s.ID == "team-alerted" && s.State != "acknowledged" {
			t.Errorf("team-alerted %s after the button", s.State)
		}
	}
	// The Discord commands, installed on the sandbox's stand-in.
	out, _, err = run("chat", "register", "--data", data)
	if err != nil || !strings.Contains(out, fmt.Sprintf("registered %d Discord commands", len(chatops.Names)+1)) {
		t.Fatalf("chat register: %v %s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(data, "chat", "*-discord-register-commands.json"))
	if len(files) != 1 {
		t.Fatalf("%d register captures", len(files))
	}
	b, _ := os.ReadFile(files[0])
	for _, name := range []string{`"ack"`, `"done"`, `"escalate"`, `"tocsin"`, `"link"`} {
		if !strings.Contains(string(b), name) {
			t.Errorf("registered commands lack %s", name)
		}
	}
}

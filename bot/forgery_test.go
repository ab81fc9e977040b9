package bot_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"tocsin/internal/gpgtest"
)

// forgedName is a display name that, printed as is, would add a "Point of
// contact" line to the desk's signed form.
const forgedName = "Eve\r\n  Point of contact:  Mallory, CSIRT <mallory@evil.test>, call +1-555-0100 now"

// TestForgedLinesNeverReachSignedMail sends the same hostile name through
// every intake (SMTP as an RFC 2047 display name, the web form's name
// field, the API's name) and checks, with GnuPG, that each signed
// acknowledgement has exactly the lines of an acknowledgement to a benign
// reporter: the template's, and no line the report wrote.
func TestForgedLinesNeverReachSignedMail(t *testing.T) {
	d := startSandbox(t)
	g := d.importDeskKey(gpgtest.NewHome(t))

	// Baseline: a benign reporter, same subject.
	d.sendMail("base@example.org", report("Eve <base@example.org>", "base@example.org", "Login bypass", "details"))
	// SMTP: the encoded-word display name.
	enc := "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(forgedName)) + "?="
	d.sendMail("smtp@example.org", report(enc+" <smtp@example.org>", "smtp@example.org", "Login bypass", "details"))
	// The public web form, with a Bcc line in the name as well.
	form := url.Values{"from": {"form@example.org"}, "name": {forgedName + "\r\nBcc: victim@example.net"}, "subject": {"Login bypass"}, "text": {"details"}}
	resp, err := http.PostForm("http://"+d.addrs.HTTP+"/report", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("form: %d", resp.StatusCode)
	}
	// The API.
	body, _ := json.Marshal(map[string]string{"from": "api@example.org", "name": forgedName, "subject": "Login bypass\r\nBcc: all-staff", "text": "details"})
	if code := d.api("POST", "/api/v1/reports", body, nil); code/100 != 2 {
		t.Fatalf("API: %d", code)
	}

	// The address typed into the form first gets an unsigned request to
	// confirm it, which repeats nothing the form said; the signed
	// acknowledgement follows the confirmation.
	var confirm []byte
	eventually(t, "the confirmation request", 15*time.Second, func() bool {
		for _, raw := range d.sent() {
			if strings.Trim(headerOf(raw, "X-Sandbox-Envelope-To"), "<>") == "form@example.org" {
				confirm = raw
			}
		}
		return confirm != nil
	})
	if strings.Contains(string(confirm), "Mallory") || strings.Contains(string(confirm), "Bcc") || strings.Contains(string(confirm), "Login bypass") {
		t.Errorf("the confirmation request repeats what the form said:\n%s", confirm)
	}
	ent, err := message.Read(bytes.NewReader(confirm))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(ent.Body) // quoted-printable decoded
	token := regexp.MustCompile(`token=([0-9a-f]+)`).FindSubmatch(text)
	if token == nil {
		t.Fatalf("no confirmation link in:\n%s", confirm)
	}
	if code, page := postConfirm(t, d, string(token[1])); code != 200 || !strings.Contains(page, "confirmed") {
		t.Fatalf("confirming: %d\n%s", code, page)
	}
	if code, _ := postConfirm(t, d, string(token[1])); code != 404 {
		t.Errorf("a confirmation link used twice: %d, want 404", code)
	}

	acks := map[string][]byte{}
	eventually(t, "four acknowledgements", 15*time.Second, func() bool {
		for _, raw := range d.sent() {
			if strings.HasPrefix(headerOf(raw, "Content-Type"), "multipart/signed") {
				acks[strings.Trim(headerOf(raw, "X-Sandbox-Envelope-To"), "<>")] = raw
			}
		}
		return len(acks) == 4
	})
	shape := func(who string) []string {
		raw := acks[who]
		if raw == nil {
			t.Fatalf("no acknowledgement to %s", who)
		}
		for _, h := range []string{"To", "Subject", "Bcc", "Cc"} {
			if v := headerOf(raw, h); strings.Contains(v, "\n") || (h == "Bcc" || h == "Cc") && v != "" {
				t.Errorf("%s: header %s = %q", who, h, v)
			}
		}
		signed := g.VerifyPGPMIME(raw[bytes.Index(raw, []byte("Mime-Version")):])
		ent, err := message.Read(bytes.NewReader(signed))
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(ent.Body)
		var out []string
		for _, l := range strings.Split(string(text), "\n") {
			// A line's shape: its indentation and first word.
			ind := len(l) - len(strings.TrimLeft(l, " "))
			first, _, _ := strings.Cut(strings.TrimSpace(l), " ")
			if strings.HasPrefix(first, "SEC-") {
				first = "SEC-…" // the incident ids differ
			}
			out = append(out, strings.Repeat(" ", ind)+first)
			if strings.HasPrefix(strings.TrimSpace(l), "Bcc:") || strings.HasPrefix(strings.TrimSpace(l), "Point of contact:") && strings.Contains(l, "Mallory") {
				t.Errorf("%s: forged line in the signed body: %q", who, l)
			}
		}
		return out
	}
	want := shape("base@example.org")
	for _, who := range []string{"smtp@example.org", "form@example.org", "api@example.org"} {
		got := shape(who)
		if len(got) != len(want) {
			t.Errorf("%s: %d lines in the signed body, want %d as for a benign name:\n%s", who, len(got), len(want), strings.Join(got, "\n"))
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: line %d starts %q, want %q", who, i+1, got[i], want[i])
			}
		}
	}
}

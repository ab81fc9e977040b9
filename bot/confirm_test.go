package bot_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
)

// formConfirmToken files a report through the public form as addr and
// returns the token of the confirmation link mailed to addr.
func formConfirmToken(t *testing.T, d *daemon, addr string) string {
	t.Helper()
	resp, err := http.PostForm("http://"+d.addrs.HTTP+"/report", url.Values{"from": {addr}, "subject": {"Login bypass"}, "text": {"details"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("form: %d", resp.StatusCode)
	}
	var token []byte
	eventually(t, "the confirmation request to "+addr, 15*time.Second, func() bool {
		for _, raw := range d.sent() {
			if strings.Trim(headerOf(raw, "X-Sandbox-Envelope-To"), "<>") != addr {
				continue
			}
			ent, err := message.Read(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			text, _ := io.ReadAll(ent.Body) // quoted-printable decoded
			if m := regexp.MustCompile(`token=([0-9a-f]+)`).FindSubmatch(text); m != nil {
				token = m[1]
			}
		}
		return token != nil
	})
	return string(token)
}

// postConfirm presses the confirmation page's button, as a browser on the
// desk's own page does.
func postConfirm(t *testing.T, d *daemon, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+d.addrs.HTTP+"/report/confirm", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// confirmedOn reports whether the incident's audit has the address
// confirmed.
func confirmedOn(d *daemon) bool {
	for _, inc := range d.incidents() {
		for _, a := range d.incident(inc.ID).Audit {
			if a.Action == "address-confirmed" {
				return true
			}
		}
	}
	return false
}

// TestConfirmLinkNeedsTheButton pins issue 15 §8 "HEAD (and a link
// scanner's GET) on /report/confirm confirms the address": opening the
// link shows a page whose button posts the token; only that POST
// confirms, and a POST from another site does not.
func TestConfirmLinkNeedsTheButton(t *testing.T) {
	d := startSandbox(t)
	token := formConfirmToken(t, d, "scanned@example.org")
	link := "http://" + d.addrs.HTTP + "/report/confirm?token=" + token

	resp, err := http.Head(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code, page := getBody(t, link)
	if code != 200 || !strings.Contains(page, `method="post"`) || !strings.Contains(page, `value="`+token+`"`) {
		t.Errorf("GET: %d, want 200 and a form posting the token:\n%s", code, page)
	}
	// Another site's page posting the token (a CSRF) is refused.
	req, _ := http.NewRequest("POST", "http://"+d.addrs.HTTP+"/report/confirm", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", resp.StatusCode)
	}
	d.settled(1)
	if confirmedOn(d) {
		t.Fatal("HEAD, GET or a cross-site POST confirmed the address")
	}
	for _, raw := range d.sent() {
		if strings.HasPrefix(headerOf(raw, "Content-Type"), "multipart/signed") {
			t.Errorf("a signed acknowledgement went out before the button was pressed")
		}
	}

	if code, _ := postConfirm(t, d, token); code != 200 {
		t.Fatalf("POST: %d, want 200", code)
	}
	if !confirmedOn(d) {
		t.Error("the button's POST did not confirm the address")
	}
	if code, _ := postConfirm(t, d, token); code != 404 {
		t.Errorf("the button pressed twice: %d, want 404", code)
	}
}

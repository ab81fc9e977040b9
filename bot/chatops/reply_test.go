package chatops

import (
	"slices"
	"testing"
)

// TestParseReplyAndCaller: /reply keeps the form and the text (its lines
// too); /report --caller cuts the caller out, whichever quotes Slack sent.
func TestParseReplyAndCaller(t *testing.T) {
	c, err := Parse("/reply", "SEC-2026-0042 Request-Info Which account?\nWhich host?")
	if err != nil || c.Incident != "SEC-2026-0042" || !slices.Equal(c.Args, []string{"request-info"}) || c.Text != "Which account?\nWhich host?" {
		t.Errorf("/reply: %+v %v", c, err)
	}
	if _, err := Parse("/reply", "status-update"); err == nil {
		t.Error("/reply without an id parsed")
	}
	for _, text := range []string{`--caller "Ann Lee, Acme, +49 30 1" Phishing page`, `--caller “Ann Lee, Acme, +49 30 1” Phishing page`} {
		c, err := Parse("/report", text)
		if err != nil || !slices.Equal(c.Args, []string{"Ann Lee, Acme, +49 30 1"}) || c.Text != "Phishing page" {
			t.Errorf("/report %s: %+v %v", text, c, err)
		}
	}
	if _, err := Parse("/report", `--caller "Ann Lee, Acme, +49 30 1"`); err == nil {
		t.Error("a phone report without text parsed")
	}
	c, err = FromButton("reply-send:sec-2026-0042:closure:abc123")
	if err != nil || c.Name != ReplySendButton || c.Incident != "SEC-2026-0042" || !slices.Equal(c.Args, []string{"closure", "abc123"}) {
		t.Errorf("Send button: %+v %v", c, err)
	}
	for _, bad := range []string{"reply-send:SEC-2026-0042:closure", "reply-send:nope:closure:abc"} {
		if _, err := FromButton(bad); err == nil {
			t.Errorf("button %q parsed", bad)
		}
	}
}

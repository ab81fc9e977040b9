package parsers

import (
	"strings"
	"testing"
)

const arMail = "Authentication-Results: mx.example.com; dkim=pass header.d=partner.example; spf=pass (sender ok) smtp.mailfrom=partner.example; dmarc=pass header.from=partner.example\r\n" +
	"Authentication-Results: evil.example; dkim=pass; spf=pass; dmarc=pass\r\n" +
	"From: \"security@example.com\" <attacker@evil.example>\r\nSubject: urgent\r\nMessage-ID: <a1@evil.example>\r\n\r\nhello\r\n"

func TestAuthenticationResultsOnlyFromTrustedServers(t *testing.T) {
	r, err := ParseWith([]byte(arMail), Options{TrustedAuthServIDs: []string{"mx.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	a := r.Authentication
	if a.Server != "mx.example.com" || a.DKIM != "pass" || a.SPF != "pass" || a.DMARC != "pass" {
		t.Errorf("authentication %+v; want the trusted server's pass results", a)
	}
	if len(a.Ignored) != 1 || a.Ignored[0] != "evil.example" {
		t.Errorf("ignored %v; want the forged header from evil.example", a.Ignored)
	}
	// Nothing trusted: a forged "pass" counts for nothing.
	r, _ = ParseWith([]byte(strings.Replace(arMail, "mx.example.com;", "mx.other.example;", 1)), Options{TrustedAuthServIDs: []string{"mx.example.com"}})
	if r.Authentication.Server != "" || r.Authentication.DKIM != "" {
		t.Errorf("untrusted headers believed: %+v", r.Authentication)
	}
}

func TestDisplayNameTricks(t *testing.T) {
	r, _ := ParseWith([]byte(arMail), Options{OwnDomains: []string{"example.com"}})
	got := strings.Join(r.SpoofSigns, "; ")
	for _, want := range []string{"display name shows security@example.com but the mail is from attacker@evil.example", "display name names example.com but the mail is from evil.example"} {
		if !strings.Contains(got, want) {
			t.Errorf("spoof signs %q lack %q", got, want)
		}
	}
	honest := "From: \"Ana (security team)\" <ana@example.com>\r\nSubject: x\r\n\r\nx\r\n"
	r, _ = ParseWith([]byte(honest), Options{OwnDomains: []string{"example.com"}})
	if len(r.SpoofSigns) != 0 {
		t.Errorf("honest sender flagged: %v", r.SpoofSigns)
	}
	dmarcFail := "Authentication-Results: mx.example.com; dmarc=fail header.from=bank.example\r\nFrom: Bank <info@bank.example>\r\nSubject: x\r\n\r\nx\r\n"
	r, _ = ParseWith([]byte(dmarcFail), Options{TrustedAuthServIDs: []string{"mx.example.com"}})
	if len(r.SpoofSigns) != 1 || !strings.Contains(r.SpoofSigns[0], "DMARC failed") {
		t.Errorf("DMARC fail not flagged: %v", r.SpoofSigns)
	}
}

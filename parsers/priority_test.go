package parsers

import (
	"strings"
	"testing"
)

func TestPolicyRaisesPriority(t *testing.T) {
	pol := &Policy{
		Assets:  []string{"pay.example.com", "CoreBanking"},
		Senders: map[string][]string{"cert": {"cert.example", "@first.org"}, "partner": {"ops@partner.example"}},
		Rules: []PriorityRule{
			{Name: "crown jewels", Priority: "P1", Assets: true, Categories: []string{"vulnerability", "incident"}},
			{Name: "CERT reports", Priority: "P2", SenderClass: []string{"cert"}},
			{Name: "CVSS 6 or more", Priority: "P2", CVSSAtLeast: 6},
		},
	}
	for _, tc := range []struct {
		name, mail, prio, class, assets, reason string
	}{
		{"asset", "From: r@example.org\r\nSubject: XSS on pay.example.com\r\n\r\nreflected xss\r\n", "P1", "", "pay.example.com", `rule "crown jewels"`},
		{"cert subdomain", "Authentication-Results: mx.example.com; dmarc=pass header.from=csirt.cert.example\r\nFrom: team@csirt.cert.example\r\nSubject: host in your network\r\n\r\nFYI\r\n", "P2", "cert", "", `rule "CERT reports"`},
		// The same From, not authenticated: anyone can write it.
		{"cert unauthenticated", "From: team@csirt.cert.example\r\nSubject: host in your network\r\n\r\nFYI\r\n", "P4", "", "", "no sign of urgency"},
		{"cert with DMARC fail", "Authentication-Results: mx.example.com; dmarc=fail header.from=csirt.cert.example\r\nFrom: team@csirt.cert.example\r\nSubject: host in your network\r\n\r\nFYI\r\n", "P4", "", "", "no sign of urgency"},
		{"cvss", "From: r@example.org\r\nSubject: bug\r\n\r\nCVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N\r\n", "P2", "", "", `rule "CVSS 6 or more"`},
		{"nothing", "Authentication-Results: mx.example.com; dmarc=pass\r\nFrom: ops@partner.example\r\nSubject: hello\r\n\r\nHow are you?\r\n", "P4", "partner", "", "no sign of urgency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseWith([]byte(tc.mail), Options{Policy: pol, TrustedAuthServIDs: []string{"mx.example.com"}})
			if err != nil {
				t.Fatal(err)
			}
			if r.Priority != tc.prio || r.SenderClass != tc.class || strings.Join(r.AffectedAssets, ",") != tc.assets {
				t.Errorf("priority %s class %q assets %v (reasons %v); want %s %q %q", r.Priority, r.SenderClass, r.AffectedAssets, r.PriorityReasons, tc.prio, tc.class, tc.assets)
			}
			if !strings.Contains(strings.Join(r.PriorityReasons, ";"), tc.reason) {
				t.Errorf("reasons %v lack %q", r.PriorityReasons, tc.reason)
			}
		})
	}
	// Automatic mail is never raised, whatever it names.
	r, _ := ParseWith([]byte("From: list@cert.example\r\nList-Id: <x>\r\nSubject: pay.example.com\r\n\r\nx\r\n"), Options{Policy: pol})
	if r.Priority != "P4" {
		t.Errorf("list mail raised to %s", r.Priority)
	}
}

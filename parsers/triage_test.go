package parsers

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestTriageInEveryLanguage: category, priority and language come out the
// same whichever language the reporter wrote in.
func TestTriageInEveryLanguage(t *testing.T) {
	for _, tc := range []struct {
		subject, text string
		lang          string
		category      Category
		priority      string
		concept       Concept // of the priority reason, when it is wording
	}{
		{"Sicherheitslücke: SQL-Injektion im Kundenportal", "Sehr geehrte Damen und Herren, im Kundenportal ist eine SQL-Injektion möglich.", "de", CategoryVulnerability, "P2", ConceptSevere},
		{"Vulnérabilité critique : injection SQL", "Bonjour, nous avons trouvé une injection SQL dans votre site.", "fr", CategoryVulnerability, "P2", ConceptSevere},
		{"脆弱性の報告：ログイン画面のクロスサイトスクリプティング", "ログイン画面にクロスサイトスクリプティングの脆弱性があります。", "ja", CategoryVulnerability, "P3", ""},
		{"Vulnerabilidad explotada activamente en su VPN", "Hola, la vulnerabilidad está siendo explotada activamente.", "es", CategoryVulnerability, "P1", ConceptInTheWild},
		{"安全漏洞报告：远程代码执行", "贵公司的网站存在远程代码执行漏洞。", "zh", CategoryVulnerability, "P2", ConceptSevere},
		{"피싱 메일 신고", "귀사를 사칭한 피싱 메일이 고객에게 발송되고 있습니다.", "ko", CategoryIncident, "P3", ""},
		{"개인정보 유출 신고", "고객 데이터베이스의 개인정보 유출이 확인되었습니다.", "ko", CategoryIncident, "P1", ConceptDataLeak},
		{"Datenleck: Kundendaten im Internet", "Wir haben eine Datenbank mit Ihren Kundendaten gefunden.", "de", CategoryIncident, "P1", ConceptDataLeak},
		{"Hameçonnage au nom de votre banque", "Nous recevons des courriels d'hameçonnage qui utilisent votre logo.", "fr", CategoryIncident, "P3", ""},
		{"Ataque de denegación de servicio", "Su servidor participa en un ataque de denegación de servicio.", "es", CategoryIncident, "P3", ""},
		{"ランサムウェア感染の疑い", "社内のサーバーがランサムウェアに感染した可能性があります。", "ja", CategoryIncident, "P1", ConceptRansomware},
		{"Zugangsdaten im öffentlichen Repository", "Die Zugangsdaten Ihrer Datenbank stehen in einem öffentlichen Repository.", "de", CategoryIncident, "P2", ConceptCredentials},
		// Issue 16: exploitation in the wild is an event, not a weakness.
		{"Ransomware on pay.sandbox.test, actively exploited", "Our file server pay.sandbox.test is encrypted; the attackers are active.", "en", CategoryIncident, "P1", ConceptInTheWild},
		{"Ransomware exploiting the VPN", "The ransomware came in through the VPN gateway.", "en", CategoryIncident, "P1", ConceptRansomware},
		{"Zero-day on our mail gateway", "It is being exploited in the wild against us.", "en", CategoryIncident, "P1", ConceptInTheWild},
		{"CVE-2026-1234 actively exploited", "Please patch: the vulnerability in your VPN is exploited in the wild.", "en", CategoryVulnerability, "P1", ConceptInTheWild},
		{"Exploit for your login form", "A proof of concept exploit is attached.", "en", CategoryVulnerability, "P3", ""},
		{"XSS in login page", "Steps to reproduce: open /login?q=<script>", "en", CategoryVulnerability, "P3", ""},
		{"Ping", "Is this address monitored?", "en", CategoryOther, "P4", ""},
		{"Pocket calculator", "Our pocket guide mentions your product.", "en", CategoryOther, "P4", ""},
	} {
		raw := "From: r@example.org\r\nSubject: " + tc.subject + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + tc.text + "\r\n"
		r, err := Parse([]byte(raw), DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		if r.Language != tc.lang || r.Category != tc.category || r.Priority != tc.priority {
			t.Errorf("%q: language %q category %s priority %s (%v); want %q, %s, %s", tc.subject, r.Language, r.Category, r.Priority, r.PriorityReasons, tc.lang, tc.category, tc.priority)
		}
		if tc.concept != "" && (len(r.PriorityReasonCodes) == 0 || r.PriorityReasonCodes[0].Concept != tc.concept) {
			t.Errorf("%q: reasons %+v, want wording of %s", tc.subject, r.PriorityReasonCodes, tc.concept)
		}
	}
}

func TestMentionsWordBoundaries(t *testing.T) {
	for _, tc := range []struct {
		c    Concept
		text string
		want string
	}{
		{ConceptVulnerability, "a poc is attached", "poc"},
		{ConceptVulnerability, "my pocket", ""},
		{ConceptVulnerability, "vulnerabilities found", "vulnerab"},
		{ConceptVulnerability, "invulnerable", ""},
		{ConceptVulnerability, "xss-lücke", "xss"},
		{ConceptVulnerability, "ログイン画面の脆弱性", "脆弱性"},
		{ConceptAbuse, "spammer", "spam"},
		{ConceptDoS, "the ddos attack", "ddos"},
		{ConceptDoS, "windows", ""},
	} {
		if got := mentions(tc.c, triageText("", tc.text)); got != tc.want {
			t.Errorf("mentions(%s, %q) = %q, want %q", tc.c, tc.text, got, tc.want)
		}
	}
}

// TestIndicatorEdges pins the edges of indicator extraction: the cap of
// 500 per kind, hash lengths, IPv6 with its colons, labels of 63 and 64
// characters, hyphens at label ends, hex in any case.
func TestIndicatorEdges(t *testing.T) {
	var many strings.Builder
	for i := range 600 {
		fmt.Fprintf(&many, "host%d.example.com ", i)
	}
	if n := len(findIndicators(many.String()).Domains); n != 500 {
		t.Errorf("%d domains kept from 600, want 500", n)
	}
	l63, l64 := strings.Repeat("a", 63), strings.Repeat("a", 64)
	ind := findIndicators("md5 D41D8CD98F00B204E9800998ECF8427E sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 " +
		"not-a-hash 0123456789abcdef0123456789abcdef0 v6 2001:DB8::7 and ::ffff:192.0.2.1 and a:b " +
		l63 + ".example.com " + l64 + ".example.net -bad.example.org good-.example.org ok-host.example.io 10.1.2.3 999.1.2.3")
	want := Indicators{
		IPv4: []string{"192.0.2.1", "10.1.2.3"}, // the IPv4 inside ::ffff:192.0.2.1 counts as such
		IPv6: []string{"2001:db8::7"},
		// A token's leading hyphen is punctuation; a label ending in one
		// is no label.
		Domains: []string{l63 + ".example.com", "bad.example.org", "ok-host.example.io"},
		URLs:    []string{},
		Hashes:  []string{"d41d8cd98f00b204e9800998ecf8427e", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	}
	if !reflect.DeepEqual(ind, want) {
		t.Errorf("indicators\n%+v\nwant\n%+v", ind, want)
	}
	if !hasFold("Report CVE-2026-1", "cve-") || hasFold("cv", "cve-") || !hasFold("cve-", "cve-") {
		t.Error("hasFold")
	}
	for c, want := range map[byte]bool{'0': true, '9': true, 'a': true, 'f': true, 'A': true, 'F': true, 'g': false, 'G': false, '/': false, ':': false, '@': false, '`': false} {
		if isHex(c) != want {
			t.Errorf("isHex(%q) = %v", c, !want)
		}
	}
}

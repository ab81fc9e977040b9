package parsers

import "testing"

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

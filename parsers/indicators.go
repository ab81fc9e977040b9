package parsers

import (
	"fmt"
	"html"
	"net/netip"
	"regexp"
	"sort"
	"strings"
)

var cveRE = regexp.MustCompile(`(?i)\bCVE-(\d{4})-(\d{4,7})\b`)

func findCVEs(s string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, m := range cveRE.FindAllStringSubmatch(s, 200) {
		id := "CVE-" + m[1] + "-" + m[2]
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

var (
	// Defanged forms ("hxxp://", "example[.]com", "10[.]0[.]0[.]1") are
	// refanged before matching: reporters defang what they paste.
	defang = strings.NewReplacer("[.]", ".", "(.)", ".", "{.}", ".", "[dot]", ".", "[:]", ":", "hxxps://", "https://", "hxxp://", "http://", "hXXp://", "http://", "hXXps://", "https://")

	urlRE    = regexp.MustCompile(`\bhttps?://[^\s<>"'\x60]+`)
	ipv4RE   = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`)
	ipv6RE   = regexp.MustCompile(`(?i)\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{0,4}\b|(?i)\b(?:[0-9a-f]{1,4}:){1,6}:[0-9a-f:]*`)
	domainRE = regexp.MustCompile(`(?i)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:com|net|org|io|dev|info|biz|de|fr|es|jp|cn|uk|ru|nl|eu|us|co|app|xyz|online|site|top|test|example)\b`)
	hashRE   = regexp.MustCompile(`(?i)\b(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})\b`)
)

func findIndicators(s string) Indicators {
	s = defang.Replace(s)
	ind := Indicators{IPv4: []string{}, IPv6: []string{}, Domains: []string{}, URLs: []string{}, Hashes: []string{}}
	add := func(dst *[]string, v string, seen map[string]bool) {
		if !seen[v] && len(*dst) < 500 {
			seen[v] = true
			*dst = append(*dst, v)
		}
	}
	seen := map[string]bool{}
	for _, u := range urlRE.FindAllString(s, -1) {
		add(&ind.URLs, strings.TrimRight(u, ".,;:)]}>"), seen)
	}
	for _, m := range ipv4RE.FindAllString(s, -1) {
		if a, err := netip.ParseAddr(m); err == nil && a.Is4() {
			add(&ind.IPv4, a.String(), seen)
		}
	}
	for _, m := range ipv6RE.FindAllString(s, -1) {
		if a, err := netip.ParseAddr(strings.TrimRight(m, ":")); err == nil && a.Is6() && strings.Count(m, ":") >= 2 {
			add(&ind.IPv6, a.String(), seen)
		}
	}
	for _, m := range domainRE.FindAllString(s, -1) {
		add(&ind.Domains, strings.ToLower(m), seen)
	}
	for _, m := range hashRE.FindAllString(s, -1) {
		add(&ind.Hashes, strings.ToLower(m), seen)
	}
	return ind
}

// detectLanguage guesses the ISO 639-1 language of s from its script and,
// for Latin script, from common function words. "" means not enough text.
func detectLanguage(s string) string {
	var kana, han, latin int
	for _, r := range s {
		switch {
		case r >= 0x3040 && r <= 0x30ff:
			kana++
		case r >= 0x4e00 && r <= 0x9fff:
			han++
		case r < 0x250 && (r|0x20) >= 'a' && (r|0x20) <= 'z':
			latin++
		}
	}
	switch {
	case kana > 0 && kana+han >= latin/4:
		return "ja"
	case han > 0 && han >= latin/4:
		return "zh"
	}
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 0xc0 && r < 0x250)
	})
	scores := map[string]int{}
	for _, w := range words {
		if l, ok := stopwords[w]; ok {
			scores[l]++
		}
	}
	best, bestN := "", 0
	langs := make([]string, 0, len(scores))
	for l := range scores {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	for _, l := range langs {
		if scores[l] > bestN {
			best, bestN = l, scores[l]
		}
	}
	if bestN < 2 {
		return ""
	}
	return best
}

var stopwords = func() map[string]string {
	m := map[string]string{}
	for lang, ws := range map[string]string{
		"en": "the and is are was were have has this that with from for you your not but which would there their been found",
		"de": "der die das und ist sind nicht mit ich wir sie ein eine einen auf für von dem den des wurde haben bitte",
		"fr": "le la les et est sont une des pour dans avec nous vous pas sur qui par été votre cette",
		"es": "el los las y es son una por para con que del sus nosotros usted está han sido esta este",
	} {
		for _, w := range strings.Fields(ws) {
			m[w] = lang
		}
	}
	return m
}()

var (
	p1Words = regexp.MustCompile(`(?i)\b(actively exploited|in the wild|ransomware|data breach|breach|compromised|exfiltrat\w*|zero[- ]day|0day)\b`)
	p2Words = regexp.MustCompile(`(?i)\b(rce|remote code execution|sql ?injection|authentication bypass|privilege escalation|critical)\b`)
)

// priorityHint gives a first P1..P4 reading with its reasons. The configured
// priority definitions (config) refine it in the bot.
func priorityHint(r *Report) (string, []string) {
	text := r.Subject + "\n" + r.Text
	reasons := []string{}
	switch {
	case r.AutoSubmitted:
		return "P4", append(reasons, "automatic mail: "+r.AutoReason)
	case maxCVSS(r) >= 9:
		return "P1", append(reasons, fmt.Sprintf("CVSS base score %.1f (critical)", maxCVSS(r)))
	case p1Words.MatchString(text):
		return "P1", append(reasons, "wording: "+strings.ToLower(p1Words.FindString(text)))
	case p2Words.MatchString(text):
		return "P2", append(reasons, "wording: "+strings.ToLower(p2Words.FindString(text)))
	case maxCVSS(r) >= 7:
		return "P2", append(reasons, fmt.Sprintf("CVSS base score %.1f (high)", maxCVSS(r)))
	case len(r.CVEs) > 0:
		return "P2", append(reasons, "names "+strings.Join(r.CVEs, ", "))
	case r.Category == CategoryVulnerability || r.Category == CategoryIncident:
		return "P3", append(reasons, "category "+string(r.Category))
	}
	return "P4", append(reasons, "no sign of urgency")
}

func maxCVSS(r *Report) float64 {
	m := -1.0
	for _, c := range r.CVSS {
		m = max(m, c.BaseScore)
	}
	return m
}

var (
	tagStrip   = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>|<[^>]*>`)
	blockTags  = regexp.MustCompile(`(?i)<(br|/p|/div|/li|/tr|/h[1-6])[^>]*>`)
	blankLines = regexp.MustCompile(`\n{3,}`)
)

// htmlToText turns an HTML-only body into plain text that is safe to show:
// scripts and styles dropped, tags removed, entities decoded.
func htmlToText(s string) string {
	s = blockTags.ReplaceAllString(s, "\n")
	s = tagStrip.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return blankLines.ReplaceAllString(strings.Join(lines, "\n"), "\n\n")
}

var versionRE = regexp.MustCompile(`(?i)\b(?:version|versions|ver\.?|v)\s?(\d+(?:\.\d+){1,3}[a-z0-9.-]*)`)

func findVersions(s string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, m := range versionRE.FindAllStringSubmatch(s, 50) {
		if v := strings.TrimRight(m[1], ".-"); !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

var freeMail = map[string]bool{"gmail.com": true, "googlemail.com": true, "outlook.com": true, "hotmail.com": true, "live.com": true,
	"yahoo.com": true, "icloud.com": true, "me.com": true, "proton.me": true, "protonmail.com": true, "gmx.de": true, "gmx.net": true,
	"web.de": true, "mail.ru": true, "yandex.ru": true, "qq.com": true, "163.com": true, "aol.com": true, "fastmail.com": true, "tutanota.com": true}

var orgInName = regexp.MustCompile(`\(([^()]{2,60})\)\s*$|[|,]\s*([^|,]{2,60})$`)

// guessOrganisation reads the organisation from the display name, else
// from the sender's domain (not for free-mail providers).
func guessOrganisation(name, addr string) string {
	if m := orgInName.FindStringSubmatch(name); m != nil {
		return strings.TrimSpace(m[1] + m[2])
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	domain := addr[at+1:]
	if freeMail[domain] {
		return ""
	}
	return domain
}

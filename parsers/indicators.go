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

// hasFold reports whether s contains the lower-case ASCII sub, ignoring
// case, without allocating: a cheap test before a costlier regexp.
func hasFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for j < len(sub) && s[i+j]|0x20 == sub[j] {
			j++
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

func findCVEs(s string) []string {
	seen := map[string]bool{}
	out := []string{}
	if !hasFold(s, "cve-") {
		return out
	}
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

	urlRE = regexp.MustCompile(`\bhttps?://[^\s<>"'\x60]+`)
)

// tlds are the top-level domains a bare name must end in to count as a
// domain indicator (a URL's host always counts); "invoice.pdf" must not.
var tlds = map[string]bool{}

func init() {
	for _, t := range strings.Fields("com net org io dev info biz de fr es jp cn uk ru nl eu us co app xyz online site top test example " +
		"edu gov mil int ch at be it pl se no dk fi cz pt br mx ca au nz in kr tw hk sg ir tr ua za cloud ai me tv cc ly") {
		tlds[t] = true
	}
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// findIndicators extracts IP addresses, domains, URLs and hashes in one
// linear pass over tokens (no backtracking regexes: reports can be large).
func findIndicators(s string) Indicators {
	s = defang.Replace(s)
	ind := Indicators{IPv4: []string{}, IPv6: []string{}, Domains: []string{}, URLs: []string{}, Hashes: []string{}}
	seen := map[string]bool{}
	add := func(dst *[]string, v string) {
		if !seen[v] && len(*dst) < 500 {
			seen[v] = true
			*dst = append(*dst, v)
		}
	}
	for _, u := range urlRE.FindAllString(s, -1) {
		add(&ind.URLs, strings.TrimRight(u, ".,;:)]}>"))
	}
	// IPv6: runs of hex digits, colons and dots with at least two colons.
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return !(r < 128 && (isHex(byte(r)) || r == ':' || r == '.')) }) {
		if strings.Count(tok, ":") < 2 {
			continue
		}
		tok = strings.Trim(tok, ":.")
		if a, err := netip.ParseAddr(tok); err == nil && a.Is6() && !a.Is4In6() {
			add(&ind.IPv6, a.String())
		}
	}
	// IPv4, hashes, domains: runs of letters, digits, dots and hyphens.
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool {
		return !(r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-'))
	}) {
		tok = strings.Trim(tok, ".-")
		switch {
		case tok == "":
		case strings.Count(tok, ".") == 3 && strings.Trim(tok, "0123456789.") == "":
			if a, err := netip.ParseAddr(tok); err == nil && a.Is4() {
				add(&ind.IPv4, a.String())
			}
		case (len(tok) == 32 || len(tok) == 40 || len(tok) == 64) && strings.IndexFunc(tok, func(r rune) bool { return !isHex(byte(r)) || r > 127 }) < 0:
			add(&ind.Hashes, strings.ToLower(tok))
		case strings.Contains(tok, ".") && isDomain(tok):
			add(&ind.Domains, strings.ToLower(tok))
		}
	}
	return ind
}

// isDomain reports whether tok is a host name of at least two valid labels
// ending in a known top-level domain.
func isDomain(tok string) bool {
	labels := strings.Split(strings.ToLower(tok), ".")
	if len(labels) < 2 || !tlds[labels[len(labels)-1]] {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
	}
	return true
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

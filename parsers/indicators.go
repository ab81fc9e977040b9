package parsers

import (
	"fmt"
	"html"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"unicode"
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

// guessLanguage guesses the ISO 639-1 language of s from its script and,
// for Latin script, from common function words ("" means not enough text),
// and says whether the text itself showed it (sure), or it is a weak
// reading that a declared Content-Language overrides.
func guessLanguage(s string) (lang string, sure bool) {
	var kana, han, hangul, latin, accented int
	for _, r := range s {
		switch {
		case r >= 0x3040 && r <= 0x30ff:
			kana++
		case r >= 0x4e00 && r <= 0x9fff:
			han++
		case r >= 0xac00 && r <= 0xd7af, r >= 0x1100 && r <= 0x11ff, r >= 0x3130 && r <= 0x318f:
			hangul++
		case r < 0x80 && (r|0x20) >= 'a' && (r|0x20) <= 'z':
			latin++
		case r >= 0xc0 && r < 0x250 && unicode.IsLetter(r):
			latin++
			accented++
		}
	}
	switch {
	case hangul > 0 && hangul >= latin/4 && hangul >= kana+han:
		return "ko", true
	case kana > 0 && kana+han >= latin/4:
		return "ja", true
	case han > 0 && han >= latin/4:
		return "zh", true
	}
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 0xc0 && r < 0x250 || r == '\'')
	})
	scores := map[string]int{}
	for _, w := range words {
		for _, l := range stopwords[w] {
			scores[l]++
		}
	}
	best, bestN, second := "", 0, 0
	langs := make([]string, 0, len(scores))
	for l := range scores {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	for _, l := range langs {
		switch n := scores[l]; {
		case n > bestN:
			best, bestN, second = l, n, bestN
		case n > second:
			second = n
		}
	}
	switch {
	case bestN >= 2 && bestN > second:
		return best, true
	case bestN == 1 && second == 0 && len(words) <= 12:
		// A short text with one telling word and nothing against it:
		// weak, a declared Content-Language wins.
		return best, false
	case bestN == 0 && accented == 0 && len(words) >= 2 && latin > 0:
		// Plain-ASCII words and not one word of another language: the
		// short technical English of "XSS in login page".
		return "en", false
	}
	return "", false
}

// stopwords are the function words of each language; a word two
// languages share ("de", "en", "un") counts for both.
var stopwords = func() map[string][]string {
	m := map[string][]string{}
	for lang, ws := range map[string]string{
		"en": "the and is are was were have has this that with from for you your not but which would there their been found " +
			"it's can't don't i'm we're page please our my of to an at be by can could should will",
		"de": "der die das und ist sind nicht mit ich wir sie ein eine einen auf für von dem den des wurde haben bitte " +
			"im ihre ihrem ihren auch oder wenn kann können über beim zum zur sehr geehrte",
		"fr": "le la les et est sont une des pour dans avec nous vous pas sur qui par été votre cette " +
			"du au aux ce ces je il elle mais ou où bonjour merci madame monsieur",
		"es": "el los las y es son una por para con que del sus nosotros usted está han sido esta este " +
			"hola gracias pero como también muy hay puede estimado estimados su al lo",
		"fr es": "de en un",
		"en de": "in",
	} {
		for _, w := range strings.Fields(ws) {
			m[w] = append(m[w], strings.Fields(lang)...)
		}
	}
	return m
}()

// Reason is one reason for a priority, as data: the forms word it in
// the reader's language; English() is its wording in reports and logs.
type Reason struct {
	Code    string  `json:"code"`              // one of the Reason* codes
	Concept Concept `json:"concept,omitempty"` // for ReasonWording
	Arg     string  `json:"arg,omitempty"`     // the score, term, CVE ids, category, rule or automatic reason
}

// Reason codes.
const (
	ReasonAutomatic    = "automatic"     // Arg: why the mail is automatic
	ReasonCVSSCritical = "cvss-critical" // Arg: the score
	ReasonCVSSHigh     = "cvss-high"     // Arg: the score
	ReasonWording      = "wording"       // Concept, and Arg: the words as written
	ReasonCVEs         = "cves"          // Arg: the CVE ids
	ReasonCategory     = "category"      // Arg: the category
	ReasonNone         = "none"
	ReasonRule         = "rule" // Arg: the rule's name
)

// English is the reason as `tocsin parse` and the audit word it.
func (r Reason) English() string {
	switch r.Code {
	case ReasonAutomatic:
		return "automatic mail: " + r.Arg
	case ReasonCVSSCritical:
		return "CVSS base score " + r.Arg + " (critical)"
	case ReasonCVSSHigh:
		return "CVSS base score " + r.Arg + " (high)"
	case ReasonWording:
		return "wording: " + r.Arg
	case ReasonCVEs:
		return "names " + r.Arg
	case ReasonCategory:
		return "category " + r.Arg
	case ReasonNone:
		return "no sign of urgency"
	case ReasonRule:
		return fmt.Sprintf("rule %q", r.Arg)
	}
	return r.Code + " " + r.Arg
}

// p1Concepts and p2Concepts are the wordings that make a report urgent,
// in every language the lexicon knows.
var (
	p1Concepts = []Concept{ConceptInTheWild, ConceptRansomware, ConceptDataLeak, ConceptBreach}
	p2Concepts = []Concept{ConceptSevere, ConceptCredentials}
)

// priorityHint gives a first P1..P4 reading with its reasons. The configured
// priority definitions (config) refine it in the bot.
func priorityHint(r *Report, tr *triage) (string, []Reason) {
	score := fmt.Sprintf("%.1f", maxCVSS(r))
	switch {
	case r.AutoSubmitted:
		return "P4", []Reason{{Code: ReasonAutomatic, Arg: r.AutoReason}}
	case maxCVSS(r) >= 9:
		return "P1", []Reason{{Code: ReasonCVSSCritical, Arg: score}}
	case tr.mentionsAny(p1Concepts...) != "":
		c := tr.mentionsAny(p1Concepts...)
		return "P1", []Reason{{Code: ReasonWording, Concept: c, Arg: tr.mentions(c)}}
	case tr.mentionsAny(p2Concepts...) != "":
		c := tr.mentionsAny(p2Concepts...)
		return "P2", []Reason{{Code: ReasonWording, Concept: c, Arg: tr.mentions(c)}}
	case maxCVSS(r) >= 7:
		return "P2", []Reason{{Code: ReasonCVSSHigh, Arg: score}}
	case len(r.CVEs) > 0:
		return "P2", []Reason{{Code: ReasonCVEs, Arg: strings.Join(r.CVEs, ", ")}}
	case r.Category == CategoryVulnerability || r.Category == CategoryIncident:
		return "P3", []Reason{{Code: ReasonCategory, Arg: string(r.Category)}}
	}
	return "P4", []Reason{{Code: ReasonNone}}
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

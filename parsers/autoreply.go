package parsers

import (
	"regexp"
	"strings"

	"github.com/emersion/go-message"
)

// autoSubmitted returns why a message must never be answered, or "".
// RFC 3834 section 2 asks responders not to answer mail with an
// Auto-Submitted field other than "no", and section 3.1 lists precedence and
// list headers; the X- headers are what Exchange, Gmail and vacation(1) add.
func autoSubmitted(h message.Header) string {
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && !strings.HasPrefix(v, "no") {
		return "Auto-Submitted: " + v
	}
	switch v := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); v {
	case "bulk", "list", "junk", "auto_reply":
		return "Precedence: " + v
	}
	for _, k := range []string{"List-Id", "List-Unsubscribe", "List-Post"} {
		if h.Has(k) {
			return k + " present (mailing list)"
		}
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply"} {
		if v := strings.ToLower(strings.TrimSpace(h.Get(k))); v != "" && v != "no" {
			return k + " present"
		}
	}
	if v := strings.ToLower(h.Get("X-Auto-Response-Suppress")); strings.Contains(v, "all") || strings.Contains(v, "oof") {
		return "X-Auto-Response-Suppress: " + strings.TrimSpace(v)
	}
	if strings.TrimSpace(h.Get("Return-Path")) == "<>" {
		return "null Return-Path (bounce)"
	}
	if from := strings.ToLower(h.Get("From")); strings.Contains(from, "mailer-daemon") || strings.Contains(from, "postmaster@") {
		return "sent by a mailer daemon"
	}
	if strings.HasPrefix(strings.ToLower(h.Get("X-Loop")), "tocsin") {
		return "X-Loop: our own mail"
	}
	return ""
}

// oooSubject matches out-of-office and auto-reply subjects in the languages
// the desk serves; some vacation responders send no header at all.
var oooSubject = regexp.MustCompile(`(?i)^(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|absence|réponse automatique|respuesta automática|fuera de la oficina|不在|自動応答|自动回复)`)

var bounceSubject = regexp.MustCompile(`(?i)(undeliver(ed|able)|delivery (status notification|failure|has failed)|returned mail|mail delivery (failed|subsystem)|failure notice|non[- ]?delivery)`)

var (
	vulnWords     = regexp.MustCompile(`(?i)\b(vulnerab\w*|exploit\w*|xss|cross[- ]site|sql ?injection|rce|remote code execution|csrf|ssrf|buffer overflow|privilege escalation|cve-\d{4}-\d+|bug bounty|proof of concept|poc|security (flaw|bug|issue))\b`)
	incidentWords = regexp.MustCompile(`(?i)\b(breach\w*|compromis\w*|intrusion|ransomware|malware|phishing|data leak\w*|leaked|stolen|unauthori[sz]ed access|attack\w*|ddos|backdoor|botnet)\b`)
	abuseWords    = regexp.MustCompile(`(?i)\b(abuse|spam|scanning|brute[- ]?force|copyright|dmca)\b`)
	advisoryWords = regexp.MustCompile(`(?i)\b(advisory|security bulletin|data call|notification of|patch (available|released))\b`)
)

// classify sets Category and, for mail that must not be answered,
// AutoSubmitted.
func classify(r *Report, hasDSN, hasARF bool) {
	subj := r.Subject
	switch {
	case hasDSN:
		r.Category = CategoryBounce
		r.markAuto("delivery status notification (RFC 3464)")
	case hasARF:
		r.Category = CategoryAbuse
		r.markAuto("abuse feedback report (RFC 5965)")
	case r.AutoSubmitted && (strings.Contains(r.AutoReason, "mailer daemon") || strings.Contains(r.AutoReason, "bounce")):
		r.Category = CategoryBounce
	case bounceSubject.MatchString(subj) && r.AutoSubmitted:
		r.Category = CategoryBounce
	case oooSubject.MatchString(subj):
		r.Category = CategoryAutoReply
		r.markAuto("out-of-office subject")
	case r.AutoSubmitted && !strings.HasPrefix(r.AutoReason, "List-") && !strings.HasPrefix(r.AutoReason, "Precedence: list") && !strings.HasPrefix(r.AutoReason, "Precedence: bulk"):
		r.Category = CategoryAutoReply
	default:
		text := subj + "\n" + r.Text
		switch {
		case vulnWords.MatchString(text):
			r.Category = CategoryVulnerability
		case incidentWords.MatchString(text):
			r.Category = CategoryIncident
		case abuseWords.MatchString(text):
			r.Category = CategoryAbuse
		case advisoryWords.MatchString(text):
			r.Category = CategoryAdvisory
		default:
			r.Category = CategoryOther
		}
	}
}

func (r *Report) markAuto(reason string) {
	if !r.AutoSubmitted {
		r.AutoSubmitted = true
		r.AutoReason = reason
	}
}

var tagRE = regexp.MustCompile(`\[([A-Z][A-Z0-9]{0,15}-\d{4}-\d{4,9})\]`)

// IncidentTag returns the incident id in a subject such as
// "Re: [SEC-2026-0042] ...", or "".
func IncidentTag(subject string) string {
	if m := tagRE.FindStringSubmatch(subject); m != nil {
		return m[1]
	}
	return ""
}

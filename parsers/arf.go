package parsers

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// Feedback is a machine-readable abuse report: ARF (RFC 5965) or X-ARF.
type Feedback struct {
	Format         string `json:"format"` // arf | x-arf
	Type           string `json:"type"`   // abuse, fraud, virus, ... (ARF Feedback-Type, X-ARF Category/Report-Type)
	UserAgent      string `json:"user_agent,omitempty"`
	SourceIP       string `json:"source_ip,omitempty"`
	ReportedDomain string `json:"reported_domain,omitempty"`
	ReportedURI    string `json:"reported_uri,omitempty"`
	OriginalFrom   string `json:"original_mail_from,omitempty"`
	OriginalRcpt   string `json:"original_rcpt_to,omitempty"`
	ArrivalDate    string `json:"arrival_date,omitempty"`
}

// Forwarded is a message carried inside the report (message/rfc822): a
// forwarded phishing mail, or the original of an ARF report.
type Forwarded struct {
	From      string `json:"from"`
	Subject   string `json:"subject"`
	Date      string `json:"date,omitempty"`
	MessageID string `json:"message_id"`
}

// feedbackReport reads the RFC 5965 section 3.1 fields of a
// message/feedback-report part (a header block).
func (p *parser) feedbackReport(body []byte) {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(append(bytes.TrimSpace(body), "\r\n\r\n"...))))
	if err != nil {
		p.warn("feedback report fields unreadable: %v", err)
		return
	}
	p.r.Feedback = &Feedback{
		Format:         "arf",
		Type:           strings.ToLower(h.Get("Feedback-Type")),
		UserAgent:      h.Get("User-Agent"),
		SourceIP:       h.Get("Source-IP"),
		ReportedDomain: h.Get("Reported-Domain"),
		ReportedURI:    h.Get("Reported-URI"),
		OriginalFrom:   h.Get("Original-Mail-From"),
		OriginalRcpt:   h.Get("Original-Rcpt-To"),
		ArrivalDate:    h.Get("Arrival-Date"),
	}
}

// xarfReport reads the YAML-style report part of an X-ARF message
// (x-arf.org, versions 0.1 and 0.2: "Key: value" lines).
func (p *parser) xarfReport(body []byte) {
	f := &Feedback{Format: "x-arf"}
	for _, line := range strings.Split(string(body), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "report-type":
			f.Type = strings.ToLower(v)
		case "category":
			if f.Type == "" {
				f.Type = strings.ToLower(v)
			}
		case "source":
			f.SourceIP = v
		case "user-agent":
			f.UserAgent = v
		case "reported-from":
			f.OriginalFrom = v
		case "date":
			f.ArrivalDate = v
		}
	}
	if f.Type != "" || f.SourceIP != "" {
		p.r.Feedback = f
	}
}

// forwarded files a message/rfc822 part: its header is listed, and its
// text feeds the indicator search (a forwarded phishing mail's URLs are
// the point of the report) without becoming the report's own text.
func (p *parser) forwarded(body []byte, depth int) {
	if depth+1 >= p.lim.MaxDepth {
		p.warn("forwarded message nested deeper than %d: not read", p.lim.MaxDepth)
		return
	}
	inner, err := parseWithin(body, p.opt, depth+1, p.budget)
	if err != nil {
		p.warn("forwarded message unreadable: %v", err)
		return
	}
	fw := Forwarded{From: inner.From, Subject: inner.Subject, MessageID: inner.Thread.MessageID}
	if !inner.Date.IsZero() {
		fw.Date = inner.Date.Format("2006-01-02T15:04:05Z")
	}
	p.r.Forwarded = append(p.r.Forwarded, fw)
	p.forwardedText.WriteString(inner.Subject + "\n" + inner.Text + "\n")
	for _, w := range inner.Warnings {
		p.warn("forwarded message: %s", w)
	}
}

// inlineForwardRE finds the separators mail clients put above a message
// forwarded inline (Gmail, Outlook, Apple Mail, Thunderbird).
var inlineForwardRE = regexp.MustCompile(`(?im)^[ \t>]*(?:-{5,}\s*Forwarded message\s*-{5,}|-{3,}\s*Original Message\s*-{3,}|Begin forwarded message:|-{4,}\s*Weitergeleitete Nachricht\s*-{4,}|-{4,}\s*Message transféré\s*-{4,}|-{5,}\s*Mensaje reenviado\s*-{5,})\s*$`)

var fwdFieldRE = regexp.MustCompile(`(?i)^[ \t>*]*(From|Von|De|Subject|Betreff|Objet|Asunto|Date|Datum|Sent|Gesendet|Envoyé|Enviado)\s*:\s*\**\s*(.+)$`)

// inlineForwards lists messages forwarded inline in the text: the header
// lines under each separator. Their indicators are already in the text.
func (p *parser) inlineForwards(text string) {
	locs := inlineForwardRE.FindAllStringIndex(text, 20)
	for _, loc := range locs {
		var fw Forwarded
		lines := strings.SplitN(text[loc[1]:], "\n", 12)
		for _, line := range lines {
			m := fwdFieldRE.FindStringSubmatch(strings.TrimRight(line, "\r"))
			if m == nil {
				continue
			}
			v := strings.TrimSpace(strings.Trim(m[2], "*"))
			switch strings.ToLower(m[1]) {
			case "from", "von", "de":
				if fw.From == "" {
					if a := addrInText.FindString(v); a != "" {
						fw.From = strings.ToLower(a)
					} else {
						fw.From = v
					}
				}
			case "subject", "betreff", "objet", "asunto":
				if fw.Subject == "" {
					fw.Subject = v
				}
			default:
				if fw.Date == "" {
					fw.Date = v
				}
			}
		}
		if fw.From != "" || fw.Subject != "" {
			p.r.Forwarded = append(p.r.Forwarded, fw)
		}
	}
}

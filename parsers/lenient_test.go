package parsers

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/emersion/go-message"
)

func TestSplitMultipart(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		parts      []string
		problems   []string
	}{
		{"well formed", "preamble\r\n--b\r\nA: 1\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\nepilogue\r\n",
			[]string{"A: 1\r\n\r\none", "\r\ntwo"}, nil},
		{"LF line ends", "--b\nA: 1\n\none\n--b--\n", []string{"A: 1\n\none"}, nil},
		{"transport padding after the delimiter", "--b  \t\r\n\r\none\r\n--b-- \r\n", []string{"\r\none"}, nil},
		{"doubled delimiter", "--b\r\n--b\r\n\r\none\r\n--b\r\n\r\n--b\r\n\r\ntwo\r\n--b--\r\n",
			[]string{"\r\none", "\r\ntwo"}, []string{"2 empty part(s) (doubled boundary) skipped"}},
		{"a longer boundary is content", "--b\r\n\r\nx\r\n--b-1\r\ny\r\n--b--\r\n", []string{"\r\nx\r\n--b-1\r\ny"}, nil},
		{"missing close", "--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n", []string{"\r\none", "\r\ntwo\r\n"}, []string{"missing final boundary; read to the end"}},
		{"missing close, empty last part", "--b\r\n\r\none\r\n--b\r\n", []string{"\r\none"}, []string{"missing final boundary; read to the end"}},
		{"no delimiter at all", "just text\r\n", nil, []string{"no boundary line found; body skipped"}},
		{"delimiter not at a line start", "x--b\r\n\r\none\r\n", nil, []string{"no boundary line found; body skipped"}},
		{"last line without line end", "--b\r\n\r\none\r\n--b--", []string{"\r\none"}, nil},
	} {
		parts, problems := splitMultipart([]byte(tc.body), "b")
		var got []string
		for _, p := range parts {
			got = append(got, string(p))
		}
		if !reflect.DeepEqual(got, tc.parts) || !reflect.DeepEqual(problems, tc.problems) {
			t.Errorf("%s: parts %q problems %q; want %q %q", tc.name, got, problems, tc.parts, tc.problems)
		}
	}
	if _, problems := splitMultipart([]byte("--\r\n"), ""); len(problems) != 1 || !strings.Contains(problems[0], "no boundary parameter") {
		t.Errorf("empty boundary: %q", problems)
	}
}

func TestRepairHeader(t *testing.T) {
	for _, tc := range []struct {
		name, in, out string
		how           []string
	}{
		{"not a header", "hello world\r\n", "", nil},
		{"space before the first field", "\r\n  Subject: x\r\n\r\nbody", "Subject: x\r\n\r\nbody", []string{"white space before the first header field skipped"}},
		{"space before a colon", "Subject : x\r\nFrom\t: a@b\r\n\r\nbody", "Subject: x\r\nFrom: a@b\r\n\r\nbody", []string{"white space before a header colon (obsolete syntax) removed"}},
		{"empty folded line", "Subject: a\r\n  \r\n b\r\n\r\nbody", "Subject: a\r\n b\r\n\r\nbody", []string{"empty folded header line skipped"}},
		{"malformed field name", "Subject: a\r\nBad\x01Name: x\r\nFrom: f@x\r\n\r\nbody", "Subject: a\r\nFrom: f@x\r\n\r\nbody", []string{"header line 2 has a malformed field name; skipped"}},
		{"no blank line", "Subject: a\r\nthis is the body\r\nmore\r\n", "Subject: a\r\n\r\nthis is the body\r\nmore\r\n", []string{"header not ended by a blank line; body taken to start at line 2"}},
		{"header only", "Subject: a\r\nFrom: b@c", "Subject: a\r\nFrom: b@c\r\n\r\n", nil},
	} {
		out, how := repairHeader([]byte(tc.in))
		if string(out) != tc.out || !reflect.DeepEqual(how, tc.how) {
			t.Errorf("%s: %q %q; want %q %q", tc.name, out, how, tc.out, tc.how)
		}
	}
}

func TestIsText(t *testing.T) {
	for in, want := range map[string]bool{
		"plain text\r\nwith lines\t\f":          true,
		"":                                      false,
		"  \r\n\t":                              false,
		"nul\x00inside":                         false,
		strings.Repeat("\x01", 1) + "ab":        false, // one control in three bytes
		"ab" + strings.Repeat("x", 40) + "\x01": true,  // one in 43: under 5 %
		"ab" + strings.Repeat("x", 17) + "\x01": false, // one in 20: not under 5 %
	} {
		if got := isText([]byte(in)); got != want {
			t.Errorf("isText(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestLenientMediaType(t *testing.T) {
	for _, tc := range []struct {
		in     string
		mt     string
		params map[string]string
	}{
		{`text/plain; charset="US-ASCII"; name==?koi8-r?B?89DJ08/LLmRvYw==?=`, "text/plain", map[string]string{"charset": "US-ASCII", "name": "=?koi8-r?B?89DJ08/LLmRvYw==?="}},
		{`Multipart/Mixed;; boundary="a;b"; ;`, "multipart/mixed", map[string]string{"boundary": "a;b"}},
		{`attachment; filename*=utf-8''%E2%82%AC%20rates.pdf; filename=fallback.pdf`, "attachment", map[string]string{"filename": "€ rates.pdf"}},
		{`text/html junk; charset=utf-8`, "text/html", map[string]string{"charset": "utf-8"}},
		{`image/png; novalue; =x`, "image/png", map[string]string{}},
	} {
		mt, params := lenientMediaType(tc.in)
		if mt != tc.mt || !reflect.DeepEqual(params, tc.params) {
			t.Errorf("lenientMediaType(%q) = %q %v; want %q %v", tc.in, mt, params, tc.mt, tc.params)
		}
	}
}

func TestBodyBytes(t *testing.T) {
	h := func(cte string) message.Header {
		var hdr message.Header
		if cte != "" {
			hdr.Set("Content-Transfer-Encoding", cte)
		}
		return hdr
	}
	for _, tc := range []struct {
		src, cte string
		body     string
		ok       bool
	}{
		{"A: 1\r\nB: 2\r\n\r\nbody\r\n", "", "body\r\n", true},
		{"A: 1\n\nbody", "7bit", "body", true},
		{"A: 1\r\n\r\n", "binary", "", true},
		{"A: 1\r\n\r\nbody", "base64", "", false},
		{"A: 1\r\nno blank line", "", "", false},
	} {
		body, ok := bodyBytes([]byte(tc.src), h(tc.cte))
		if string(body) != tc.body || ok != tc.ok {
			t.Errorf("bodyBytes(%q, %q) = %q %v; want %q %v", tc.src, tc.cte, body, ok, tc.body, tc.ok)
		}
	}
	if _, ok := bodyBytes(nil, h("")); ok {
		t.Error("bodyBytes(nil) claims a body")
	}
}

// TestCapWriter: it keeps what fits and, past the limit, drops all of it.
func TestCapWriter(t *testing.T) {
	w := &capWriter{max: 10}
	for _, chunk := range []string{"01234", "56789"} {
		if n, _ := w.Write([]byte(chunk)); n != len(chunk) {
			t.Fatalf("Write returned %d", n)
		}
	}
	if w.over || w.buf.String() != "0123456789" {
		t.Fatalf("at the limit: over %v, kept %q", w.over, w.buf.String())
	}
	if n, _ := w.Write([]byte("x")); n != 1 || !w.over || w.buf.Len() != 0 {
		t.Fatalf("past the limit: n %d over %v kept %d bytes", n, w.over, w.buf.Len())
	}
	w.Write([]byte("y"))
	if w.buf.Len() != 0 {
		t.Fatal("kept bytes after going over")
	}
}

// TestAnalysedKinds: the parser buffers exactly the kinds it reads.
func TestAnalysedKinds(t *testing.T) {
	for _, tc := range []struct {
		mt, name string
		want     bool
	}{
		{"application/pgp-keys", "key.asc", true},
		{"message/feedback-report", "", true},
		{"message/rfc822", "fwd.eml", true},
		{"application/iodef+xml", "", true},
		{"application/octet-stream", "x.bin", true},
		{"text/plain", "log.txt", true},
		{"application/xml", "", true},
		{"application/json", "hosts.json", true},
		{"application/vnd.ms-excel", "hosts.csv", true},
		{"image/png", "shot.png", false},
		{"application/pdf", "report.pdf", false},
		{"application/zip", "logs.zip", false},
	} {
		if got := analysed(tc.mt, tc.name); got != tc.want {
			t.Errorf("analysed(%q, %q) = %v, want %v", tc.mt, tc.name, got, tc.want)
		}
	}
}

func TestExtFor(t *testing.T) {
	for mt, want := range map[string]string{"text/plain": ".txt", "text/html": ".html", "message/rfc822": ".eml",
		"message/delivery-status": ".txt", "message/feedback-report": ".txt", "application/x-tocsin-unknown": ".bin"} {
		if got := extFor(mt); got != want {
			t.Errorf("extFor(%q) = %q, want %q", mt, got, want)
		}
	}
	if got := extFor("image/png"); got != ".png" {
		t.Errorf("extFor(image/png) = %q", got)
	}
}

func TestFeedbackFields(t *testing.T) {
	p := newFuzzParser()
	p.feedbackReport([]byte("\r\nFeedback-Type: Abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\nSource-IP: 192.0.2.1\r\nReported-Domain: example.net\r\nReported-URI: http://example.net/x\r\nOriginal-Mail-From: <s@example.net>\r\nOriginal-Rcpt-To: <r@example.com>\r\nArrival-Date: Thu, 8 Mar 2026 14:00:00 EDT\r\n"))
	want := &Feedback{Format: "arf", Type: "abuse", UserAgent: "SomeGenerator/1.0", SourceIP: "192.0.2.1", ReportedDomain: "example.net",
		ReportedURI: "http://example.net/x", OriginalFrom: "<s@example.net>", OriginalRcpt: "<r@example.com>", ArrivalDate: "Thu, 8 Mar 2026 14:00:00 EDT"}
	if !reflect.DeepEqual(p.r.Feedback, want) {
		t.Errorf("feedback %+v, want %+v", p.r.Feedback, want)
	}
	p = newFuzzParser()
	p.feedbackReport([]byte("not a header line\r\n"))
	if p.r.Feedback != nil || len(p.r.Warnings) != 1 {
		t.Errorf("unreadable fields: feedback %+v warnings %q", p.r.Feedback, p.r.Warnings)
	}
}

func TestXARFFields(t *testing.T) {
	p := newFuzzParser()
	p.xarfReport([]byte("Reported-From: 'abuse@example.net'\nCategory: abuse\nReport-Type: Login-Attack\nUser-Agent: fail2ban\nSource: \"198.51.100.77\"\nDate: today\nno colon here\n"))
	want := &Feedback{Format: "x-arf", Type: "login-attack", UserAgent: "fail2ban", SourceIP: "198.51.100.77", OriginalFrom: "abuse@example.net", ArrivalDate: "today"}
	if !reflect.DeepEqual(p.r.Feedback, want) {
		t.Errorf("x-arf %+v, want %+v", p.r.Feedback, want)
	}
	p = newFuzzParser()
	p.xarfReport([]byte("Category: Spam\n"))
	if p.r.Feedback == nil || p.r.Feedback.Type != "spam" {
		t.Errorf("category only: %+v", p.r.Feedback)
	}
	p = newFuzzParser()
	p.xarfReport([]byte("User-Agent: x\n"))
	if p.r.Feedback != nil {
		t.Errorf("neither type nor source: %+v, want none", p.r.Feedback)
	}
}

func TestForwardedDepthAndFields(t *testing.T) {
	inner := []byte("From: Phisher <bill@paypa1.example>\r\nSubject: Invoice\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\nMessage-ID: <inv@paypa1.example>\r\n\r\npay at http://paypa1.example/pay\r\n")
	p := newFuzzParser()
	p.lim.MaxDepth = 3
	p.forwarded(inner, 0)
	if len(p.r.Forwarded) != 1 || p.r.Forwarded[0] != (Forwarded{From: "bill@paypa1.example", Subject: "Invoice", Date: "2026-11-24T09:00:00Z", MessageID: "inv@paypa1.example"}) {
		t.Errorf("forwarded %+v", p.r.Forwarded)
	}
	if !strings.Contains(p.forwardedText.String(), "http://paypa1.example/pay") {
		t.Error("forwarded text not kept for indicators")
	}
	p = newFuzzParser()
	p.lim.MaxDepth = 3
	p.forwarded(inner, 2) // depth+1 == MaxDepth: too deep
	if len(p.r.Forwarded) != 0 || len(p.r.Warnings) != 1 {
		t.Errorf("too deep: forwarded %+v warnings %q", p.r.Forwarded, p.r.Warnings)
	}
	p = newFuzzParser()
	p.lim.MaxDepth = 3
	p.forwarded(inner, 1) // depth+1 < MaxDepth: read
	if len(p.r.Forwarded) != 1 {
		t.Errorf("at depth 1: forwarded %+v", p.r.Forwarded)
	}
}

// TestPartsWithBrokenHeaders: a part whose header needs mending is
// mended, and a part with no header at all is read as text; each says so.
func TestPartsWithBrokenHeaders(t *testing.T) {
	raw := "From: a@example.org\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type : text/plain\r\nBad\x01Field: x\r\n\r\nfirst part\r\n" +
		"--b\r\njust a line that is no header\r\nsecond part\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nthird part\r\n--b--\r\n"
	r, err := Parse([]byte(raw), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"first part", "just a line that is no header", "second part", "third part"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("text %q lacks %q", r.Text, want)
		}
	}
	joined := strings.Join(r.Warnings, "\n")
	for _, want := range []string{"part 2: header line 2 has a malformed field name; skipped", "part 3 has no readable header; read as text"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings %q lack %q", r.Warnings, want)
		}
	}
}

// TestTextLimit: text is kept up to MaxTextBytes over all parts, exactly,
// and parts are joined by a line break.
func TestTextLimit(t *testing.T) {
	two := func(a, b string) string {
		return "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n" + a +
			"\r\n--b\r\nContent-Type: text/plain\r\n\r\n" + b + "\r\n--b--\r\n"
	}
	r, _ := Parse([]byte(two("abc", "def")), DefaultLimits)
	if r.Text != "abc\ndef" {
		t.Errorf("joined text %q", r.Text)
	}
	r, _ = Parse([]byte(two("0123456789AB", "more")), Limits{MaxTextBytes: 10})
	if r.Text != "0123456789" {
		t.Errorf("capped text %q, want the first 10 bytes", r.Text)
	}
	if n := strings.Count(strings.Join(r.Warnings, "\n"), "text beyond 10 bytes was not kept"); n != 2 {
		t.Errorf("warnings %q: want the cap said for both parts", r.Warnings)
	}
	r, _ = Parse([]byte(two("0123456789", "x")), Limits{MaxTextBytes: 10})
	if r.Text != "0123456789" || strings.Count(strings.Join(r.Warnings, "\n"), "text beyond") != 1 {
		t.Errorf("exactly at the cap: text %q warnings %q", r.Text, r.Warnings)
	}
}

// TestWarningsAreCapped: a message with a thousand faults lists 50.
func TestWarningsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	for range 80 {
		b.WriteString("--b\r\nno header here\r\n")
	}
	b.WriteString("--b--\r\n")
	r, _ := Parse([]byte(b.String()), DefaultLimits)
	if len(r.Warnings) != 50 {
		t.Errorf("%d warnings, want 50", len(r.Warnings))
	}
}

// TestReportTypes: multipart/report says what it is by its report-type,
// even when its machine-readable part is missing.
func TestReportTypes(t *testing.T) {
	for rt, want := range map[string]Category{"delivery-status": CategoryBounce, "disposition-notification": CategoryAutoReply, "feedback-report": CategoryAbuse} {
		raw := "From: x@example.org\r\nSubject: report\r\nContent-Type: multipart/report; report-type=" + rt + "; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhuman part\r\n--b--\r\n"
		r, _ := Parse([]byte(raw), DefaultLimits)
		if r.Category != want || !r.AutoSubmitted {
			t.Errorf("report-type %s: category %s auto %v", rt, r.Category, r.AutoSubmitted)
		}
	}
	raw := "From: x@example.org\r\nSubject: report\r\nContent-Type: multipart/mixed; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nan ordinary XSS report\r\n--b--\r\n"
	if r, _ := Parse([]byte(raw), DefaultLimits); r.AutoSubmitted {
		t.Error("report-type on multipart/mixed taken for a report")
	}
}

func TestHeaderOddities(t *testing.T) {
	r, _ := Parse([]byte("From: a@example.org\r\nDate: the day before yesterday\r\nSubject: x\r\n\r\nbody\r\n"), DefaultLimits)
	if !r.Date.IsZero() || !strings.Contains(strings.Join(r.Warnings, ";"), "Date header unreadable") {
		t.Errorf("bad Date: %v %q", r.Date, r.Warnings)
	}
	r, _ = Parse([]byte("From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"), DefaultLimits)
	if len(r.Warnings) != 0 {
		t.Errorf("no Date: warnings %q", r.Warnings)
	}
	// Plain text wins over HTML; HTML is read only when there is no text.
	alt := "From: a@example.org\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain words\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html words</p>\r\n--b--\r\n"
	if r, _ = Parse([]byte(alt), DefaultLimits); r.Text != "plain words" {
		t.Errorf("alternative: text %q", r.Text)
	}
	// A malformed Content-Disposition still names the attachment.
	att := "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment;; filename=\"rates.pdf\"; x\r\n\r\n%PDF\r\n--b--\r\n"
	if r, _ = Parse([]byte(att), DefaultLimits); len(r.Attachments) != 1 || r.Attachments[0].Name != "rates.pdf" {
		t.Errorf("attachments %+v", r.Attachments)
	}
	// An mbox "From " line before the header is skipped, and said so.
	if r, _ = Parse([]byte("From someone@example.org Tue Dec  1 10:00:00 2026\r\nFrom: b@example.org\r\nSubject: mbox\r\n\r\nbody\r\n"), DefaultLimits); r.From != "b@example.org" || r.Subject != "mbox" || len(r.Warnings) != 1 {
		t.Errorf("mbox line: from %q subject %q warnings %q", r.From, r.Subject, r.Warnings)
	}
}

func TestLooksLikeIODEF(t *testing.T) {
	doc := []byte(`<?xml version="1.0"?><iodef:IODEF-Document xmlns:iodef="urn:ietf:params:xml:ns:iodef-2.0">`)
	for _, tc := range []struct {
		mt   string
		data []byte
		want bool
	}{
		{"application/iodef+xml", nil, true},
		{"application/xml", doc, true},
		{"text/xml", doc, true},
		{"application/octet-stream", doc, true},
		{"text/plain", doc, true},
		{"application/pdf", doc, false},
		{"application/xml", []byte("<rss/>"), false},
		{"text/plain", append(bytes.Repeat([]byte(" "), 2048), doc...), false}, // only the head is sniffed
	} {
		if got := looksLikeIODEF(tc.mt, tc.data); got != tc.want {
			t.Errorf("looksLikeIODEF(%q, %.40q) = %v", tc.mt, tc.data, got)
		}
	}
}

// TestIODEFElements: elements are read by local name whatever their
// prefix, in their context, and an element's end returns to its parent.
func TestIODEFElements(t *testing.T) {
	p := newFuzzParser()
	p.iodef([]byte(`<i:IODEF-Document xmlns:i="urn:ietf:params:xml:ns:iodef-2.0"><i:Incident purpose="mitigation">
<i:IncidentID name="csirt.example">CERT-1</i:IncidentID><i:IncidentID>SECOND</i:IncidentID>
<i:GenerationTime>2026-11-30T10:00:00Z</i:GenerationTime>
<i:Description>Botnet C2</i:Description>
<i:Assessment><i:Impact type="dos"/><i:SystemImpact type="breach-proprietary"/><i:Description>not the incident's</i:Description></i:Assessment>
<i:Contact><i:Email><i:EmailTo>cert@csirt.example</i:EmailTo></i:Email><i:Email><i:EmailAddress>b@csirt.example</i:EmailAddress></i:Email></i:Contact>
<i:EventData><i:Flow><i:System><i:Node><i:Address>192.0.2.66</i:Address><i:DomainName>c2.example</i:DomainName></i:Node></i:System></i:Flow></i:EventData>
</i:Incident></i:IODEF-Document>`))
	want := &IODEF{IncidentID: "CERT-1", Purpose: "mitigation", ReportTime: "2026-11-30T10:00:00Z", Description: []string{"Botnet C2"},
		Contacts: []string{"cert@csirt.example", "b@csirt.example"}, Addresses: []string{"192.0.2.66", "c2.example"}, Impacts: []string{"dos", "breach-proprietary"}}
	if !reflect.DeepEqual(p.r.IODEF, want) {
		t.Errorf("IODEF\n%+v\nwant\n%+v", p.r.IODEF, want)
	}
	p = newFuzzParser()
	p.iodef([]byte(`<IODEF-Document><Incident></Incident></IODEF-Document>`))
	if p.r.IODEF != nil || len(p.r.Warnings) != 1 {
		t.Errorf("empty document: %+v %q", p.r.IODEF, p.r.Warnings)
	}
}

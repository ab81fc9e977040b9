package parsers

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
)

// IODEF is what Tocsin reads from an IODEF document (RFC 7970; RFC 5070
// documents too): enough to file and route the incident.
type IODEF struct {
	IncidentID  string   `json:"incident_id"`
	Purpose     string   `json:"purpose,omitempty"`
	ReportTime  string   `json:"report_time,omitempty"`
	Description []string `json:"description"`
	Contacts    []string `json:"contacts"`  // e-mail addresses
	Addresses   []string `json:"addresses"` // Node/Address values
	Impacts     []string `json:"impacts"`   // Assessment impact types
}

// looksLikeIODEF reports whether an attachment is an IODEF document.
func looksLikeIODEF(mediaType string, data []byte) bool {
	if mediaType == "application/iodef+xml" {
		return true
	}
	head := data[:min(len(data), 2048)]
	return (strings.HasSuffix(mediaType, "xml") || mediaType == "application/octet-stream" || mediaType == "text/plain") &&
		bytes.Contains(head, []byte("IODEF-Document"))
}

// iodef reads an IODEF document by walking its elements by local name, so
// namespace prefixes and the 1.0/2.0 differences do not matter.
func (p *parser) iodef(data []byte) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = false
	doc := &IODEF{Description: []string{}, Contacts: []string{}, Addresses: []string{}, Impacts: []string{}}
	var stack []string
	for n := 0; n < 200000; n++ {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			p.warn("IODEF document: %v; read what came before", err)
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			for _, a := range t.Attr {
				switch {
				case t.Name.Local == "Incident" && a.Name.Local == "purpose":
					doc.Purpose = a.Value
				case t.Name.Local == "Impact" && a.Name.Local == "type":
					doc.Impacts = append(doc.Impacts, a.Value)
				case t.Name.Local == "SystemImpact" && a.Name.Local == "type": // IODEF 2
					doc.Impacts = append(doc.Impacts, a.Value)
				}
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			text := strings.TrimSpace(string(t))
			if text == "" || len(stack) == 0 {
				continue
			}
			parent := ""
			if len(stack) > 1 {
				parent = stack[len(stack)-2]
			}
			switch el := stack[len(stack)-1]; {
			case el == "IncidentID" && doc.IncidentID == "":
				doc.IncidentID = text
			case el == "ReportTime" || el == "GenerationTime" && doc.ReportTime == "":
				doc.ReportTime = text
			case el == "Description" && parent == "Incident":
				doc.Description = append(doc.Description, text)
			case el == "Email" || el == "EmailTo" || el == "EmailAddress" && parent == "Email":
				doc.Contacts = append(doc.Contacts, text)
			case el == "Address" || el == "DomainName" || el == "URL":
				doc.Addresses = append(doc.Addresses, text)
			}
		}
	}
	if doc.IncidentID == "" && len(doc.Addresses) == 0 {
		p.warn("IODEF document without IncidentID or addresses")
		return
	}
	p.r.IODEF = doc
	p.forwardedText.WriteString(strings.Join(doc.Description, "\n") + "\n" + strings.Join(doc.Addresses, "\n") + "\n")
}

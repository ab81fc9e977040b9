package parsers

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/emersion/go-message"
)

// Authentication is the sender authentication a trusted receiving server
// recorded in Authentication-Results (RFC 8601).
type Authentication struct {
	// Server is the authserv-id of the header used, "" if none was trusted.
	Server string `json:"server"`
	DKIM   string `json:"dkim"`  // pass, fail, none, ... ("" if not reported)
	SPF    string `json:"spf"`   //
	DMARC  string `json:"dmarc"` //
	// Ignored lists authserv-ids of headers that were not trusted: anyone
	// can write an Authentication-Results header into a message.
	Ignored []string `json:"ignored,omitempty"`
}

var (
	arMethodRE  = regexp.MustCompile(`(?i)\b(dkim|spf|dmarc)\s*=\s*([a-z]+)`)
	arCommentRE = regexp.MustCompile(`\([^()]*\)`)
)

// authentication reads the Authentication-Results fields, topmost (added
// last, by the server nearest to us) first, and takes the first whose
// authserv-id is trusted.
func (p *parser) authentication(h message.Header) {
	a := &p.r.Authentication
	fields := h.FieldsByKey("Authentication-Results")
	for fields.Next() {
		v := arCommentRE.ReplaceAllString(fields.Value(), "")
		id, rest, _ := strings.Cut(v, ";")
		id = strings.ToLower(strings.Fields(id + " x")[0])
		if !p.trusted(id) || a.Server != "" {
			if !p.trusted(id) {
				a.Ignored = append(a.Ignored, id)
			}
			continue
		}
		a.Server = id
		for _, m := range arMethodRE.FindAllStringSubmatch(rest, -1) {
			res := strings.ToLower(m[2])
			switch strings.ToLower(m[1]) {
			case "dkim":
				// Several signatures: any pass counts.
				if a.DKIM != "pass" {
					a.DKIM = res
				}
			case "spf":
				a.SPF = res
			case "dmarc":
				a.DMARC = res
			}
		}
	}
}

func (p *parser) trusted(id string) bool {
	for _, t := range p.opt.TrustedAuthServIDs {
		if strings.EqualFold(t, id) {
			return true
		}
	}
	return false
}

// spoofSigns flags display-name tricks: a name that shows an address
// other than the one the mail is from ("security@yourco.com"
// <attacker@evil.example>), or that names a trusted domain.
func (p *parser) spoofSigns() {
	r := p.r
	if r.From == "" || r.FromName == "" {
		return
	}
	for _, shown := range addrInText.FindAllString(r.FromName, -1) {
		if !strings.EqualFold(shown, r.From) {
			r.SpoofSigns = append(r.SpoofSigns, fmt.Sprintf("display name shows %s but the mail is from %s", shown, r.From))
		}
	}
	fromDomain := r.From[strings.LastIndexByte(r.From, '@')+1:]
	for _, d := range p.opt.OwnDomains {
		if strings.Contains(strings.ToLower(r.FromName), strings.ToLower(d)) && !strings.EqualFold(fromDomain, d) && !strings.HasSuffix(fromDomain, "."+strings.ToLower(d)) {
			r.SpoofSigns = append(r.SpoofSigns, fmt.Sprintf("display name names %s but the mail is from %s", d, fromDomain))
		}
	}
	if r.Authentication.DMARC == "fail" {
		r.SpoofSigns = append(r.SpoofSigns, "DMARC failed at "+r.Authentication.Server)
	}
}

// SenderAuthenticated reports whether a trusted receiving server found the
// From domain authenticated (DMARC pass, which requires an aligned DKIM or
// SPF pass). Only then may the From address be taken at its word: for
// sender classes, and for pinning the keys its mail carries.
func (r *Report) SenderAuthenticated() bool {
	return r.Authentication.Server != "" && r.Authentication.DMARC == "pass"
}

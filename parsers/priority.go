package parsers

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Policy is the organisation's priority policy: rules that raise a
// report's priority, an asset inventory, and sender classes. The bot builds
// it from the configuration; Parse applies it after its own reading.
type Policy struct {
	Rules []PriorityRule
	// Assets are inventory entries (hosts, domains, products) matched,
	// case-insensitively, against the report; found ones are listed as
	// affected.
	Assets []string
	// Senders maps a class (cert, partner, researcher, customer, ...) to
	// addresses and domains ("cert.example" matches its subdomains too).
	Senders map[string][]string
}

// PriorityRule raises a report to Priority when all its conditions hold
// (an empty condition holds).
type PriorityRule struct {
	Name        string
	Priority    string   // P1..P4
	Categories  []string // report categories it applies to
	CVSSAtLeast float64  // highest CVSS base score at least this
	Keywords    []string // any of these words in the subject or text
	Assets      bool     // an inventory asset is affected
	SenderClass []string // the sender is in one of these classes
}

// senderClass returns the first class whose entries match addr.
func (pol *Policy) senderClass(addr string) string {
	if addr == "" {
		return ""
	}
	domain := addr[strings.LastIndexByte(addr, '@')+1:]
	for _, class := range slices.Sorted(maps.Keys(pol.Senders)) {
		for _, e := range pol.Senders[class] {
			e = strings.ToLower(strings.TrimPrefix(e, "@"))
			if e == addr || e == domain || strings.HasSuffix(domain, "."+e) {
				return class
			}
		}
	}
	return ""
}

// apply fills SenderClass and AffectedAssets and raises Priority by the
// matching rules; a rule never lowers the priority the reading gave.
func (pol *Policy) apply(r *Report) {
	// A class raises priority: it is taken only from an authenticated From.
	if class := pol.senderClass(r.From); class != "" {
		if r.SenderAuthenticated() {
			r.SenderClass = class
		} else {
			r.Warnings = append(r.Warnings, fmt.Sprintf("sender class %q not applied: %s is not authenticated (no DMARC pass from a trusted server)", class, r.From))
		}
	}
	text := strings.ToLower(r.Subject + "\n" + r.Text + "\n" + strings.Join(r.Indicators.Domains, "\n") + "\n" + strings.Join(r.Indicators.URLs, "\n"))
	for _, a := range pol.Assets {
		if a != "" && strings.Contains(text, strings.ToLower(a)) {
			r.AffectedAssets = append(r.AffectedAssets, a)
		}
	}
	if r.AutoSubmitted {
		return // automatic mail keeps its P4
	}
	for _, rule := range pol.Rules {
		if !rule.matches(r, text) {
			continue
		}
		if rank(rule.Priority) < rank(r.Priority) {
			r.Priority = rule.Priority
			r.PriorityReasonCodes = append(r.PriorityReasonCodes, Reason{Code: ReasonRule, Arg: rule.Name})
		}
	}
}

func (rule PriorityRule) matches(r *Report, lowerText string) bool {
	if len(rule.Categories) > 0 && !inFold(rule.Categories, string(r.Category)) {
		return false
	}
	if rule.CVSSAtLeast > 0 && maxCVSS(r) < rule.CVSSAtLeast {
		return false
	}
	if len(rule.Keywords) > 0 {
		found := false
		for _, k := range rule.Keywords {
			found = found || strings.Contains(lowerText, strings.ToLower(k))
		}
		if !found {
			return false
		}
	}
	if rule.Assets && len(r.AffectedAssets) == 0 {
		return false
	}
	if len(rule.SenderClass) > 0 && !inFold(rule.SenderClass, r.SenderClass) {
		return false
	}
	return true
}

func inFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// rank orders priorities: P1 is 1; anything unknown ranks last.
func rank(p string) int {
	if len(p) == 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '4' {
		return int(p[1] - '0')
	}
	return 9
}

package templates

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sample is a complete Form for form with every field set, for Check,
// golden tests and previews.
func Sample(form string) Form {
	f := sample()
	if form == "closure" {
		f.Status = "resolved"
	}
	if form == "action-alert" {
		f.Request = &Request{Step: StepName{Key: "units-alerted", Title: "Action alert to each affected unit's contact"}, Needs: "ack", Due: f.Date.Add(2 * time.Hour),
			Token: "tq7c2m9x4k", Missing: []string{"uma@example.com"}}
	}
	return f
}

func sample() Form {
	e := time.Date(2026, 11, 23, 9, 15, 0, 0, time.UTC)
	zone := time.FixedZone("CET", 3600)
	return Form{
		IncidentID: "SEC-2026-0042",
		Date:       e,
		Zone:       zone,
		Recipient:  Person{Name: "Ana García", Address: "ana@researcher.example"},
		Reporter:   Person{Name: "Ana García", Address: "ana@researcher.example"},
		Contacts: []Contact{
			{Name: "Jonas Weber", Role: "security-officer", Region: "EMEA", Address: "jonas.weber@example.com", Phone: "+49 30 1234567"},
			{Name: "Claire Martin", Role: "account-manager", Region: "EMEA", Address: "claire.martin@example.com"},
		},
		Priority:           "P2",
		PriorityDefinition: "high: a serious vulnerability or an incident affecting one system; response within 4 hours",
		Category:           "vulnerability",
		Status:             "investigating",
		Summary:            "SQL injection in /api/orders",
		Technical:          "The order search endpoint builds SQL from the 'sort' parameter.",
		Facts: Facts{
			CVEs: []string{"CVE-2026-40123"}, CWEs: []string{"CWE-89"},
			CVSS:        []string{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H (9.8 critical)"},
			Attachments: 2, Indicators: 3,
			Reasons:   []Reason{{Code: "cvss-critical", Arg: "9.8"}, {Code: "wording", Concept: "exploited-in-the-wild", Arg: "in the wild"}, {Code: "rule", Arg: "shop assets"}},
			Encrypted: true, Decrypted: true,
		},
		Due:        e.Add(48 * time.Hour),
		NextUpdate: e.Add(4 * time.Hour),
		Elapsed:    24 * time.Hour,
		Questions:  []string{"Which account did you test with?", "Did you read any data other than your own?"},
		Resolution: "The parameter is now checked against a list of columns. Fixed in release 4.2.1, deployed 2026-11-24.",
		Actions: []Action{
			{Kind: "prevent", Text: "Block /api/orders?sort= at the web application firewall.", Due: e.Add(4 * time.Hour)},
			{Kind: "restrict", Text: "Rotate the database credentials of the order service.", Due: e.Add(12 * time.Hour)},
			{Kind: "eradicate", Text: "Install release 4.2.1 on every order-service host.", Due: e.Add(12 * time.Hour)},
		},
		Steps: []Step{
			{Name: StepName{Title: "E+2h alert issued"}, Who: "incident response team", Due: e.Add(2 * time.Hour), State: "done", By: "Jonas Weber", At: e.Add(90 * time.Minute)},
			{Name: StepName{Title: "E+4h owners notified"}, Unit: "retail", Who: "Retail unit", Due: e.Add(4 * time.Hour), State: "acknowledged", By: "Kenji Sato", At: e.Add(3 * time.Hour)},
			{Name: StepName{Title: "E+12h fix installed"}, Who: "Retail unit", Due: e.Add(12 * time.Hour), State: "late"},
			{Name: StepName{Title: "E+16h unit confirms"}, Who: "Retail unit", Due: e.Add(16 * time.Hour), State: "pending"},
		},
		Assets: []Asset{
			{Unit: "retail", Asset: "shop.example.com", State: "validated", By: "Jonas Weber", At: e.Add(20 * time.Hour), Note: "rescan clean"},
			{Unit: "retail", Asset: "shop-db-2", State: "fixed", By: "Kenji Sato", At: e.Add(11 * time.Hour), Note: "patched to 2.4.1"},
			{Unit: "retail", Asset: "10.20.1.5", State: "affected"},
		},
		Anchor: &AuditAnchor{Count: 1207, Head: "5c1f0e9a2b7d4c3e8f6a1b0d9c8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e", At: e.Add(24 * time.Hour)},
		Period: [2]time.Time{e.Add(-24 * time.Hour), e},
		Incidents: []Item{
			{IncidentID: "SEC-2026-0042", Priority: "P2", Status: "investigating", Summary: "SQL injection in /api/orders", Opened: e,
				Steps: []Step{{Name: StepName{Title: "E+4h owners notified"}, Due: e.Add(4 * time.Hour), State: "acknowledged", By: "Kenji Sato"}}},
			{IncidentID: "SEC-2026-0041", Priority: "P3", Status: "new", Summary: "Phishing mail impersonating the help desk", Opened: e.Add(-5 * time.Hour)},
		},
		AssignedBy: "Jonas Weber",
		Link:       &LinkCode{Platform: "slack", Account: "U0ANA42", Code: "40912377", Minutes: 30},
		Draft:      &DraftWaiting{ID: "D1", Form: "status-report", Contact: "Example CERT", ContactAddress: "cert@cert.example", ContactKind: "cert"},
		Told: &TeamTold{Reason: ToldBlocked, About: "olaf@example.com", Step: StepName{Key: "fix-installed", Title: "Fix tested and installed"},
			Text: "The patch fails to install on pay-db-2, need help from the CIRT", At: e.Add(5 * time.Hour)},
		Desk: Desk{Name: "Example Security Team", Address: "security@example.com",
			Fingerprint: "BAEEB7AD0ADAABBEB5AF26B26533804BEDEF9CDB", PublicURL: "https://security.example.com"},
	}
}

// Check renders every form in every language of the set, in both
// variants, against Sample and returns every problem: a form missing in a
// language (a missing translation), a template that names a field Form
// does not have, or output that lacks what every notification must carry.
func (s *Set) Check() error {
	var errs []error
	for _, lang := range s.langs {
		for _, form := range Forms {
			data := Sample(form)
			if _, ok := s.t[form+"."+lang]; !ok {
				errs = append(errs, fmt.Errorf("%s: missing (no %s translation of %s)", s.where(lang, form), lang, form))
				continue
			}
			for _, v := range Variants {
				data.Variant = v
				m, err := s.Render(form, data, lang)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s (%s): %w", s.where(lang, form), v, err))
					continue
				}
				for _, must := range mustCarry(form, data) {
					if !strings.Contains(m.Subject+"\n"+m.Body, must) {
						errs = append(errs, fmt.Errorf("%s (%s): output lacks %q", s.where(lang, form), v, must))
					}
				}
				if strings.Contains(m.Body, "<no value>") {
					errs = append(errs, fmt.Errorf("%s (%s): output has <no value>", s.where(lang, form), v))
				}
				if lang != "en" && v == Technical {
					errs = append(errs, s.untranslated(lang, form, data, m)...)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// mustCarry is what a form's output has to contain, whatever its language.
func mustCarry(form string, f Form) []string {
	switch form {
	case "digest":
		return []string{f.Incidents[0].IncidentID, f.Incidents[1].Summary, f.Desk.Name, f.Anchor.Head}
	case "assigned":
		return []string{"[" + f.IncidentID + "]", f.Summary, f.Priority, f.AssignedBy, f.Desk.Address, f.Desk.PublicURL}
	case "chat-link":
		return []string{f.Link.Platform, f.Link.Account, "/tocsin link " + f.Link.Code, f.Recipient.Address, f.Desk.Address}
	case "team-told":
		return []string{"[" + f.IncidentID + "]", f.Told.About, f.Told.Text, f.Summary, f.Desk.PublicURL, f.Desk.Address}
	case "approval-request":
		return []string{"[" + f.IncidentID + "]", f.Draft.Contact, f.Draft.ContactAddress, "/approve " + f.IncidentID + " " + f.Draft.ID, f.Desk.Address}
	}
	must := []string{"[" + f.IncidentID + "]", f.Summary, f.Priority, f.Desk.Address, f.Desk.Fingerprint[:4], f.Contacts[0].Address}
	if f.Variant == Technical {
		must = append(must, f.Technical, f.Facts.CVEs[0])
	}
	switch form {
	case "request-info":
		must = append(must, f.Questions...)
	case "closure":
		must = append(must, f.Resolution)
	case "action-alert":
		for _, a := range f.Actions {
			must = append(must, a.Text)
		}
		must = append(must, f.Request.Token, f.Request.Missing[0])
	case "status-report":
		for _, s := range f.Steps {
			must = append(must, s.Name.Title)
		}
		for _, a := range f.Assets {
			must = append(must, a.Asset)
		}
		must = append(must, f.Anchor.Head)
	}
	return must
}

// untranslated reports a form or common file of lang that is the English
// one copied: swapping in the English file changes nothing in the output.
func (s *Set) untranslated(lang, form string, data Form, m Message) []error {
	var errs []error
	for _, swap := range []struct{ common, form, file string }{
		{s.files["en/common.tmpl"], s.files[lang+"/"+form+".tmpl"], "common"},
		{s.files[lang+"/common.tmpl"], s.files["en/"+form+".tmpl"], form},
	} {
		t, _, err := build(form, swap.common, swap.form)
		if err != nil {
			continue
		}
		var sb, bb strings.Builder
		if t.ExecuteTemplate(&sb, "subject", data) != nil || t.ExecuteTemplate(&bb, "body", data) != nil {
			continue
		}
		if tidy(bb.String()) == m.Body && strings.Join(strings.Fields(sb.String()), " ") == m.Subject {
			errs = append(errs, fmt.Errorf("%s: the same as the English %s.tmpl (untranslated)", s.where(lang, swap.file), swap.file))
		}
	}
	return errs
}

package config

import (
	"strings"
	"testing"
	"time"

	"tocsin/templates"
)

const rosterYAML = `desk: {address: security@example.com}
people:
  - {name: Ravi, email: ravi@example.com}
  - {name: Mia, email: mia@example.com}
  - {name: Dana, email: dana@example.com}
team: {members: [ravi@example.com, mia@example.com], primary: primary}
rotations:
  - {name: primary, people: [ravi@example.com, mia@example.com], handoff: daily, at: "09:00", time_zone: Europe/Berlin, start: 2027-03-26, stand_in: dana@example.com}
overrides:
  - {rotation: primary, person: dana@example.com, from: 2027-03-29T12:00:00+02:00, to: 2027-03-29T18:00:00+02:00, reason: dentist swap}
  - {rotation: primary, from: 2027-03-30T09:00:00+02:00, to: 2027-03-30T10:00:00+02:00, reason: handover meeting}
`

// TestOnCall: turns hand off at 09:00 Berlin time on calendar days, also
// across the change to summer time (2027-03-28), overrides win, and an
// override without a person falls to the stand-in.
func TestOnCall(t *testing.T) {
	cfg, err := Parse("r.yaml", []byte(rosterYAML))
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, c := range []struct {
		at      string
		who     string
		whyPart string
	}{
		{"2027-03-26 08:59", "dana@example.com", "stand-in: the rotation starts"},
		{"2027-03-26 09:00", "ravi@example.com", "rotation"},
		{"2027-03-27 08:59", "ravi@example.com", "rotation"},
		{"2027-03-27 09:00", "mia@example.com", "rotation"},
		{"2027-03-28 09:00", "ravi@example.com", "rotation"}, // summer time began at 02:00
		{"2027-03-29 08:30", "ravi@example.com", "rotation"},
		{"2027-03-29 13:00", "dana@example.com", "override: dentist swap"},
		{"2027-03-29 18:00", "mia@example.com", "rotation"},
		{"2027-03-30 09:30", "dana@example.com", "stand-in: override without a person"},
	} {
		at, _ := time.ParseInLocation("2006-01-02 15:04", c.at, berlin)
		s, err := cfg.OnCall("primary", at)
		if err != nil || s.Person != c.who || !strings.Contains(s.Why, c.whyPart) {
			t.Errorf("%s: %+v, %v; want %s (%s)", c.at, s, err, c.who, c.whyPart)
		}
	}
	at, _ := time.ParseInLocation("2006-01-02 15:04", "2027-03-28 10:00", berlin)
	s, _ := cfg.OnCall("primary", at)
	if want := time.Date(2027, 3, 28, 9, 0, 0, 0, berlin); !s.From.Equal(want) || !s.To.Equal(want.AddDate(0, 0, 1)) {
		t.Errorf("shift %v..%v, want 09:00 to 09:00 Berlin", s.From, s.To)
	}
}

// TestGaps: without a stand-in, the time before a rotation starts and an
// override without a person are gaps, which tocsin check reports.
func TestGaps(t *testing.T) {
	cfg, err := Parse("r.yaml", []byte(strings.Replace(rosterYAML, ", stand_in: dana@example.com", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	gaps := cfg.Gaps(time.Date(2027, 3, 25, 0, 0, 0, 0, berlin), 14*24*time.Hour)
	if len(gaps) != 2 {
		t.Fatalf("gaps %+v, want 2", gaps)
	}
	if !gaps[0].To.Equal(time.Date(2027, 3, 26, 9, 0, 0, 0, berlin)) || !gaps[1].From.Equal(time.Date(2027, 3, 30, 9, 0, 0, 0, berlin)) ||
		!gaps[1].To.Equal(time.Date(2027, 3, 30, 10, 0, 0, 0, berlin)) {
		t.Errorf("gaps %+v", gaps)
	}
}

// TestRosterMistakes: each mistake names its line and field.
func TestRosterMistakes(t *testing.T) {
	bad := rosterYAML + `units:
  - id: Payments
    contact: nobody@example.com
    assets:
      - {host: pay.example.com, range: 10.0.0.0/8}
      - {range: 10.0.0.0/33}
playbooks:
  - name: se
    steps:
      - {id: a, audience: everyone, due: 1h, needs: maybe, escalate: [backup]}
      - {id: b, audience: units, due: 2h, after: [c], reminders: [3h]}
`
	_, err := Parse("r.yaml", []byte(bad))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`r.yaml:13: units.0.id: "Payments" must be lower-case`,
		`r.yaml:14: units.0.contact: "nobody@example.com" is not listed under people`,
		`r.yaml:16: units.0.assets.0: set exactly one of host, domain, range, product`,
		`r.yaml:17: units.0.assets.1.range: "10.0.0.0/33" is not an address range`,
		`r.yaml:21: playbooks.0.steps.0.audience: "everyone" is not one of`,
		`r.yaml:21: playbooks.0.steps.0.needs: "maybe" is not one of ack, done, none`,
		`r.yaml:21: playbooks.0.steps.0.escalate.0: backup applies to unit steps`,
		`r.yaml:22: playbooks.0.steps.1.after.0: "c" is not a step listed before this one`,
		`r.yaml:22: playbooks.0.steps.1.reminders.0: 3h0m0s must be between 0 and the step's due`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestShippedPlaybooks: without a playbooks section, P1 runs
// significant-event and other vulnerability reports vulnerability-report.
func TestShippedPlaybooks(t *testing.T) {
	cfg, err := Parse("r.yaml", []byte(rosterYAML))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ prio, cat, want string }{
		{"P1", "incident", "significant-event"}, {"P1", "vulnerability", "significant-event"},
		{"P2", "vulnerability", "vulnerability-report"}, {"P3", "abuse", ""},
	} {
		pb, ok := cfg.PlaybookFor(c.prio, c.cat)
		if pb.Name != c.want || ok != (c.want != "") {
			t.Errorf("%s %s: %q, want %q", c.prio, c.cat, pb.Name, c.want)
		}
	}
}

// TestShippedStepsAreTranslated: every step of the shipped playbooks is
// worded in each form language (a call-tree mail never shows a German
// reader an English step), and a deployment's own title is kept.
func TestShippedStepsAreTranslated(t *testing.T) {
	for _, pb := range DefaultPlaybooks {
		for _, s := range pb.Steps {
			if !ShippedStep(s.ID, s.Title) {
				t.Fatalf("%s/%s: not a shipped step", pb.Name, s.ID)
			}
			for _, lang := range templates.Default().Languages() {
				data := templates.Sample("action-alert")
				data.Request.Step = templates.StepName{Key: s.ID, Title: s.Title}
				m, err := templates.Render("action-alert", data, lang)
				if err != nil {
					t.Fatal(err)
				}
				if english := strings.Contains(m.Body, s.Title); english != (lang == "en") {
					t.Errorf("%s: step %s shown as %q: %v", lang, s.ID, s.Title, english)
				}
			}
		}
	}
	if ShippedStep("triaged", "Triage by the on-call analyst") {
		t.Error("a retitled shipped step counts as shipped: its title would be replaced")
	}
}

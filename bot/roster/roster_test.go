package roster

import (
	"slices"
	"testing"
	"time"

	"tocsin/config"
	"tocsin/parsers"
)

const yml = `desk: {address: security@example.com}
people:
  - {name: A, email: a@example.com}
  - {name: B, email: b@example.com}
  - {name: C, email: c@example.com}
  - {name: D, email: d@example.com}
  - {name: O, email: o@example.com}
units:
  - id: payments
    contact: a@example.com
    owners: [b@example.com]
    assets: [{host: pay.example.com}, {range: 10.20.0.0/16}, {product: PayGate, owners: [c@example.com]}]
  - id: web
    contact: d@example.com
    assets: [{host: "*.shop.example.com"}, {domain: web.example.com}]
officers: [o@example.com]
`

// TestAffectedUnits: a report affects the units whose assets it names, by
// host, wildcard host, domain, address range or product word; owners are
// the matched asset's own, else the unit's.
func TestAffectedUnits(t *testing.T) {
	cfg, err := config.Parse("r.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	r := New(cfg)
	for _, c := range []struct {
		name   string
		rep    parsers.Report
		units  []string
		owners []string // of the first unit
	}{
		{"url host", parsers.Report{Indicators: parsers.Indicators{URLs: []string{"https://PAY.example.com/login?x=1"}}}, []string{"payments"}, []string{"b@example.com"}},
		{"address", parsers.Report{Indicators: parsers.Indicators{IPv4: []string{"10.20.3.4"}}}, []string{"payments"}, []string{"b@example.com"}},
		{"product word", parsers.Report{Subject: "RCE in paygate 2.1"}, []string{"payments"}, []string{"c@example.com"}},
		{"not a word", parsers.Report{Subject: "PayGateway down"}, nil, nil},
		{"wildcard and domain", parsers.Report{Indicators: parsers.Indicators{Domains: []string{"eu.shop.example.com", "a.web.example.com"}}}, []string{"web"}, nil},
		{"wildcard is not the apex", parsers.Report{Indicators: parsers.Indicators{Domains: []string{"shop.example.com"}}}, nil, nil},
		{"two units", parsers.Report{Indicators: parsers.Indicators{Domains: []string{"pay.example.com", "web.example.com"}}}, []string{"payments", "web"}, []string{"b@example.com"}},
	} {
		var units []string
		ms := r.Affected(&c.rep)
		for _, m := range ms {
			units = append(units, m.Unit)
		}
		if !slices.Equal(units, c.units) {
			t.Errorf("%s: units %v, want %v", c.name, units, c.units)
			continue
		}
		if len(ms) > 0 && !slices.Equal(ms[0].Owners, c.owners) {
			t.Errorf("%s: owners %v, want %v", c.name, ms[0].Owners, c.owners)
		}
	}
}

// TestTeamFallsToOfficers: with nobody on the team, the officers are
// called rather than nobody.
func TestTeamFallsToOfficers(t *testing.T) {
	cfg, err := config.Parse("r.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	p, s := New(cfg).TeamOnCall(time.Now())
	if p != "o@example.com" || s != "o@example.com" {
		t.Errorf("on call %q, %q; want the officer", p, s)
	}
}

// TestUnitRotation: a unit whose contact slot has a rotation is answered
// by whoever holds it; when the rotation has nobody, the fixed contact
// stands in.
func TestUnitRotation(t *testing.T) {
	cfg, err := config.Parse("r.yaml", []byte(yml+`rotations:
  - {name: pay-contacts, people: [b@example.com, c@example.com], handoff: weekly, at: "08:00", time_zone: UTC, start: 2026-11-30}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Units[0].ContactRotation = "pay-contacts"
	r := New(cfg)
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC), "a@example.com"}, // before the rotation starts: the fixed contact
		{time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC), "b@example.com"},
		{time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC), "c@example.com"},
	} {
		if got, _ := r.UnitContacts("payments", c.at); got != c.want {
			t.Errorf("%v: contact %s, want %s", c.at, got, c.want)
		}
	}
	var slots []string
	for _, s := range r.Who(time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC), "payments") {
		slots = append(slots, s.Name+"="+s.Person)
	}
	if !slices.Contains(slots, "unit payments contact=b@example.com") {
		t.Errorf("who: %v", slots)
	}
}

package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Contact methods.
const (
	ViaEmail   = "email"
	ViaSlack   = "slack"
	ViaDiscord = "discord"
	ViaPager   = "pager"
)

// ContactMethod is one way to reach a person in a call tree.
type ContactMethod struct {
	// Via is email, slack, discord or pager.
	Via string `yaml:"via"`
	// After is how long after the first notice, without acknowledgement,
	// this method is used; 0: at once.
	After time.Duration `yaml:"after"`
}

// Team is the incident response team.
type Team struct {
	// Members are everyone on the team (addresses from people): they may
	// act on any incident.
	Members []string `yaml:"members"`
	// Primary and Secondary name the rotations of who is on call; the
	// secondary is the first escalation.
	Primary   string `yaml:"primary"`
	Secondary string `yaml:"secondary"`
}

// Unit is an operating unit.
type Unit struct {
	// ID names the unit in commands and the API: lower case, digits, "-".
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Contact is the unit's significant-event contact; Backup stands in
	// when the contact does not answer (addresses from people).
	Contact string `yaml:"contact"`
	Backup  string `yaml:"backup"`
	// ContactRotation and BackupRotation, when set, name rotations that
	// hold the contact's and the backup's slots (24x7 units); Contact and
	// Backup then stand in when the rotation has nobody.
	ContactRotation string `yaml:"contact_rotation"`
	BackupRotation  string `yaml:"backup_rotation"`
	// Owners are the unit's system owners and administrators: the
	// implementers of a fix.
	Owners []string `yaml:"owners"`
	// Assets are what the unit owns; a report that names one affects the
	// unit.
	Assets []Asset `yaml:"assets"`
}

// Asset is one thing a unit owns; exactly one of Host, Domain, Range and
// Product is set.
type Asset struct {
	// Host is a host name (pay.example.com); "*.example.com" matches its
	// subdomains.
	Host string `yaml:"host"`
	// Domain matches the domain and every name under it.
	Domain string `yaml:"domain"`
	// Range is an address range (10.1.0.0/16, 2001:db8::/32).
	Range string `yaml:"range"`
	// Product is a product name, matched as words in the report.
	Product string `yaml:"product"`
	// Owners, when set, are this asset's owners and administrators instead
	// of the unit's.
	Owners []string `yaml:"owners"`
}

// Rotation is a schedule of who holds a slot.
type Rotation struct {
	Name string `yaml:"name"`
	// People take turns in this order.
	People []string `yaml:"people"`
	// Handoff is daily or weekly.
	Handoff string `yaml:"handoff"`
	// At is the hand-off time of day (15:04) in TimeZone.
	At       string `yaml:"at"`
	TimeZone string `yaml:"time_zone"`
	// Start is the day (2006-01-02) of the first hand-off, to People[0].
	Start string `yaml:"start"`
	// StandIn holds the slot when nobody does (before Start, or an override
	// without a person).
	StandIn string `yaml:"stand_in"`
}

// Override gives a rotation's slot to Person (or, with no person, to its
// stand-in) from From to To.
type Override struct {
	Rotation string    `yaml:"rotation"`
	Person   string    `yaml:"person"`
	From     time.Time `yaml:"from"`
	To       time.Time `yaml:"to"`
	Reason   string    `yaml:"reason"`
}

// Webhook formats.
const (
	WebhookJSON = "json" // Tocsin's JSON, signed with HMAC-SHA256
	WebhookNtfy = "ntfy" // an ntfy.sh publish: the phone buzzes
)

// Webhook is an HTTP endpoint (a pager) told of alerts.
type Webhook struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
	// Format is json (the default) or ntfy.
	Format string `yaml:"format"`
	// Secret signs each json request (X-Tocsin-Signature: sha256=HEX, the
	// HMAC-SHA256 of the body); for ntfy it is the access token, if any.
	Secret Secret `yaml:"secret"`
}

// Playbook is a call tree: steps with audiences and deadlines from the
// event time E.
type Playbook struct {
	Name string `yaml:"name"`
	// When chooses the playbook for a new incident: the first playbook
	// whose priorities (if any) and categories (if any) match runs.
	When PlaybookRule `yaml:"when"`
	// Steps run in order of their deadlines, each once its After steps
	// are done.
	Steps []Step `yaml:"steps"`
}

// PlaybookRule matches incidents.
type PlaybookRule struct {
	Priorities []string `yaml:"priorities"`
	Categories []string `yaml:"categories"`
}

// Audiences of a step.
const (
	AudienceTeam     = "team"     // the team member on call (primary)
	AudienceUnits    = "units"    // each affected unit's contact: one step per unit
	AudienceOwners   = "owners"   // each affected unit's owners and admins: one step per unit
	AudienceRegion   = "region"   // the reporter's region's officer and account manager
	AudienceOfficers = "officers" // the security officers
	AudienceCIO      = "cio"      // the CIO
	AudienceReporter = "reporter" // whoever reported the incident (never when they may not be written to)
	// AudienceAuthorities are the external contacts marked status_report:
	// the step drafts its form to them, sent once someone approves.
	AudienceAuthorities = "authorities"
)

// What a step needs back.
const (
	NeedsAck  = "ack"
	NeedsDone = "done"
	NeedsNone = "none"
)

// Escalation targets, in the order a step names them.
const (
	EscalateBackup    = "backup"    // the unit's backup (unit steps)
	EscalateContact   = "contact"   // the unit's contact (owner steps)
	EscalateSecondary = "secondary" // the team's secondary on call
	EscalateTeam      = "team"      // the team's primary on call
	EscalateOfficers  = "officers"
)

// Step is one step of a playbook.
type Step struct {
	// ID names the step (for After and in the API).
	ID    string `yaml:"id"`
	Title string `yaml:"title"`
	// Audience is team, units, owners, region, officers or cio.
	Audience string `yaml:"audience"`
	// Form is the notification form sent (templates.Forms).
	Form string `yaml:"form"`
	// Due is the deadline as an offset from E.
	Due time.Duration `yaml:"due"`
	// Needs is what the audience sends back: ack, done or none.
	Needs string `yaml:"needs"`
	// After are the steps this one waits for (done, or acked when they
	// need only an ack). A per-unit step waits for the same unit's step.
	After []string `yaml:"after"`
	// Reminders are sent this long before the deadline to those who have
	// not answered.
	Reminders []time.Duration `yaml:"reminders"`
	// Escalate is who is told, in order, when the deadline passes
	// unanswered: backup, contact, secondary, team, officers.
	Escalate []string `yaml:"escalate"`
	// Every is the wait between escalation levels (default 30m).
	Every time.Duration `yaml:"every"`
	// Priorities, when set, limit the step to incidents of these
	// priorities (the region's points of contact are told of P1 and P2).
	Priorities []string `yaml:"priorities"`
	// DueBusinessDays, instead of due, sets the deadline that many
	// business days (Monday to Friday, UTC) after E.
	DueBusinessDays int `yaml:"due_business_days"`
	// Repeat makes a step that needs nothing recur: sent at its deadline,
	// then every Repeat until the incident is closed (the reporter's
	// status updates).
	Repeat time.Duration `yaml:"repeat"`
	// Preliminary starts a step that still waits for its predecessors at
	// its own deadline, marked preliminary (the units' alert before the
	// team's actions: the report, the affected assets, "actions follow");
	// its audience then has the time it would have had after them.
	Preliminary bool `yaml:"preliminary"`
}

// DueFrom is the step's deadline for event time e.
func (s Step) DueFrom(e time.Time) time.Time {
	if s.DueBusinessDays <= 0 {
		return e.Add(s.Due)
	}
	t := e.UTC()
	for n := s.DueBusinessDays; n > 0; {
		t = t.AddDate(0, 0, 1)
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return t
}

// PlaybookFor returns the playbook a new incident runs, if any.
func (c *Config) PlaybookFor(priority, category string) (Playbook, bool) {
	for _, p := range c.Playbooks {
		if (len(p.When.Priorities) == 0 || contains(p.When.Priorities, priority)) &&
			(len(p.When.Categories) == 0 || contains(p.When.Categories, category)) {
			return p, true
		}
	}
	return Playbook{}, false
}

// PlaybookByName returns the named playbook.
func (c *Config) PlaybookByName(name string) (Playbook, bool) {
	return find(c.Playbooks, func(p Playbook) bool { return p.Name == name })
}

// UnitByID returns the unit with id.
func (c *Config) UnitByID(id string) (Unit, bool) {
	return find(c.Units, func(u Unit) bool { return u.ID == id })
}

// RotationByName returns the named rotation.
func (c *Config) RotationByName(name string) (Rotation, bool) {
	return find(c.Rotations, func(r Rotation) bool { return r.Name == name })
}

// find returns the first element of list that matches.
func find[T any](list []T, match func(T) bool) (T, bool) {
	for _, v := range list {
		if match(v) {
			return v, true
		}
	}
	var zero T
	return zero, false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// DefaultPlaybooks are the shipped call trees: significant-event (every
// P1 incident), after the significant-event coordination process, and
// vulnerability-report (other vulnerability reports).
var DefaultPlaybooks = []Playbook{
	{
		Name: "significant-event",
		When: PlaybookRule{Priorities: []string{"P1"}},
		Steps: []Step{
			{ID: "team-alerted", Title: "Team alerted, works on the enhanced alert", Audience: AudienceTeam, Form: "action-alert",
				Due: time.Hour, Needs: NeedsAck, Reminders: []time.Duration{30 * time.Minute}, Escalate: []string{EscalateSecondary, EscalateOfficers}},
			{ID: "region-told", Title: "Regional points of contact told", Audience: AudienceRegion, Form: "action-alert",
				Due: time.Hour, Needs: NeedsNone},
			{ID: "units-alerted", Title: "Action alert to each affected unit's contact", Audience: AudienceUnits, Form: "action-alert",
				Due: 2 * time.Hour, Needs: NeedsAck, After: []string{"team-alerted"}, Reminders: []time.Duration{30 * time.Minute},
				Escalate: []string{EscalateBackup, EscalateTeam, EscalateOfficers},
				// Seconds count for the units: at E+2h the alert goes out
				// without the team's actions, marked preliminary.
				Preliminary: true},
			{ID: "owners-told", Title: "Owners and administrators told", Audience: AudienceOwners, Form: "action-alert",
				Due: 4 * time.Hour, Needs: NeedsAck, After: []string{"units-alerted"}, Reminders: []time.Duration{time.Hour},
				Escalate: []string{EscalateContact, EscalateTeam}},
			{ID: "fix-installed", Title: "Fix tested and installed", Audience: AudienceOwners, Form: "action-alert",
				Due: 12 * time.Hour, Needs: NeedsDone, After: []string{"owners-told"}, Reminders: []time.Duration{2 * time.Hour},
				Escalate: []string{EscalateContact, EscalateTeam}},
			{ID: "unit-confirmed", Title: "Unit confirms its systems are done", Audience: AudienceUnits, Form: "action-alert",
				Due: 16 * time.Hour, Needs: NeedsDone, After: []string{"fix-installed"}, Reminders: []time.Duration{2 * time.Hour},
				Escalate: []string{EscalateBackup, EscalateTeam, EscalateOfficers}},
			{ID: "team-validated", Title: "Team validated the fixes", Audience: AudienceTeam, Form: "action-alert",
				Due: 20 * time.Hour, Needs: NeedsDone, After: []string{"unit-confirmed"}, Reminders: []time.Duration{2 * time.Hour},
				Escalate: []string{EscalateSecondary, EscalateOfficers}},
			// Sent when the team has validated, and at E+24h regardless,
			// saying what is still open.
			{ID: "status-report", Title: "Status report to the CIO", Audience: AudienceCIO, Form: "status-report",
				Due: 24 * time.Hour, Needs: NeedsNone, After: []string{"team-validated"}},
			// The same report for the external authorities (contacts
			// marked status_report): drafted, sent once approved.
			{ID: "authorities-report", Title: "Status report drafted for the external authorities", Audience: AudienceAuthorities, Form: "status-report",
				Due: 24 * time.Hour, Needs: NeedsNone, After: []string{"team-validated"}},
		},
	},
	{
		Name: "vulnerability-report",
		When: PlaybookRule{Categories: []string{"vulnerability"}},
		Steps: []Step{
			// A status update that asks the team to triage: not a
			// significant-event action alert.
			{ID: "triaged", Title: "Triaged by the team", Audience: AudienceTeam, Form: "status-update",
				DueBusinessDays: 1, Needs: NeedsDone, Reminders: []time.Duration{4 * time.Hour}, Escalate: []string{EscalateSecondary, EscalateOfficers}},
			{ID: "reporter-updated", Title: "Status update to the reporter", Audience: AudienceReporter, Form: "status-update",
				Due: 7 * 24 * time.Hour, Needs: NeedsNone, Repeat: 7 * 24 * time.Hour},
			{ID: "region-told", Title: "Regional points of contact told", Audience: AudienceRegion, Form: "action-alert",
				Due: time.Hour, Needs: NeedsNone, Priorities: []string{"P1", "P2"}},
		},
	},
}

// ShippedStep reports whether title is what the shipped playbooks call
// the step id: the forms then word it in the reader's language. A title
// a deployment wrote itself is shown as written.
func ShippedStep(id, title string) bool {
	for _, pb := range DefaultPlaybooks {
		for _, s := range pb.Steps {
			if s.ID == id && s.Title == title {
				return true
			}
		}
	}
	return false
}

// validID is a unit id or a step id.
func validID(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// parseClock reads "15:04".
func parseClock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time of day such as 09:00", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// rosterDefaults fills the roster's unset fields.
func (c *Config) rosterDefaults() {
	if c.Playbooks == nil {
		c.Playbooks = DefaultPlaybooks
	}
	for i := range c.People {
		p := &c.People[i]
		if len(p.Contact) == 0 {
			p.Contact = append(p.Contact, ContactMethod{Via: ViaEmail})
			if p.SlackID != "" {
				p.Contact = append(p.Contact, ContactMethod{Via: ViaSlack})
			}
			if p.DiscordID != "" {
				p.Contact = append(p.Contact, ContactMethod{Via: ViaDiscord})
			}
			if p.Pager != "" {
				p.Contact = append(p.Contact, ContactMethod{Via: ViaPager, After: 10 * time.Minute})
			}
		}
	}
	for i := range c.Webhooks {
		if c.Webhooks[i].Format == "" {
			c.Webhooks[i].Format = WebhookJSON
		}
	}
	for i := range c.Rotations {
		r := &c.Rotations[i]
		if r.TimeZone == "" {
			r.TimeZone = "UTC"
		}
		if r.At == "" {
			r.At = "09:00"
		}
	}
	for i := range c.Playbooks {
		for j := range c.Playbooks[i].Steps {
			s := &c.Playbooks[i].Steps[j]
			if s.Every == 0 {
				s.Every = 30 * time.Minute
			}
			if s.Needs == "" {
				s.Needs = NeedsAck
			}
			if s.Form == "" {
				s.Form = "action-alert"
			}
		}
	}
}

// validateRoster reports the roster's and the playbooks' mistakes.
func (c *Config) validateRoster(forms []string, bad func(field, format string, args ...any)) {
	person := func(field, addr string) {
		if _, ok := c.PersonByEmail(addr); !ok {
			bad(field, "%q is not listed under people", addr)
		}
	}
	// unique checks the id of an entry of a list: its form, and that no
	// other entry has it.
	unique := func(seen map[string]bool, field, id string) {
		if !validID(id) {
			bad(field, "%q must be lower-case letters, digits and -", id)
		} else if seen[id] {
			bad(field, "%s is listed twice", id)
		}
		seen[id] = true
	}
	hooks := map[string]bool{}
	for i, w := range c.Webhooks {
		f := fmt.Sprintf("webhooks.%d", i)
		unique(hooks, f+".name", w.Name)
		if !strings.HasPrefix(w.URL, "https://") && !strings.HasPrefix(w.URL, "http://") {
			bad(f+".url", "%q is not an http(s) URL", w.URL)
		}
		if w.Format != WebhookJSON && w.Format != WebhookNtfy {
			bad(f+".format", "%q is not one of json, ntfy", w.Format)
		}
		checkSecret(f+".secret", w.Secret, w.Format == WebhookJSON, bad)
	}
	for i, p := range c.People {
		f := fmt.Sprintf("people.%d", i)
		if p.Pager != "" && !hooks[p.Pager] {
			bad(f+".pager", "no webhook named %q under webhooks", p.Pager)
		}
		if p.Region != "" {
			if _, ok := c.regionByName(p.Region); !ok {
				bad(f+".region", "no region named %q under regions", p.Region)
			}
		}
		for j, m := range p.Contact {
			mf := fmt.Sprintf("%s.contact.%d", f, j)
			switch {
			case m.Via == ViaSlack && p.SlackID == "":
				bad(mf+".via", "slack, but no slack_id for %s", p.Email)
			case m.Via == ViaDiscord && p.DiscordID == "":
				bad(mf+".via", "discord, but no discord_id for %s", p.Email)
			case m.Via == ViaPager && p.Pager == "":
				bad(mf+".via", "pager, but no pager for %s", p.Email)
			case m.Via != ViaEmail && m.Via != ViaSlack && m.Via != ViaDiscord && m.Via != ViaPager:
				bad(mf+".via", "%q is not one of email, slack, discord, pager", m.Via)
			}
			if m.After < 0 {
				bad(mf+".after", "must not be negative")
			}
		}
	}
	for i, m := range c.Team.Members {
		person(fmt.Sprintf("team.members.%d", i), m)
	}
	rotations := map[string]bool{}
	for i, r := range c.Rotations {
		f := fmt.Sprintf("rotations.%d", i)
		unique(rotations, f+".name", r.Name)
		if len(r.People) == 0 {
			bad(f+".people", "required: who takes turns")
		}
		for j, p := range r.People {
			person(fmt.Sprintf("%s.people.%d", f, j), p)
		}
		if r.Handoff != "daily" && r.Handoff != "weekly" {
			bad(f+".handoff", "%q is not one of daily, weekly", r.Handoff)
		}
		if _, err := parseClock(r.At); err != nil {
			bad(f+".at", "%v", err)
		}
		if _, err := time.LoadLocation(r.TimeZone); err != nil {
			bad(f+".time_zone", "%q is not a time zone name such as Europe/Berlin", r.TimeZone)
		}
		if _, err := time.Parse(time.DateOnly, r.Start); err != nil {
			bad(f+".start", "%q is not a date such as 2026-12-07", r.Start)
		}
		if r.StandIn != "" {
			person(f+".stand_in", r.StandIn)
		}
	}
	for field, name := range map[string]string{"team.primary": c.Team.Primary, "team.secondary": c.Team.Secondary} {
		if name != "" && !rotations[name] {
			bad(field, "no rotation named %q under rotations", name)
		}
	}
	for i, o := range c.Overrides {
		f := fmt.Sprintf("overrides.%d", i)
		if !rotations[o.Rotation] {
			bad(f+".rotation", "no rotation named %q under rotations", o.Rotation)
		}
		if o.Person != "" {
			person(f+".person", o.Person)
		}
		if o.From.IsZero() || !o.To.After(o.From) {
			bad(f+".to", "from and to must be times (2026-12-24T00:00:00+01:00), to after from")
		}
	}
	units := map[string]bool{}
	for i, u := range c.Units {
		f := fmt.Sprintf("units.%d", i)
		unique(units, f+".id", u.ID)
		switch {
		case u.Contact != "":
			person(f+".contact", u.Contact)
		case u.ContactRotation == "":
			bad(f+".contact", "required: the unit's significant-event contact (or a contact_rotation)")
		}
		for field, name := range map[string]string{"contact_rotation": u.ContactRotation, "backup_rotation": u.BackupRotation} {
			if name != "" && !rotations[name] {
				bad(f+"."+field, "no rotation named %q under rotations", name)
			}
		}
		if u.Backup != "" {
			person(f+".backup", u.Backup)
		}
		for j, o := range u.Owners {
			person(fmt.Sprintf("%s.owners.%d", f, j), o)
		}
		for j, a := range u.Assets {
			af := fmt.Sprintf("%s.assets.%d", f, j)
			set := 0
			for _, v := range []string{a.Host, a.Domain, a.Range, a.Product} {
				if v != "" {
					set++
				}
			}
			if set != 1 {
				bad(af, "set exactly one of host, domain, range, product")
			}
			if a.Range != "" {
				if _, err := netip.ParsePrefix(a.Range); err != nil {
					bad(af+".range", "%q is not an address range such as 10.1.0.0/16", a.Range)
				}
			}
			for k, o := range a.Owners {
				person(fmt.Sprintf("%s.owners.%d", af, k), o)
			}
		}
	}
	for i, o := range c.Officers {
		person(fmt.Sprintf("officers.%d", i), o)
	}
	if c.CIO != "" {
		person("cio", c.CIO)
	}
	names := map[string]bool{}
	for i, pb := range c.Playbooks {
		f := fmt.Sprintf("playbooks.%d", i)
		unique(names, f+".name", pb.Name)
		for j, p := range pb.When.Priorities {
			if !validLevel(p) {
				bad(fmt.Sprintf("%s.when.priorities.%d", f, j), "%q is not one of P1, P2, P3, P4", p)
			}
		}
		steps := map[string]Step{}
		for j, s := range pb.Steps {
			sf := fmt.Sprintf("%s.steps.%d", f, j)
			if !validID(s.ID) {
				bad(sf+".id", "%q must be lower-case letters, digits and -", s.ID)
			} else if _, dup := steps[s.ID]; dup {
				bad(sf+".id", "%s is listed twice", s.ID)
			}
			switch s.Audience {
			case AudienceTeam, AudienceUnits, AudienceOwners, AudienceRegion, AudienceOfficers, AudienceCIO, AudienceReporter, AudienceAuthorities:
			default:
				bad(sf+".audience", "%q is not one of team, units, owners, region, officers, cio, reporter, authorities", s.Audience)
			}
			if s.Audience == AudienceAuthorities && (s.Needs != NeedsNone || len(s.Escalate) > 0) {
				bad(sf+".needs", "a step for the external authorities drafts mail for approval: needs none, no escalation")
			}
			if s.Repeat < 0 || s.Repeat > 0 && s.Needs != NeedsNone {
				bad(sf+".repeat", "only a step that needs nothing back repeats (needs: none), every positive duration")
			}
			if s.DueBusinessDays < 0 || s.DueBusinessDays > 0 && s.Due != 0 {
				bad(sf+".due_business_days", "set either due or due_business_days (a positive number)")
			}
			if s.Audience == AudienceReporter && len(s.Escalate) > 0 {
				bad(sf+".escalate", "a step for the reporter escalates to nobody")
			}
			if !contains(forms, s.Form) {
				bad(sf+".form", "%q is not one of %s", s.Form, strings.Join(forms, ", "))
			}
			if s.Needs != NeedsAck && s.Needs != NeedsDone && s.Needs != NeedsNone {
				bad(sf+".needs", "%q is not one of ack, done, none", s.Needs)
			}
			if s.Due < 0 {
				bad(sf+".due", "must not be negative")
			}
			for k, r := range s.Reminders {
				if due := s.DueFrom(time.Time{}).Sub(time.Time{}); r <= 0 || r >= due {
					bad(fmt.Sprintf("%s.reminders.%d", sf, k), "%v must be between 0 and the step's due (%v): it is how long before the deadline", r, s.DueFrom(time.Time{}).Sub(time.Time{}))
				}
			}
			for k, a := range s.After {
				if _, ok := steps[a]; !ok {
					bad(fmt.Sprintf("%s.after.%d", sf, k), "%q is not a step listed before this one", a)
				}
			}
			for k, e := range s.Escalate {
				ef := fmt.Sprintf("%s.escalate.%d", sf, k)
				switch e {
				case EscalateBackup, EscalateContact:
					if s.Audience != AudienceUnits && s.Audience != AudienceOwners {
						bad(ef, "%s applies to unit steps (audience units or owners)", e)
					}
				case EscalateSecondary, EscalateTeam, EscalateOfficers:
				default:
					bad(ef, "%q is not one of backup, contact, secondary, team, officers", e)
				}
			}
			if s.Every <= 0 {
				bad(sf+".every", "must be positive")
			}
			for k, p := range s.Priorities {
				if !validLevel(p) {
					bad(fmt.Sprintf("%s.priorities.%d", sf, k), "%q is not one of P1, P2, P3, P4", p)
				}
			}
			steps[s.ID] = s
		}
	}
}

func (c *Config) regionByName(name string) (Region, bool) {
	return find(c.Regions, func(r Region) bool { return r.Name == name })
}

// PersonByChat returns the roster person whose chat id on platform
// ("slack", "discord") is id.
func (c *Config) PersonByChat(platform, id string) (Person, bool) {
	if id == "" {
		return Person{}, false
	}
	return find(c.People, func(p Person) bool {
		return platform == ViaSlack && p.SlackID == id || platform == ViaDiscord && p.DiscordID == id
	})
}

// OnTeam reports whether address is on the incident response team (a
// member, someone in its rotations) or an officer: who may close, set E
// and change the affected units.
func (c *Config) OnTeam(address string) bool {
	in := func(list []string) bool { return contains(list, address) }
	if in(c.Team.Members) || in(c.Officers) {
		return true
	}
	for _, name := range []string{c.Team.Primary, c.Team.Secondary} {
		if r, ok := c.RotationByName(name); ok && (in(r.People) || strings.EqualFold(r.StandIn, address)) {
			return true
		}
	}
	return false
}

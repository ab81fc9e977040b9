// Package roster answers the call tree's questions about people: who is
// on call in a slot at an instant, who stands in, which operating units a
// report affects and who their contacts and implementers are, how each
// person is reached. It reads the configuration only; it never sends.
package roster

import (
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"tocsin/config"
	"tocsin/parsers"
)

// Roster is the configured roster.
type Roster struct {
	cfg *config.Config
	// products are the units' product names as word patterns, compiled
	// once rather than for every report.
	products map[string]*regexp.Regexp
}

// New returns the roster of cfg (validated).
func New(cfg *config.Config) *Roster {
	r := &Roster{cfg: cfg, products: map[string]*regexp.Regexp{}}
	for _, u := range cfg.Units {
		for _, a := range u.Assets {
			if a.Product != "" {
				r.products[a.Product] = productRE(a.Product)
			}
		}
	}
	return r
}

// Person returns the roster entry of address.
func (r *Roster) Person(address string) (config.Person, bool) { return r.cfg.PersonByEmail(address) }

// Slot is one place in the hierarchy and who holds it now.
type Slot struct {
	Name   string // "team primary", "unit payments contact", ...
	Unit   string // the unit id, or ""
	Person string // address; "" when nobody holds it
	Why    string // rotation, override, stand-in, fixed
	Until  time.Time
}

// Who lists every slot and who holds it at t: the team's primary and
// secondary on call, each unit's contact, backup and owners (only unit's
// when unit is not ""), the officers and the CIO.
func (r *Roster) Who(t time.Time, unit string) []Slot {
	var out []Slot
	if unit == "" {
		for _, s := range []struct{ name, rotation string }{{"team primary", r.cfg.Team.Primary}, {"team secondary", r.cfg.Team.Secondary}} {
			if s.rotation == "" {
				continue
			}
			sh, _ := r.cfg.OnCall(s.rotation, t)
			out = append(out, Slot{Name: s.name, Person: sh.Person, Why: sh.Why, Until: sh.To})
		}
		if r.cfg.Team.Primary == "" {
			for _, m := range r.cfg.Team.Members {
				out = append(out, Slot{Name: "team member", Person: m, Why: "fixed (no team.primary rotation)"})
			}
		}
	}
	for _, u := range r.cfg.Units {
		if unit != "" && u.ID != unit {
			continue
		}
		for _, slot := range []struct{ name, fixed, rotation string }{{"contact", u.Contact, u.ContactRotation}, {"backup", u.Backup, u.BackupRotation}} {
			who, why, until := r.slot(slot.fixed, slot.rotation, t)
			if who != "" || slot.rotation != "" {
				out = append(out, Slot{Name: "unit " + u.ID + " " + slot.name, Unit: u.ID, Person: who, Why: why, Until: until})
			}
		}
		for _, o := range u.Owners {
			out = append(out, Slot{Name: "unit " + u.ID + " owner", Unit: u.ID, Person: o, Why: "fixed"})
		}
	}
	if unit == "" {
		for _, o := range r.cfg.Officers {
			out = append(out, Slot{Name: "officer", Person: o, Why: "fixed"})
		}
		if r.cfg.CIO != "" {
			out = append(out, Slot{Name: "cio", Person: r.cfg.CIO, Why: "fixed"})
		}
	}
	return out
}

// TeamOnCall returns the team's primary and secondary on call at t. With
// no rotations, the team's first member is primary and the second
// secondary. An empty slot falls to the officers' first (never a silent
// drop).
func (r *Roster) TeamOnCall(t time.Time) (primary, secondary string) {
	pick := func(rotation string, fallback int) string {
		if rotation != "" {
			if sh, err := r.cfg.OnCall(rotation, t); err == nil && sh.Person != "" {
				return sh.Person
			}
		} else if len(r.cfg.Team.Members) > fallback {
			return r.cfg.Team.Members[fallback]
		}
		if len(r.cfg.Officers) > 0 {
			return r.cfg.Officers[0]
		}
		return ""
	}
	return pick(r.cfg.Team.Primary, 0), pick(r.cfg.Team.Secondary, 1)
}

// TeamMember reports whether address is on the response team: one of its
// members, or a person of its primary or secondary rotation. Any of them
// may take the team's step for whoever it told; the officers are the
// level above, not the team.
func (r *Roster) TeamMember(address string) bool {
	in := func(list []string) bool {
		return slices.ContainsFunc(list, func(a string) bool { return strings.EqualFold(a, address) })
	}
	if address == "" || in(r.cfg.Team.Members) {
		return address != ""
	}
	for _, name := range []string{r.cfg.Team.Primary, r.cfg.Team.Secondary} {
		if rot, ok := r.cfg.RotationByName(name); ok && name != "" && in(rot.People) {
			return true
		}
	}
	return false
}

// UnitContacts are who holds a unit's contact and backup slots at t.
func (r *Roster) UnitContacts(id string, t time.Time) (contact, backup string) {
	u, ok := r.cfg.UnitByID(id)
	if !ok {
		return "", ""
	}
	contact, _, _ = r.slot(u.Contact, u.ContactRotation, t)
	backup, _, _ = r.slot(u.Backup, u.BackupRotation, t)
	return contact, backup
}

// slot is who holds a slot at t: its rotation's person (or the rotation's
// stand-in), else the fixed person.
func (r *Roster) slot(fixed, rotation string, t time.Time) (who, why string, until time.Time) {
	if rotation != "" {
		if sh, err := r.cfg.OnCall(rotation, t); err == nil && sh.Person != "" {
			return sh.Person, sh.Why, sh.To
		}
		if fixed != "" {
			return fixed, "stand-in: rotation " + rotation + " has nobody", time.Time{}
		}
		return "", "rotation " + rotation + " has nobody", time.Time{}
	}
	return fixed, "fixed", time.Time{}
}

// Officers are the security officers.
func (r *Roster) Officers() []string { return r.cfg.Officers }

// CIO is the CIO's address, or "".
func (r *Roster) CIO() string { return r.cfg.CIO }

// Authorities are the addresses of the external contacts marked
// status_report (lower case).
func (r *Roster) Authorities() []string {
	var out []string
	for _, k := range r.cfg.StatusReportContacts() {
		out = append(out, strings.ToLower(k.Email))
	}
	return out
}

// Unit returns the unit with id.
func (r *Roster) Unit(id string) (config.Unit, bool) { return r.cfg.UnitByID(id) }

// RegionContacts are the security officer and account manager (or the
// stand-in) of a reporter's region.
func (r *Roster) RegionContacts(reporter, lang string) []string {
	reg, ok := r.cfg.RegionFor(reporter, lang)
	if !ok {
		return nil
	}
	var out []string
	for _, a := range []string{reg.SecurityOfficer, reg.AccountManager} {
		if a != "" {
			out = append(out, a)
		}
	}
	if len(out) == 0 && reg.StandIn != "" {
		out = append(out, reg.StandIn)
	}
	return out
}

// Match is a unit a report affects, with what in the report said so.
type Match struct {
	Unit     string
	Evidence []string // "host pay.example.com", "address 10.20.1.5", "product PayGate"
	// Owners are the implementers: the matched assets' own owners when
	// they have some, else the unit's.
	Owners []string
	// Assets name the matched assets: the host named, the address, the
	// product (the incident's assets of the unit).
	Assets []string
}

// Affected returns the units whose assets the report names: hosts and
// domains in its indicators and URLs, addresses in its ranges, products
// named as words in its subject or text.
func (r *Roster) Affected(rep *parsers.Report) []Match {
	hosts := map[string]bool{}
	for _, d := range rep.Indicators.Domains {
		hosts[strings.ToLower(strings.TrimSuffix(d, "."))] = true
	}
	for _, raw := range rep.Indicators.URLs {
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" {
			hosts[strings.ToLower(u.Hostname())] = true
		}
	}
	var addrs []netip.Addr
	for _, a := range append(append([]string{}, rep.Indicators.IPv4...), rep.Indicators.IPv6...) {
		if ip, err := netip.ParseAddr(a); err == nil {
			addrs = append(addrs, ip)
		}
	}
	words := rep.Subject + "\n" + rep.Text
	var out []Match
	for _, u := range r.cfg.Units {
		m := Match{Unit: u.ID}
		var assetOwners []string
		for _, a := range u.Assets {
			var ev, name string
			switch {
			case a.Host != "":
				for h := range hosts {
					if hostMatches(a.Host, h) {
						ev, name = "host "+h, h
					}
				}
			case a.Domain != "":
				d := strings.ToLower(a.Domain)
				for h := range hosts {
					if h == d || strings.HasSuffix(h, "."+d) {
						ev, name = "domain "+h, h
					}
				}
			case a.Range != "":
				if p, err := netip.ParsePrefix(a.Range); err == nil {
					for _, ip := range addrs {
						if p.Contains(ip) {
							ev, name = "address "+ip.String(), ip.String()
						}
					}
				}
			case a.Product != "":
				re, ok := r.products[a.Product]
				if !ok { // units changed after New (tests edit the config)
					re = productRE(a.Product)
				}
				if re.MatchString(words) {
					ev, name = "product "+a.Product, a.Product
				}
			}
			if ev == "" {
				continue
			}
			m.Evidence = append(m.Evidence, ev)
			if !slices.Contains(m.Assets, name) {
				m.Assets = append(m.Assets, name)
			}
			assetOwners = append(assetOwners, a.Owners...)
		}
		if len(m.Evidence) == 0 {
			continue
		}
		m.Owners = u.Owners
		if len(assetOwners) > 0 {
			slices.Sort(assetOwners)
			m.Owners = slices.Compact(assetOwners)
		}
		out = append(out, m)
	}
	return out
}

func hostMatches(pattern, host string) bool {
	pattern = strings.ToLower(pattern)
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+rest)
	}
	return host == pattern
}

func productRE(name string) *regexp.Regexp {
	return regexp.MustCompile(`(?i)(^|\W)` + regexp.QuoteMeta(name) + `($|\W)`)
}

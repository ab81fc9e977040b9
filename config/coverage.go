package config

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Coverage says where the roster would page nobody: a step of a playbook
// whose audience the roster does not name (the team, the units' contacts,
// the officers, the CIO for the E+24h report...), an escalation level
// with nobody at it, a rotation with nobody in it. Each is a warning with
// its field; `tocsin check` prints them with their lines, and the daemon
// logs them at start. Nothing here is an error: a desk that only answers
// reporters runs without a roster.
func (c *Config) Coverage() []Problem {
	var ws []Problem
	warn := func(field, format string, args ...any) {
		ws = append(ws, Problem{Line: lineOf(c.lines, field), Field: field, Why: "warning: " + fmt.Sprintf(format, args...)})
	}
	team := len(c.Team.Members) > 0 || c.rotationHasSomeone(c.Team.Primary)
	secondary := c.Team.Secondary != "" && c.rotationHasSomeone(c.Team.Secondary)
	contacts, unitsNamed := 0, len(c.Units) > 0
	for _, u := range c.Units {
		if u.Contact != "" || c.rotationHasSomeone(u.ContactRotation) {
			contacts++
		}
	}
	region := false
	for _, r := range c.Regions {
		region = region || r.SecurityOfficer != "" || r.AccountManager != "" || r.StandIn != ""
	}
	authorities := len(c.StatusReportContacts()) > 0
	shipped := len(c.Playbooks) == len(DefaultPlaybooks) && len(c.Playbooks) > 0 && c.Playbooks[0].Name == DefaultPlaybooks[0].Name &&
		len(c.Playbooks[0].Steps) == len(DefaultPlaybooks[0].Steps)
	for i, pb := range c.Playbooks {
		// Escalation levels with nobody, once per playbook and level.
		nobodyAt := map[string][]string{}
		var levels []string
		for j, s := range pb.Steps {
			field := fmt.Sprintf("playbooks.%d.steps.%d", i, j)
			which := fmt.Sprintf("playbook %s, step %s", pb.Name, s.ID)
			if shipped {
				field, which = "playbooks", fmt.Sprintf("the shipped playbook %s, step %s", pb.Name, s.ID)
			}
			switch s.Audience {
			case AudienceTeam:
				if !team {
					warn(field, "%s would tell nobody: the roster names no team (team.members, or team.primary with people); its P1 call trees skip every team step", which)
				}
			case AudienceUnits:
				if unitsNamed && contacts < len(c.Units) {
					warn(field, "%s would tell nobody for %d of %d units: they name no contact (contact or contact_rotation with people)", which, len(c.Units)-contacts, len(c.Units))
				}
			case AudienceRegion:
				if !region {
					warn(field, "%s would tell nobody: no region names a security_officer, an account_manager or a stand_in", which)
				}
			case AudienceOfficers:
				if len(c.Officers) == 0 {
					warn(field, "%s would tell nobody: the roster names no officers", which)
				}
			case AudienceCIO:
				if c.CIO == "" {
					warn(field, "%s would tell nobody: the roster names no cio, so the E+24h status report goes to no one", which)
				}
			case AudienceAuthorities:
				if !authorities && !shipped {
					warn(field, "%s would draft to nobody: no contact has status_report: true", which)
				}
			}
			for _, e := range s.Escalate {
				if e == EscalateOfficers && len(c.Officers) == 0 || e == EscalateSecondary && !secondary || e == EscalateTeam && !team {
					if nobodyAt[e] == nil {
						levels = append(levels, e)
					}
					nobodyAt[e] = append(nobodyAt[e], s.ID)
				}
			}
		}
		field, which := fmt.Sprintf("playbooks.%d", i), "playbook "+pb.Name
		if shipped {
			field, which = "playbooks", "the shipped playbook "+pb.Name
		}
		for _, e := range levels {
			why := map[string]string{EscalateOfficers: "the roster names no officers", EscalateSecondary: "team.secondary names no rotation with people", EscalateTeam: "the roster names no team"}[e]
			warn(field, "%s escalates to %s (steps %s), and %s: those escalations reach nobody", which, e, strings.Join(nobodyAt[e], ", "), why)
		}
	}
	for i, r := range c.Rotations {
		if len(r.People) == 0 && r.StandIn == "" {
			warn(fmt.Sprintf("rotations.%d", i), "rotation %s has nobody: no people and no stand_in", r.Name)
		}
	}
	return ws
}

// rotationHasSomeone reports whether the named rotation has people or a
// stand-in.
func (c *Config) rotationHasSomeone(name string) bool {
	r, ok := c.RotationByName(name)
	return ok && (len(r.People) > 0 || r.StandIn != "")
}

// StarterLeftovers names every value of the config file data that is
// still the starter's example, as `tocsin init` wrote it: names and
// addresses at example domains (RFC 2606), the example desk name, the
// example data directory. Each is a warning with its line.
func StarterLeftovers(data []byte) []Problem {
	var mine, starter yaml.Node
	if yaml.Unmarshal(data, &mine) != nil || yaml.Unmarshal([]byte(Starter), &starter) != nil || len(mine.Content) == 0 {
		return nil
	}
	// List items are matched by their list, whatever their index: an
	// example person kept after others were removed is still one.
	examples := map[string]map[string]bool{}
	scalars(starter.Content[0], "", func(path, value string, _ int) {
		if k := anyIndex.ReplaceAllString(path, ".*"); isExample(path, value) {
			if examples[k] == nil {
				examples[k] = map[string]bool{}
			}
			examples[k][value] = true
		}
	})
	var out []Problem
	scalars(mine.Content[0], "", func(path, value string, line int) {
		if examples[anyIndex.ReplaceAllString(path, ".*")][value] {
			out = append(out, Problem{Line: line, Field: path, Why: fmt.Sprintf("warning: %q is still the starter's example: put your own here", value)})
		}
	})
	return out
}

var anyIndex = regexp.MustCompile(`\.\d+`)

// isExample reports whether the starter's value at path is an example
// to replace, not a default to keep.
func isExample(path, value string) bool {
	v := strings.ToLower(value)
	for _, d := range []string{"example.com", "example.org", "example.net", ".example"} {
		if strings.Contains(v, d) {
			return true
		}
	}
	return strings.Contains(v, "example") || path == "data_dir"
}

// scalars calls f with the dotted path (list items by index), value and
// line of every scalar under n.
func scalars(n *yaml.Node, path string, f func(path, value string, line int)) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			scalars(n.Content[i+1], join(n.Content[i].Value), f)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			scalars(c, join(fmt.Sprint(i)), f)
		}
	case yaml.ScalarNode:
		f(path, n.Value, n.Line)
	}
}

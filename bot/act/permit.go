package act

import (
	"slices"
	"strings"

	"tocsin/config"
)

// Role is what a person is on the roster; a person may hold several.
type Role uint

// The roles a permission names.
const (
	// Anyone is whoever sends the command, on the roster or not (a chat
	// account asking to be linked).
	Anyone Role = 1 << iota
	// Roster is anyone on the roster.
	Roster
	Team        // the response team: members and its rotations
	Officer     // a security officer
	CIO         // the CIO
	UnitContact // a unit's significant-event contact (or in its rotation)
	UnitBackup  // a unit's backup (or in its rotation)
	Owner       // a unit's or an asset's owner or administrator
	// InTree is anyone the incident's call tree has told of a step (or,
	// for a unit's step, its contact or backup): checked on the incident.
	InTree
)

var roleNames = []struct {
	r    Role
	name string
}{{Anyone, "anyone"}, {Roster, "roster"}, {Team, "team"}, {Officer, "officer"}, {CIO, "cio"},
	{UnitContact, "unit-contact"}, {UnitBackup, "unit-backup"}, {Owner, "owner"}, {InTree, "in-tree"}}

func (r Role) String() string {
	var out []string
	for _, n := range roleNames {
		if r&n.r != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return "nobody"
	}
	return strings.Join(out, "|")
}

// RolesOf are the roles address holds on the roster (InTree aside, which
// depends on an incident); 0 when they are not on it.
func RolesOf(cfg *config.Config, address string) Role {
	if _, ok := cfg.PersonByEmail(address); !ok {
		return 0
	}
	in := func(list []string) bool {
		return slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(s, address) })
	}
	inRotation := func(name string) bool {
		r, ok := cfg.RotationByName(name)
		return ok && (in(r.People) || strings.EqualFold(r.StandIn, address))
	}
	r := Roster
	if in(cfg.Team.Members) || inRotation(cfg.Team.Primary) || inRotation(cfg.Team.Secondary) {
		r |= Team
	}
	if in(cfg.Officers) {
		r |= Officer
	}
	if strings.EqualFold(cfg.CIO, address) {
		r |= CIO
	}
	for _, u := range cfg.Units {
		if strings.EqualFold(u.Contact, address) || inRotation(u.ContactRotation) {
			r |= UnitContact
		}
		if strings.EqualFold(u.Backup, address) || inRotation(u.BackupRotation) {
			r |= UnitBackup
		}
		if in(u.Owners) {
			r |= Owner
		}
		for _, a := range u.Assets {
			if in(a.Owners) {
				r |= Owner
			}
		}
	}
	return r
}

// Permissions is who may give each command: one of the roles listed.
// Ack and done are further decided by the call tree (whose step waits for
// whose answer); InTree is checked on the incident.
var Permissions = map[Name]Role{
	LinkRequest: Anyone,
	LinkConfirm: Anyone,
	Unlink:      Anyone,
	Help:        Roster,
	OnCallNow:   Roster,
	Report:      Roster,
	Status:      Roster,
	Note:        Roster,
	Ack:         Roster,
	Done:        Roster,
	Away:        Roster,
	Blocked:     Roster,
	Escalate:    Team | Officer | InTree,
	Event:       Team | Officer,
	Affects:     Team | Officer,
	Close:       Team | Officer,
	Priority:    Team | Officer,
	Assign:      Team | Officer,
	Notify:      Team | Officer,
	Approve:     Team | Officer,
	Actions:     Team | Officer,
	// the unit's people only for their unit's assets (checked on the unit)
	SetAsset: Team | Officer | UnitContact | UnitBackup | Owner,
	Reply:    Team | Officer,
}

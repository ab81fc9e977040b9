package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"tocsin/bot/store"
	"tocsin/config"
)

// open reports whether step s still waits for something: not done, not
// skipped, and (for a step that needs only an ack) not acknowledged.
func open(s store.StepRow) bool {
	switch s.State {
	case store.StepDone, store.StepSkipped:
		return false
	case store.StepAcknowledged:
		return s.Needs == config.NeedsDone
	}
	return true
}

// MoveEvent sets the incident's event time E (a data call issued at
// 09:00, exploitation that began yesterday): every deadline not yet met
// moves with it; met steps keep their times; steps past due after the
// move are escalated at once.
func (e *Engine) MoveEvent(ctx context.Context, incidentID int64, at time.Time, actor, via string) error {
	return e.change(ctx, incidentID, func(tx *store.Tx, tree *store.Tree, pb config.Playbook, now time.Time) (string, string, error) {
		old := tree.Incident.EventAt
		if err := tx.SetEventAt(incidentID, at); err != nil {
			return "", "", err
		}
		tree.Incident.EventAt = at
		moved := 0
		for i, s := range tree.Steps {
			def, ok := stepDef(pb, s.Key)
			if !ok || !open(s) || def.Repeat > 0 && !s.StartedAt.IsZero() {
				continue // a recurring step that has begun keeps its rhythm
			}
			tree.Steps[i].DueAt, tree.Steps[i].NextAt = def.DueFrom(at), now
			if err := tx.UpdateStep(tree.Steps[i]); err != nil {
				return "", "", err
			}
			moved++
		}
		return "event-moved", fmt.Sprintf("E moved from %s to %s via %s; %d open deadlines moved with it", old.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339), via, moved), nil
	}, actor, via)
}

// SetUnits changes the units an incident affects: added units get their
// unit steps (started as their predecessors allow), removed ones have
// their open steps skipped with why, never deleted.
func (e *Engine) SetUnits(ctx context.Context, incidentID int64, add []store.TreeUnit, remove []string, why, actor, via string) error {
	return e.change(ctx, incidentID, func(tx *store.Tx, tree *store.Tree, pb config.Playbook, now time.Time) (string, string, error) {
		restarted := 0
		for _, u := range add {
			if _, ok := e.Config.UnitByID(u.Unit); !ok {
				return "", "", fmt.Errorf("%w %q on the roster", ErrUnknownUnit, u.Unit)
			}
			if u.AddedAt.IsZero() {
				u.AddedAt = now
			}
			removed := slices.ContainsFunc(tree.Units, func(t store.TreeUnit) bool { return t.Unit == u.Unit && t.Removed })
			if err := tx.AddUnit(incidentID, u); err != nil {
				return "", "", err
			}
			for _, row := range Rows(pb, &tree.Incident, []store.TreeUnit{u}, now) {
				if row.Unit == "" {
					continue
				}
				i := slices.IndexFunc(tree.Steps, func(s store.StepRow) bool { return s.Key == row.Key && s.Unit == row.Unit })
				if i < 0 {
					if _, err := tx.AddStep(incidentID, row); err != nil {
						return "", "", err
					}
					continue
				}
				// Added back after its removal: the steps the removal
				// skipped start again, as new (done ones stay done).
				if old := tree.Steps[i]; removed && old.State == store.StepSkipped {
					row.ID = old.ID
					if err := tx.RestartStep(row); err != nil {
						return "", "", err
					}
					restarted++
				}
			}
		}
		for _, unit := range remove {
			if err := tx.RemoveUnit(incidentID, unit, why, now); err != nil {
				return "", "", err
			}
			for _, s := range tree.Steps {
				if s.Unit != unit || s.State == store.StepDone || s.State == store.StepSkipped {
					continue
				}
				s.State, s.Why, s.NextAt = store.StepSkipped, fmt.Sprintf("unit %s removed by %s: %s", unit, actor, why), time.Time{}
				if err := tx.UpdateStep(s); err != nil {
					return "", "", err
				}
			}
		}
		var names []string
		for _, u := range add {
			names = append(names, "+"+u.Unit)
		}
		for _, u := range remove {
			names = append(names, "-"+u)
		}
		detail := fmt.Sprintf("%s via %s: %s", strings.Join(names, " "), via, why)
		if restarted > 0 {
			detail += fmt.Sprintf("; %d skipped steps of the units added back start again", restarted)
		}
		return "units-changed", detail, nil
	}, actor, via)
}

// ErrAlreadyClosed: the incident was closed before; closing it again
// changes nothing and writes no second entry.
var ErrAlreadyClosed = errors.New("the incident is already closed")

// Close closes the incident and ends its tree, if it runs one: every open
// step is skipped (reopening does not restart it). An incident that runs
// no tree (no playbook applied) is closed all the same.
func (e *Engine) Close(ctx context.Context, incidentID int64, actor, via string) error {
	var eff Effects
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		inc, err := tx.Incident(incidentID)
		if err != nil {
			return err
		}
		if inc.Status == "closed" {
			return ErrAlreadyClosed
		}
		now := e.Clock.Now()
		if err := tx.SetStatus(incidentID, "closed", now); err != nil {
			return err
		}
		platform, request, _ := strings.Cut(via, " ")
		// Whether a tree runs; its rows are read again once closed.
		if _, err := tx.Tree(incidentID); errors.Is(err, store.ErrNotFound) {
			return tx.AuditFrom(incidentID, now, actor, "closed", "via "+via+"; no call tree runs", platform, request)
		} else if err != nil {
			return err
		}
		if err := tx.CloseTree(incidentID, now); err != nil {
			return err
		}
		if err := tx.AuditFrom(incidentID, now, actor, "closed", "via "+via+"; the call tree's open steps are skipped", platform, request); err != nil {
			return err
		}
		tree, err := tx.Tree(incidentID) // as closed
		if err != nil {
			return err
		}
		pb, _ := e.Config.PlaybookByName(tree.Playbook)
		eff.Queued, err = e.apply(tx, pb, Decide(pb, *tree, e.Roster, now, token), origin{platform, request})
		return err
	})
	if err == nil {
		e.Flush(ctx, eff)
	}
	return err
}

// change applies f to the incident's tree, audits it, and decides again,
// all in one transaction.
//
// via is "PLATFORM [REQUEST]" ("slack t123", "api"): typed in the entry.
func (e *Engine) change(ctx context.Context, incidentID int64, f func(*store.Tx, *store.Tree, config.Playbook, time.Time) (string, string, error), actor, via string) error {
	var eff Effects
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		tree, err := tx.Tree(incidentID)
		if err != nil {
			return err
		}
		pb, _ := e.Config.PlaybookByName(tree.Playbook)
		now := e.Clock.Now()
		action, detail, err := f(tx, tree, pb, now)
		if err != nil {
			return err
		}
		platform, request, _ := strings.Cut(via, " ")
		if err := tx.AuditFrom(incidentID, now, actor, action, detail, platform, request); err != nil {
			return err
		}
		if tree, err = tx.Tree(incidentID); err != nil { // as changed
			return err
		}
		d := Decide(pb, *tree, e.Roster, now, token)
		eff.Queued, err = e.apply(tx, pb, d, origin{platform, request})
		return err
	})
	if err == nil {
		e.Flush(ctx, eff)
	}
	return err
}

func stepDef(pb config.Playbook, key string) (config.Step, bool) {
	for _, s := range pb.Steps {
		if s.ID == key {
			return s, true
		}
	}
	return config.Step{}, false
}

// ErrUnknownUnit: a unit the roster does not have.
var ErrUnknownUnit = errors.New("no unit")

// ErrCannotEscalate: nothing of the incident can be escalated (no open
// step that waits for an answer, or the last level reached).
var ErrCannotEscalate = errors.New("no open step of this incident can be escalated further")

// ErrNotInTree: the person is not in the incident's call tree.
var ErrNotInTree = errors.New("not in this incident's call tree")

// InTree reports whether person is in the incident's tree: told on any of
// its steps (also by escalation, or answering for their unit), or the
// contact, backup or an owner of a unit it affects.
func InTree(tree *store.Tree, r Roster, person string, now time.Time) bool {
	person = strings.ToLower(person)
	for _, s := range tree.Steps {
		for _, p := range s.People {
			if p.Person == person {
				return true
			}
		}
	}
	for _, u := range tree.Units {
		if u.Removed {
			continue
		}
		if slices.ContainsFunc(u.Owners, func(o string) bool { return strings.EqualFold(o, person) }) {
			return true
		}
		contact, backup := r.UnitContacts(u.Unit, now)
		if strings.EqualFold(contact, person) || strings.EqualFold(backup, person) {
			return true
		}
		if unit, ok := r.Unit(u.Unit); ok && (strings.EqualFold(unit.Contact, person) || strings.EqualFold(unit.Backup, person) ||
			slices.ContainsFunc(unit.Owners, func(o string) bool { return strings.EqualFold(o, person) })) {
			return true
		}
	}
	return false
}

// Escalate takes the incident's open steps that wait for an answer (the
// one of the caller's, when they are told of one) to their next level
// now, before their deadline. toOfficers says whether the caller may
// reach the officers' level.
//
// Only the team and officers (toOfficers) may escalate any incident;
// anyone else only one whose tree they are in (ErrNotInTree otherwise):
// escalating pages people, up to the officers.
func (e *Engine) Escalate(ctx context.Context, incidentID int64, why, actor, via string, toOfficers bool) error {
	return e.change(ctx, incidentID, func(tx *store.Tx, tree *store.Tree, pb config.Playbook, now time.Time) (string, string, error) {
		if !toOfficers && !InTree(tree, e.Roster, actor, now) {
			return "", "", ErrNotInTree
		}
		var mine, all []int
		for i, s := range tree.Steps {
			def, ok := stepDef(pb, s.Key)
			if !ok || s.StartedAt.IsZero() || !open(s) || s.Needs == config.NeedsNone || s.Level >= len(def.Escalate) {
				continue
			}
			if !toOfficers && def.Escalate[s.Level] == config.EscalateOfficers {
				continue
			}
			all = append(all, i)
			for _, p := range s.People {
				if p.Person == actor {
					mine = append(mine, i)
				}
			}
		}
		pick := all
		if len(mine) > 0 {
			pick = mine
		}
		if len(pick) == 0 {
			return "", "", ErrCannotEscalate
		}
		var names []string
		for _, i := range pick {
			s := &tree.Steps[i]
			s.ForcedLevel, s.NextAt = s.Level+1, now
			if err := tx.UpdateStep(*s); err != nil {
				return "", "", err
			}
			names = append(names, s.Key+map[bool]string{true: " [" + s.Unit + "]", false: ""}[s.Unit != ""])
		}
		return "escalated", fmt.Sprintf("%s via %s: %s", strings.Join(names, ", "), via, why), nil
	}, actor, via)
}

package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/templates"
)

// Verbs a person answers a step with.
const (
	VerbAck  = "ack"
	VerbDone = "done"
	// VerbAway is no answer: evidence that the person is away (an
	// auto-reply of theirs to a call-tree mail). Their open steps escalate
	// at once instead of at the deadline.
	VerbAway = "away"
)

// ErrNothingToAnswer: the person has no open step on the incident that
// their answer could count for.
var ErrNothingToAnswer = errors.New("no open step waits for an answer from this person")

// Answered is what an answer changed.
type Answered struct {
	Step    int                // index into the tree's steps
	Touched []int              // every step the answer changed (away: all of the person's)
	Title   string             // of the step
	Name    templates.StepName // of the step, for a form
	State   string             // the step's state after the answer
	Behalf  bool               // a unit contact answered for their owners
	// For are whom the step told, when the answer was taken for them: a
	// team member taking the team's step ("taken by Tara for Theo").
	For []string
}

// Roles of a step's people besides its audience and escalations: who
// answered it without being told.
const (
	RoleContact = "contact" // the unit contact, for the unit's owners
	RoleTaken   = "taken"   // a team member, taking the team's step
)

// Answer records person's verb (done implies ack) on a step of tree:
// stepID's when not 0 (the step whose token the answer quoted), else the
// most recently started open step they were told of, or may answer
// without being told: for a unit contact, their unit's owners steps (a
// contact answers for their roster); for a team member, the team's steps
// (any member may take the team's step for whoever it told). Whose answer
// counts: on a step for one person, that person, anyone it escalated to,
// or (a team step) any team member; on a group step (owners), each
// person's own, and the step is met when all have answered, or when
// someone it escalated to, or the unit contact, answers for it.
func Answer(pb config.Playbook, tree *store.Tree, r Roster, stepID int64, person, verb, note, via string, now time.Time) (Answered, error) {
	person = strings.ToLower(person)
	if verb == VerbAway {
		return away(tree, person, note, via, now)
	}
	if verb == VerbBlocked {
		return block(tree, r, stepID, person, note, now)
	}
	if verb != VerbAck && verb != VerbDone {
		return Answered{}, fmt.Errorf("unknown answer %q (ack, done)", verb)
	}
	defs := map[string]config.Step{}
	for _, s := range pb.Steps {
		defs[s.ID] = s
	}
	// A step takes verb only while it waits for it: not met, and not
	// already given by this person (a reference counts once for each
	// verb, so a replayed or spoofed answer quoting it moves nothing).
	waits := func(s store.StepRow) bool {
		return !s.StartedAt.IsZero() && open(s) && !(s.State == store.StepAcknowledged && verb == VerbAck)
	}
	pick, role := -1, ""
	for i, s := range tree.Steps {
		if stepID != 0 && s.ID != stepID {
			continue
		}
		if !waits(s) || s.Needs == config.NeedsNone {
			continue
		}
		mine, given := false, false
		for _, p := range s.People {
			if p.Person == person {
				mine = true
				given = given || gave(p, verb, s.Needs)
			}
		}
		if given && (s.Blocked == nil || s.Blocked.By != person) { // the blocked person's answer clears it
			continue
		}
		how := ""
		switch {
		case mine:
		case s.Audience == config.AudienceOwners:
			if c, _ := r.UnitContacts(s.Unit, now); strings.EqualFold(c, person) {
				how = RoleContact
			}
		case s.Audience == config.AudienceTeam && r.TeamMember(person):
			how = RoleTaken
		}
		if !mine && how == "" {
			continue
		}
		if pick < 0 || s.StartedAt.After(tree.Steps[pick].StartedAt) || (s.StartedAt.Equal(tree.Steps[pick].StartedAt) && s.Position > tree.Steps[pick].Position) {
			pick, role = i, how
		}
	}
	if pick < 0 {
		return Answered{}, ErrNothingToAnswer
	}
	behalf := role == RoleContact
	s := &tree.Steps[pick]
	def := defs[s.Key]
	found := false
	for j := range s.People {
		p := &s.People[j]
		if p.Person != person {
			continue
		}
		found = true
		if p.AckedAt.IsZero() {
			p.AckedAt = now
		}
		if verb == VerbDone && p.DoneAt.IsZero() {
			p.DoneAt = now
		}
		p.Via, p.Note = via, note
	}
	var taken []string
	if role == RoleTaken {
		for _, p := range s.People {
			if p.Role == "audience" {
				taken = append(taken, p.Person)
			}
		}
	}
	if !found {
		// The unit contact answering for the owners, or a team member
		// taking the team's step: recorded as theirs, in their role.
		p := store.StepPerson{Person: person, Role: role, NotifiedAt: now, AckedAt: now, Via: via, Note: note, Token: ""}
		if verb == VerbDone {
			p.DoneAt = now
		}
		s.People = append(s.People, p)
	}
	// Is the step met?
	allAcked, allDone, escalatedAnswered := true, true, false
	for _, p := range s.People {
		switch p.Role {
		case "audience":
			allAcked = allAcked && !p.AckedAt.IsZero()
			allDone = allDone && !p.DoneAt.IsZero()
		default: // escalation, contact, taken
			if p.Person == person {
				escalatedAnswered = true
			}
		}
	}
	if s.AckedAt.IsZero() {
		s.AckedAt = now
	}
	switch {
	case verb == VerbDone && (allDone || escalatedAnswered || behalf || def.Needs == config.NeedsAck && (allAcked || escalatedAnswered)):
		s.State, s.DoneAt = store.StepDone, now
	case allAcked || escalatedAnswered || behalf:
		s.State = store.StepAcknowledged
	}
	unblock(s, person)
	s.NextAt = now // the engine looks again: successors may start
	return Answered{Step: pick, Touched: []int{pick}, Title: s.Title, Name: stepName(*s), State: s.State, Behalf: behalf, For: taken}, nil
}

// gave reports whether p already gave verb on a step that needs needs:
// done implies ack, and on a step that needs only an ack, done is one.
func gave(p store.StepPerson, verb, needs string) bool {
	if verb == VerbDone && needs == config.NeedsDone {
		return !p.DoneAt.IsZero()
	}
	return !p.AckedAt.IsZero()
}

// away marks person away on every open step they were told of and have
// not answered; the engine then escalates those steps at once. It returns
// the most recent such step.
func away(tree *store.Tree, person, note, via string, now time.Time) (Answered, error) {
	pick, touched := -1, []int{}
	for i := range tree.Steps {
		s := &tree.Steps[i]
		if s.StartedAt.IsZero() || !open(*s) {
			continue
		}
		for j := range s.People {
			p := &s.People[j]
			if p.Person == person && p.AckedAt.IsZero() && p.DoneAt.IsZero() {
				if p.AwayAt.IsZero() {
					p.AwayAt = now
				}
				p.Note = via + ": " + note
				s.NextAt = now
				touched = append(touched, i)
				if pick < 0 || s.StartedAt.After(tree.Steps[pick].StartedAt) {
					pick = i
				}
			}
		}
	}
	if pick < 0 {
		return Answered{}, ErrNothingToAnswer
	}
	return Answered{Step: pick, Touched: touched, Title: tree.Steps[pick].Title, Name: stepName(tree.Steps[pick]), State: tree.Steps[pick].State}, nil
}

// Package engine runs call trees. Decide is a pure function: from a
// playbook, an incident's tree as stored, the roster and the time, it
// returns the tree as it must be now and the messages that moving it
// there sends. The Engine applies a decision in one transaction with the
// messages' outbox rows, each under an idempotency key, so
// deciding twice changes nothing and a restart resumes a tree exactly.
// Deadlines, reminders and escalations are rows with a due time
// (StepRow.NextAt), never goroutines.
package engine

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"tocsin/bot/store"
	"tocsin/config"
)

// Roster is what the engine asks of the roster (bot/roster.Roster).
type Roster interface {
	TeamOnCall(t time.Time) (primary, secondary string)
	Officers() []string
	CIO() string
	// Authorities are the external contacts' addresses that status
	// reports are drafted to.
	Authorities() []string
	Unit(id string) (config.Unit, bool)
	UnitContacts(id string, t time.Time) (contact, backup string)
	// TeamMember: address is on the response team (any member may take
	// the team's step).
	TeamMember(address string) bool
	RegionContacts(reporter, lang string) []string
	Person(address string) (config.Person, bool)
}

// Message kinds.
const (
	MsgAlert      = "alert"      // a step's audience told
	MsgMethod     = "method"     // a later contact method for someone who has not answered
	MsgReminder   = "reminder"   // before the deadline, to who has not answered
	MsgEscalation = "escalation" // the deadline passed: the next level told
	MsgUpdate     = "update"     // a recurring step's round
)

// Message is one notification a decision sends: to one person, by one
// contact method.
type Message struct {
	Key    string // idempotency key of the effect
	Kind   string
	Step   int // index into Tree.Steps
	Person string
	Via    string // config.ViaEmail, ...
	Token  string // the person's reply token on the step
	// Missing are, for an escalation, who had not answered.
	Missing []string
}

// Event is one change the decision made, for the audit log.
type Event struct {
	Step   int
	Action string // started, reminded, escalated, overdue, skipped, done
	Detail string
}

// Decision is what Decide returns.
type Decision struct {
	after    map[string][]string      // each step's predecessors, by step id
	due      map[string]time.Duration // each step's offset from E, by step id
	told     map[int]map[string]bool  // who each step told, by step index
	Tree     store.Tree
	Changed  []int            // indexes of the steps whose row changed
	Added    map[int][]string // people added to a step (by step index)
	Messages []Message
	Events   []Event
}

// Decide moves tree to now. newToken makes a reply token for a person
// added to a step.
func Decide(pb config.Playbook, tree store.Tree, r Roster, now time.Time, newToken func() string) Decision {
	d := Decision{Tree: tree, Added: map[int][]string{}}
	d.Tree.Steps = slices.Clone(tree.Steps)
	for i := range d.Tree.Steps {
		d.Tree.Steps[i].People = slices.Clone(d.Tree.Steps[i].People)
	}
	defs := map[string]config.Step{}
	d.after, d.due = map[string][]string{}, map[string]time.Duration{}
	for _, s := range pb.Steps {
		defs[s.ID] = s
		d.after[s.ID] = s.After
		d.due[s.ID] = s.Due
	}
	// Steps are in playbook order: a start here can satisfy a later
	// step's predecessor in the same pass.
	for i := range d.Tree.Steps {
		s := &d.Tree.Steps[i]
		def, ok := defs[s.Key]
		before := *s
		before.People = nil
		switch {
		case s.State == store.StepDone || s.State == store.StepSkipped:
			s.NextAt = time.Time{}
		case !ok:
			s.State, s.Why, s.NextAt = store.StepSkipped, "the playbook has no step "+s.Key+" any more", time.Time{}
			d.Events = append(d.Events, Event{i, "skipped", s.Why})
		case tree.Closed && s.State == store.StepAcknowledged && s.Needs != config.NeedsDone:
			s.NextAt = time.Time{} // met before the close: it keeps its state
		case tree.Closed:
			s.State, s.Why, s.NextAt = store.StepSkipped, "incident closed", time.Time{}
			d.Events = append(d.Events, Event{i, "skipped", s.Why})
		default:
			d.advance(i, def, r, now, newToken)
		}
		after := *s
		after.People = nil
		if !reflect.DeepEqual(before, after) {
			d.Changed = append(d.Changed, i)
		}
	}
	return d
}

// advance moves step i, which is neither done nor skipped, to now.
func (d *Decision) advance(i int, def config.Step, r Roster, now time.Time, newToken func() string) {
	s := &d.Tree.Steps[i]
	if def.Repeat > 0 {
		d.repeat(i, def, r, now, newToken)
		return
	}
	started := !s.StartedAt.IsZero()
	if !started {
		ready := d.predecessorsMet(i, def)
		preliminary := !ready && def.Preliminary && !now.Before(s.DueAt)
		if !ready && !(def.Needs == config.NeedsNone && !now.Before(s.DueAt)) && !preliminary {
			// Waits for its predecessors, which escalate themselves. Past
			// its own deadline it shows as overdue.
			if !now.Before(s.DueAt) && s.State != store.StepOverdue {
				s.State = store.StepOverdue
				d.Events = append(d.Events, Event{i, "overdue", "deadline passed while waiting for " + strings.Join(def.After, ", ")})
			}
			s.NextAt = time.Time{} // a predecessor's change wakes it
			if now.Before(s.DueAt) {
				s.NextAt = s.DueAt
			}
			return
		}
		people := d.audience(i, r, now)
		s.StartedAt = now
		if len(people) == 0 {
			s.State, s.Why, s.DoneAt, s.NextAt = store.StepSkipped, "nobody to tell: the roster names nobody for "+s.Audience, now, time.Time{}
			if s.Audience == config.AudienceAuthorities {
				s.Why = "nobody to tell: no external contact is marked status_report"
			}
			d.Events = append(d.Events, Event{i, "skipped", s.Why})
			return
		}
		s.State = store.StepNotified
		if preliminary {
			// Out at its deadline without what it waited for: its
			// audience gets the time it would have had after them.
			s.Why, s.DueAt = PreliminaryWhy, now.Add(d.gapAfter(def))
			d.Events = append(d.Events, Event{i, "preliminary", "its deadline came while it waited for " + strings.Join(def.After, ", ") + ": sent as preliminary"})
		}
		for _, p := range people {
			d.addPerson(i, p, "audience", 0, now, newToken)
		}
		told := "told "
		if s.Audience == config.AudienceAuthorities {
			told = "drafted for approval to "
		}
		d.Events = append(d.Events, Event{i, "started", told + strings.Join(people, ", ") + dueWord(s.DueAt, def.Needs)})
		d.sendMethods(i, r, now)
		if s.Audience == config.AudienceAuthorities {
			// Drafted, not sent: done once a second person approves
			// (Engine.Approve).
			s.State, s.NextAt = store.StepAwaitingApproval, time.Time{}
			return
		}
		if def.Needs == config.NeedsNone {
			s.State, s.DoneAt = store.StepDone, now
			s.NextAt = time.Time{}
			return
		}
	}
	// Later contact methods for whoever has not answered.
	d.sendMethods(i, r, now)
	met := stepMet(*s, def)
	if met {
		s.NextAt = time.Time{}
		return
	}
	// Reminders before the deadline, to who has not answered: an ack
	// stops them (the person's own, or the step's: taken, or acked for
	// the group), not the deadline.
	for s.RemindersSent < len(def.Reminders) {
		at := s.DueAt.Add(-def.Reminders[s.RemindersSent])
		if now.Before(at) {
			break
		}
		if now.Before(s.DueAt) && s.State != store.StepAcknowledged {
			for _, p := range s.People {
				if p.AckedAt.IsZero() && !answered(p, def) {
					d.Messages = append(d.Messages, Message{Key: fmt.Sprintf("remind:%s:%d:%s", roundKey(*s), s.RemindersSent, p.Person), Kind: MsgReminder, Step: i, Person: p.Person, Via: config.ViaEmail, Token: p.Token})
				}
			}
			d.Events = append(d.Events, Event{i, "reminded", "reminder " + fmt.Sprint(s.RemindersSent+1) + " before the deadline"})
		}
		s.RemindersSent++
	}
	// Escalation: at the deadline, then every interval up the chain. A
	// step that starts past its deadline (its predecessors were late, or
	// E moved back) escalates at once: the deadline has passed.
	deadline := s.DueAt
	if everyoneAway(*s) && now.Before(deadline) {
		deadline = now // nobody there to answer: the next level now
	}
	// A level that told nobody new (its people were told already, or the
	// roster names nobody there) is no wait: the chain climbs on at once,
	// so that someone new is told; a person's early escalation so, short of
	// the officers (only the team may call them early: Engine.Escalate).
	climb := false
	for s.Level < len(def.Escalate) {
		if s.Level >= s.ForcedLevel && !climb && now.Before(nextEscalation(*s, deadline, def.Every)) {
			break
		}
		s.Level++
		target := def.Escalate[s.Level-1]
		to := d.escalationTargets(i, target, r, now)
		missing := d.missing(i, def)
		// Overdue only once the deadline passed: a person who escalates
		// early (or an away reply, whose deadline is now) moves the level,
		// and the step shows late when it is.
		if !now.Before(s.DueAt) && (s.State != store.StepAcknowledged || def.Needs == config.NeedsDone) {
			s.State = store.StepOverdue
		}
		var told []string
		for _, p := range to {
			if d.hasPerson(i, p) {
				continue // already told: an escalation never tells twice
			}
			d.addPerson(i, p, "escalation", s.Level, now, newToken)
			told = append(told, p)
		}
		for _, p := range told {
			tok := d.tokenOf(i, p)
			d.Messages = append(d.Messages, Message{Key: fmt.Sprintf("escalate:%s:%d:%s", roundKey(*s), s.Level, p), Kind: MsgEscalation, Step: i, Person: p, Via: config.ViaEmail, Token: tok, Missing: missing})
		}
		d.sendMethods(i, r, now)
		detail := fmt.Sprintf("level %d (%s): ", s.Level, target)
		climb = len(told) == 0 && (!now.Before(deadline) ||
			s.Level == s.ForcedLevel && s.Level < len(def.Escalate) && def.Escalate[s.Level] != config.EscalateOfficers)
		if len(told) == 0 {
			detail += "nobody new to tell"
		} else {
			detail += "told " + strings.Join(told, ", ")
		}
		d.Events = append(d.Events, Event{i, "escalated", detail + "; no answer from " + orNone(missing)})
	}
	if !now.Before(s.DueAt) && s.State != store.StepOverdue && (s.State != store.StepAcknowledged || def.Needs == config.NeedsDone) {
		s.State = store.StepOverdue
		d.Events = append(d.Events, Event{i, "overdue", "deadline passed"})
	}
	s.NextAt = d.nextAt(i, def, deadline, r, now)
}

// repeat moves a recurring step: at each deadline (once its predecessors
// are met) its audience is told again, and the next deadline is one
// Repeat later; after a jump of the clock, one round, not every missed
// one. Rounds are counted in RemindersSent (a recurring step has no
// reminders).
func (d *Decision) repeat(i int, def config.Step, r Roster, now time.Time, newToken func() string) {
	s := &d.Tree.Steps[i]
	if !d.predecessorsMet(i, def) || now.Before(s.DueAt) {
		s.NextAt = s.DueAt
		return
	}
	people := d.audience(i, r, now)
	if len(people) == 0 {
		s.State, s.Why, s.NextAt = store.StepSkipped, "nobody to tell: the roster names nobody for "+s.Audience, time.Time{}
		d.Events = append(d.Events, Event{i, "skipped", s.Why})
		return
	}
	if s.StartedAt.IsZero() {
		s.StartedAt, s.State = now, store.StepNotified
	}
	for _, p := range people {
		d.addPerson(i, p, "audience", 0, now, newToken)
		d.Messages = append(d.Messages, Message{Key: fmt.Sprintf("round:%s:%d:%s", roundKey(*s), s.RemindersSent, strings.ToLower(p)), Kind: MsgUpdate, Step: i,
			Person: strings.ToLower(p), Via: config.ViaEmail})
	}
	s.RemindersSent++
	for !s.DueAt.After(now) {
		s.DueAt = s.DueAt.Add(def.Repeat)
	}
	s.NextAt = s.DueAt
	d.Events = append(d.Events, Event{i, "repeated", fmt.Sprintf("round %d: told %s; next %s", s.RemindersSent, strings.Join(people, ", "), s.DueAt.UTC().Format(time.RFC3339))})
}

// nextAt is when the step needs the engine again: its next reminder, its
// next escalation, or someone's next contact method.
func (d *Decision) nextAt(i int, def config.Step, deadline time.Time, r Roster, now time.Time) time.Time {
	s := &d.Tree.Steps[i]
	var next time.Time
	consider := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if s.RemindersSent < len(def.Reminders) {
		consider(s.DueAt.Add(-def.Reminders[s.RemindersSent]))
	}
	if s.Level < len(def.Escalate) {
		consider(nextEscalation(*s, deadline, def.Every))
	}
	if s.State != store.StepOverdue && now.Before(s.DueAt) {
		consider(s.DueAt) // to mark it overdue (also after an early escalation or an away reply)
	}
	for _, p := range s.People {
		// As sendMethods sends (a time it would not act at would wake the
		// step forever).
		if !methodsWait(*s, p) {
			continue
		}
		methods := contactMethods(r, p.Person)
		if p.MethodsSent < len(methods) {
			consider(p.NotifiedAt.Add(methods[p.MethodsSent].After))
		}
	}
	return next
}

// everyoneAway: every person the step told as its audience is known to
// be away (and nobody escalated to has answered).
func everyoneAway(s store.StepRow) bool {
	n := 0
	for _, p := range s.People {
		if p.Role != "audience" {
			continue
		}
		if p.AwayAt.IsZero() || !p.AckedAt.IsZero() {
			return false
		}
		n++
	}
	return n > 0
}

// nextEscalation is when step s escalates to its next level: at the
// deadline, then one interval after the last level was told (so that a
// step found far past its deadline, after E moved or the clock jumped,
// climbs the chain one level at a time, not all at once).
func nextEscalation(s store.StepRow, deadline time.Time, every time.Duration) time.Time {
	if s.Level == 0 {
		return deadline
	}
	at := deadline.Add(time.Duration(s.Level) * every)
	for _, p := range s.People {
		if p.Role == "escalation" && p.Level == s.Level && p.NotifiedAt.Add(every).After(at) {
			at = p.NotifiedAt.Add(every)
		}
	}
	return at
}

// sendMethods sends each person of step i who has not answered every
// contact method whose delay has passed. An escalation's e-mail is sent
// by the escalation itself (it says who is missing).
func (d *Decision) sendMethods(i int, r Roster, now time.Time) {
	s := &d.Tree.Steps[i]
	for j := range s.People {
		p := &s.People[j]
		if !methodsWait(*s, *p) {
			continue
		}
		methods := contactMethods(r, p.Person)
		for p.MethodsSent < len(methods) && !now.Before(p.NotifiedAt.Add(methods[p.MethodsSent].After)) {
			m := methods[p.MethodsSent]
			kind := MsgMethod
			switch {
			case p.Role == "escalation":
				kind = MsgEscalation
			case m.After == 0:
				kind = MsgAlert
			}
			if !(p.Role == "escalation" && m.Via == config.ViaEmail) {
				d.Messages = append(d.Messages, Message{Key: fmt.Sprintf("tell:%s:%s:%d:%s", roundKey(*s), p.Person, p.MethodsSent, m.Via), Kind: kind, Step: i, Person: p.Person, Via: m.Via, Token: p.Token})
			}
			p.MethodsSent++
		}
	}
}

// methodsWait: p of step s still gets their later contact methods: not
// after their own answer (an ack too), nor, for the step's audience, once
// someone acknowledged the step for them (a team member took it, the
// unit contact answered for the owners). Whom it escalated to are still
// reached.
func methodsWait(s store.StepRow, p store.StepPerson) bool {
	if !p.AckedAt.IsZero() || !p.DoneAt.IsZero() {
		return false
	}
	return s.State != store.StepAcknowledged || p.Role != "audience"
}

// contactMethods are how a person is reached, in order of their delays;
// someone not on the roster (an address typed in config only) by e-mail.
func contactMethods(r Roster, person string) []config.ContactMethod {
	p, ok := r.Person(person)
	if !ok || len(p.Contact) == 0 {
		return []config.ContactMethod{{Via: config.ViaEmail}}
	}
	ms := slices.Clone(p.Contact)
	slices.SortStableFunc(ms, func(a, b config.ContactMethod) int { return int(a.After - b.After) })
	return ms
}

func (d *Decision) addPerson(i int, person, role string, level int, now time.Time, newToken func() string) {
	person = strings.ToLower(person)
	if d.hasPerson(i, person) {
		return
	}
	s := &d.Tree.Steps[i]
	s.People = append(s.People, store.StepPerson{Person: person, Role: role, Level: level, NotifiedAt: now, Token: newToken()})
	d.told[i][person] = true
	d.Added[i] = append(d.Added[i], person)
}

func (d *Decision) hasPerson(i int, person string) bool {
	if d.told == nil {
		d.told = map[int]map[string]bool{}
	}
	set, ok := d.told[i]
	if !ok {
		set = map[string]bool{}
		for _, p := range d.Tree.Steps[i].People {
			set[strings.ToLower(p.Person)] = true
		}
		d.told[i] = set
	}
	return set[strings.ToLower(person)]
}

func (d *Decision) tokenOf(i int, person string) string {
	for _, p := range d.Tree.Steps[i].People {
		if strings.EqualFold(p.Person, person) {
			return p.Token
		}
	}
	return ""
}

// missing lists the audience of step i that has not answered as def needs.
func (d *Decision) missing(i int, def config.Step) []string {
	var out []string
	for _, p := range d.Tree.Steps[i].People {
		if p.Role == "audience" && !answered(p, def) {
			out = append(out, p.Person)
		}
	}
	return out
}

// answered: p has given what def needs (done implies ack). For a step
// that needs done, an ack alone is not an answer to the deadline
// (forgotten acknowledgements are escalated like silence), but it stops
// reminders (advance) and later contact methods (sendMethods).
func answered(p store.StepPerson, def config.Step) bool {
	if def.Needs == config.NeedsDone {
		return !p.DoneAt.IsZero()
	}
	return !p.AckedAt.IsZero() || !p.DoneAt.IsZero()
}

// stepMet: the step has what it needs. A step for one person (or one
// escalated) needs that person or whoever it escalated to; a group step
// (owners) needs each of its audience, unless the step was marked done on
// their behalf.
func stepMet(s store.StepRow, def config.Step) bool {
	switch def.Needs {
	case config.NeedsNone:
		return true
	case config.NeedsDone:
		return s.State == store.StepDone
	}
	return s.State == store.StepAcknowledged || s.State == store.StepDone
}

// PreliminaryWhy is the Why of a step started as preliminary.
const PreliminaryWhy = "preliminary: sent at its deadline before what it waits for"

// gapAfter is the time def's step has after its latest predecessor's
// deadline (its own offset when it has none before it).
func (d *Decision) gapAfter(def config.Step) time.Duration {
	latest := time.Duration(0)
	for _, p := range def.After {
		latest = max(latest, d.due[p])
	}
	if gap := def.Due - latest; gap > 0 {
		return gap
	}
	return def.Due
}

// predecessorsMet: every step def waits for is met: the same unit's row
// for a unit step after a unit step, all units' rows (the roll-up) for a
// team step after a unit step. A skipped step counts as met once its own
// predecessors are: skipping the unit steps of an incident with no unit
// does not let the team's validation jump ahead of the team's alert.
func (d *Decision) predecessorsMet(i int, def config.Step) bool {
	return d.predecessorsMetDepth(i, def.After, 0)
}

func (d *Decision) predecessorsMetDepth(i int, after []string, depth int) bool {
	if depth > len(d.Tree.Steps) {
		return false // a cycle: config forbids it (after names earlier steps only)
	}
	s := d.Tree.Steps[i]
	for _, key := range after {
		for j, p := range d.Tree.Steps {
			if p.Key != key || (s.Unit != "" && p.Unit != "" && p.Unit != s.Unit) {
				continue
			}
			switch p.State {
			case store.StepDone:
			case store.StepSkipped:
				if !d.predecessorsMetDepth(j, d.after[p.Key], depth+1) {
					return false
				}
			case store.StepAcknowledged:
				if p.Needs == config.NeedsDone {
					return false
				}
			default:
				if p.Needs != config.NeedsNone || p.StartedAt.IsZero() {
					return false
				}
			}
		}
	}
	return true
}

// audience resolves who step i tells, now.
func (d *Decision) audience(i int, r Roster, now time.Time) []string {
	s := d.Tree.Steps[i]
	inc := d.Tree.Incident
	switch s.Audience {
	case config.AudienceTeam:
		p, _ := r.TeamOnCall(now)
		return nonEmpty(p)
	case config.AudienceUnits:
		contact, _ := r.UnitContacts(s.Unit, now)
		return nonEmpty(contact)
	case config.AudienceOwners:
		for _, u := range d.Tree.Units {
			if u.Unit == s.Unit && len(u.Owners) > 0 {
				return u.Owners
			}
		}
		if u, ok := r.Unit(s.Unit); ok {
			if len(u.Owners) > 0 {
				return u.Owners
			}
			contact, _ := r.UnitContacts(s.Unit, now)
			return nonEmpty(contact) // a unit without owners: its contact implements
		}
	case config.AudienceRegion:
		return r.RegionContacts(inc.Reporter, inc.Language)
	case config.AudienceOfficers:
		return r.Officers()
	case config.AudienceCIO:
		return nonEmpty(r.CIO())
	case config.AudienceReporter:
		return nonEmpty(inc.Reporter)
	case config.AudienceAuthorities:
		return r.Authorities()
	}
	return nil
}

// escalationTargets resolves an escalation level for step i.
func (d *Decision) escalationTargets(i int, target string, r Roster, now time.Time) []string {
	s := d.Tree.Steps[i]
	contact, backup := r.UnitContacts(s.Unit, now)
	switch target {
	case config.EscalateBackup:
		if backup != "" {
			return []string{strings.ToLower(backup)}
		}
		p, _ := r.TeamOnCall(now) // no backup: the level above
		return nonEmpty(p)
	case config.EscalateContact:
		return nonEmpty(contact)
	case config.EscalateSecondary:
		_, sec := r.TeamOnCall(now)
		return nonEmpty(sec)
	case config.EscalateTeam:
		p, _ := r.TeamOnCall(now)
		return nonEmpty(p)
	case config.EscalateOfficers:
		return r.Officers()
	}
	return nil
}

// roundKey names step s in its messages' keys: its id, and the round
// after a restart (the first round's keys stay as they were).
func roundKey(s store.StepRow) string {
	if s.Round == 0 {
		return fmt.Sprint(s.ID)
	}
	return fmt.Sprintf("%d.r%d", s.ID, s.Round)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{strings.ToLower(s)}
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "nobody"
	}
	return strings.Join(list, ", ")
}

func dueWord(due time.Time, needs string) string {
	switch needs {
	case config.NeedsAck:
		return "; acknowledgement due " + due.UTC().Format(time.RFC3339)
	case config.NeedsDone:
		return "; completion due " + due.UTC().Format(time.RFC3339)
	}
	return ""
}

package act

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"tocsin/bot/engine"
	"tocsin/bot/notify"
	"tocsin/bot/store"
	"tocsin/config"
)

// answer counts an ack or done for the actor's step, in a transaction
// of its own.
func (d *Desk) answer(ctx context.Context, k *call) (Result, error) {
	var res Result
	var eff engine.Effects
	err := d.Store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		res, eff, err = d.answerTx(tx, k)
		return err
	})
	if err != nil {
		return nil, err
	}
	d.Engine.Flush(ctx, eff)
	return res, nil
}

// answerTx counts an answer (ack, done, away) in tx: the quoted step's
// (Command.Step) or the actor's most recent open one. One that counts for
// nothing is audited.
func (d *Desk) answerTx(tx *store.Tx, k *call) (Result, engine.Effects, error) {
	verb := string(k.cmd.Name)
	if k.cmd.Name == Done && k.cmd.Text != "" {
		if tree, err := tx.Tree(k.inc.ID); err == nil {
			if assets, note := assetWords(tree, k.cmd.Text); len(assets) > 0 {
				return d.assetsDone(tx, k, assets, note)
			}
		}
	}
	res, eff, err := d.Engine.ActTx(tx, engine.Command{Incident: k.inc.ID, StepID: k.cmd.Step, Person: k.who, Verb: verb, Note: k.cmd.Text, Via: k.via,
		Platform: k.Platform, RequestID: k.RequestID})
	if errors.Is(err, engine.ErrNothingToAnswer) || errors.Is(err, store.ErrNotFound) {
		detail := fmt.Sprintf("/%s via %s: no open step of %s waits for an answer from them", verb, k.via, k.inc.Ref)
		if k.Platform == "email" {
			detail = fmt.Sprintf("%q by %s (%s): no open step of %s waits for this answer from them (a reference counts once for each verb, while its step waits for it)", verb, k.who, k.via, k.inc.Ref)
		}
		if err := tx.AuditFrom(k.inc.ID, k.now, k.who, "answer-not-counted", detail, k.Platform, k.RequestID); err != nil {
			return nil, eff, err
		}
		return k.refuse(NothingToAnswer), eff, nil
	}
	if err != nil {
		return nil, eff, err
	}
	var names []string
	for _, a := range res.For {
		if p, ok := d.Config.PersonByEmail(a); ok && p.Name != "" {
			a = p.Name
		}
		names = append(names, a)
	}
	out := Answered{Incident: k.inc.Ref, Verb: verb, Step: res.Title, StepName: res.Name, State: res.State, By: k.name(), For: names}
	if k.cmd.Name == Done {
		if tree, err := tx.Tree(k.inc.ID); err == nil && res.Step < len(tree.Steps) && tree.Steps[res.Step].Unit != "" {
			out.OpenAssets = tree.OpenAssets(tree.Steps[res.Step].Unit)
		}
	}
	return out, eff, nil
}

// DoTx carries out an answer (ack, done, away) or the team's actions in
// the caller's transaction: a mail answer counts in the transaction that
// files its message. The caller flushes the effects after the commit. Another
// command is ErrNotInTx.
func (d *Desk) DoTx(tx *store.Tx, a Actor, c Command) (Result, engine.Effects, error) {
	switch c.Name {
	case Ack, Done, Away, Actions, Blocked:
	default:
		return nil, engine.Effects{}, fmt.Errorf("%w: %s", ErrNotInTx, c.Name)
	}
	k := &call{Actor: a, cmd: c, now: d.Clock.Now(), via: a.Via}
	if k.via == "" {
		k.via = strings.TrimSpace(a.Platform + " " + a.RequestID)
	}
	p, ok := d.Config.PersonByEmail(a.Person)
	if !ok {
		return k.refuse(NotOnRoster), engine.Effects{}, nil
	}
	k.person, k.who = p, strings.ToLower(p.Email)
	k.roles = RolesOf(d.Config, k.who)
	inc, err := tx.IncidentByRef(c.Incident)
	if errors.Is(err, store.ErrNotFound) {
		r := k.refuse(NoSuchIncident)
		r.Arg = c.Incident
		return r, engine.Effects{}, nil
	}
	if err != nil {
		return nil, engine.Effects{}, err
	}
	k.inc = inc
	if c.Name == Actions {
		return d.actionsInTx(tx, k)
	}
	return d.answerTx(tx, k)
}

// ErrNotInTx: the command cannot run in a caller's transaction.
var ErrNotInTx = errors.New("this command runs in a transaction of its own")

// status is the incident, its tree's progress and the drafts waiting.
func (d *Desk) status(ctx context.Context, k *call) (Result, error) {
	inc := k.inc
	s := IncidentStatus{Incident: inc.Ref, Priority: inc.Priority, Status: inc.Status, Category: inc.Category, Subject: inc.Subject}
	if tr, err := d.Store.Tree(ctx, inc.ID); err == nil && d.Progress != nil {
		s.Progress = d.Progress(tr)
	}
	s.Waiting = d.waiting(ctx, inc)
	return s, nil
}

// note adds the text to the incident's log.
func (d *Desk) note(ctx context.Context, k *call) (Result, error) {
	err := d.Store.Tx(ctx, func(tx *store.Tx) error {
		return tx.AuditFrom(k.inc.ID, k.now, k.who, "note", k.cmd.Text+" (via "+k.via+")", k.Platform, k.RequestID)
	})
	if err != nil {
		return nil, err
	}
	return Noted{Incident: k.inc.Ref}, nil
}

// event sets E; open deadlines move.
func (d *Desk) event(ctx context.Context, k *call) (Result, error) {
	at, err := time.Parse(time.RFC3339, k.cmd.arg(0))
	if err != nil {
		r := k.refuse(BadTime)
		r.Arg = k.cmd.arg(0)
		return r, nil
	}
	if err := d.Engine.MoveEvent(ctx, k.inc.ID, at, k.who, k.via); err != nil {
		return d.treeErr(k, err)
	}
	return EventMoved{Incident: k.inc.Ref, At: at.UTC(), By: k.name()}, nil
}

// affects adds ("+u", "u") and removes ("-u") affected units. The units
// are the leading words that carry a sign or name a unit of the roster;
// the words after them say why ("/affects ID -web wrong unit").
func (d *Desk) affects(ctx context.Context, k *call) (Result, error) {
	var add, remove, changes []string
	args := k.cmd.Args
	for len(args) > 0 {
		a := args[0]
		if _, known := d.Config.UnitByID(a); !known && !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "+") {
			break
		}
		if strings.HasPrefix(a, "-") {
			remove = append(remove, strings.TrimPrefix(a, "-"))
		} else {
			add = append(add, strings.TrimPrefix(a, "+"))
		}
		changes, args = append(changes, a), args[1:]
	}
	if len(changes) == 0 && len(args) > 0 {
		// A first word that is no unit: SetUnits names it unknown.
		add, changes, args = []string{args[0]}, args[:1], args[1:]
	}
	why := strings.TrimSpace(strings.Join(args, " ") + " " + k.cmd.Text)
	if why == "" {
		why = "set in chat by " + k.name()
	}
	if err := d.SetUnits(ctx, k.inc.ID, add, remove, why, k.who, k.via); err != nil {
		return d.treeErr(k, err)
	}
	return UnitsChanged{Incident: k.inc.Ref, Changes: changes, By: k.name()}, nil
}

// close closes the incident; its open steps are skipped.
func (d *Desk) close(ctx context.Context, k *call) (Result, error) {
	err := d.Engine.Close(ctx, k.inc.ID, k.who, k.via)
	if errors.Is(err, engine.ErrAlreadyClosed) {
		return k.refuse(AlreadyClosed), nil
	}
	if err != nil {
		return d.treeErr(k, err)
	}
	res := Closed{Incident: k.inc.Ref, By: k.name()}
	if err := d.tellClosed(ctx, k, &res); err != nil {
		return nil, err
	}
	return res, nil
}

// escalate takes open steps to their next level now: the actor's, when
// they are told of one; the officers' level only for the team and the
// officers.
func (d *Desk) escalate(ctx context.Context, k *call) (Result, error) {
	why := k.cmd.Text
	if why == "" {
		why = "no reason given"
	}
	err := d.Engine.Escalate(ctx, k.inc.ID, why, k.who, k.via, k.roles&(Team|Officer) != 0)
	switch {
	case errors.Is(err, engine.ErrNotInTree):
		d.audit(ctx, k, k.inc.Ref, k.who, refusedAction(k.Platform), fmt.Sprintf("/escalate via %s: not in the call tree of %s (only its people, the team and the officers may)", k.via, k.inc.Ref))
		return k.refuse(NotInTree), nil
	case errors.Is(err, engine.ErrCannotEscalate):
		return k.refuse(CannotEscalate), nil
	case err != nil:
		return d.treeErr(k, err)
	}
	return Escalated{Incident: k.inc.Ref, Why: why, By: k.name()}, nil
}

// priority sets the incident's priority.
func (d *Desk) priority(ctx context.Context, k *call) (Result, error) {
	p := strings.ToUpper(k.cmd.arg(0))
	if !priorityRE.MatchString(p) {
		r := k.refuse(MissingArgument)
		r.Arg = k.cmd.arg(0)
		return r, nil
	}
	inc := k.inc
	err := d.Store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.SetPriority(inc.ID, p, k.now); err != nil {
			return err
		}
		if err := tx.AuditFrom(inc.ID, k.now, k.who, "priority-changed", fmt.Sprintf("%s to %s via %s", inc.Priority, p, k.via), k.Platform, k.RequestID); err != nil {
			return err
		}
		inc.Priority = p
		return d.changed(tx, inc, "priority:"+p+":"+k.RequestID, k.now)
	})
	if err != nil {
		return nil, err
	}
	return PrioritySet{Incident: inc.Ref, Priority: p, By: k.name()}, nil
}

var priorityRE = regexp.MustCompile(`^P[1-4]$`)

// assign makes someone on the roster responsible, and tells them.
func (d *Desk) assign(ctx context.Context, k *call) (Result, error) {
	who, ok := d.mentioned(ctx, k.Platform, k.cmd.arg(0))
	if !ok {
		r := k.refuse(UnknownPerson)
		r.Arg = k.cmd.arg(0)
		return r, nil
	}
	inc := k.inc
	if strings.EqualFold(inc.Assignee, who.Email) {
		r := k.refuse(AlreadyAssigned) // a no-op: the same mail twice tells nothing
		r.Arg = who.Name
		return r, nil
	}
	err := d.Store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.SetAssignee(inc.ID, strings.ToLower(who.Email), k.now); err != nil {
			return err
		}
		if err := tx.AuditFrom(inc.ID, k.now, k.who, "assigned", fmt.Sprintf("%s made responsible by %s via %s", who.Email, k.who, k.via), k.Platform, k.RequestID); err != nil {
			return err
		}
		inc.Assignee = strings.ToLower(who.Email)
		if d.Notify != nil && d.Engine != nil && d.Engine.Form != nil {
			form, err := d.Engine.Form(tx, inc)
			if err != nil {
				return err
			}
			form.AssignedBy = k.name()
			if _, err := d.Notify.Queue(tx, inc.ID, notify.Notice{Form: "assigned", Kind: "assigned", IdemKey: "assign:" + inc.Ref + ":" + k.Platform + ":" + k.RequestID, IncidentRef: inc.Ref,
				To: mail.Address{Name: who.Name, Address: who.Email}, Data: form}, k.now); err != nil {
				return err
			}
		}
		return d.changed(tx, inc, "assign:"+k.RequestID, k.now)
	})
	if err != nil {
		return nil, err
	}
	return Assigned{Incident: inc.Ref, To: who.Name, By: k.name()}, nil
}

// onCall is who holds each slot now, of one unit or all.
func (d *Desk) onCall(_ context.Context, k *call) (Result, error) {
	unit := k.cmd.arg(0)
	out := OnCall{Unit: unit}
	for _, s := range d.Roster.Who(k.now, unit) {
		out.Slots = append(out.Slots, Slot{Name: s.Name, Person: s.Person, Why: s.Why})
	}
	if len(out.Slots) == 0 {
		r := k.refuse(UnknownUnit)
		r.Arg = unit
		return r, nil
	}
	return out, nil
}

// report files a report the actor took by phone or in person.
func (d *Desk) report(ctx context.Context, k *call) (Result, error) {
	if len(k.cmd.Args) > 0 {
		return d.phoneReport(ctx, k)
	}
	ref, err := d.Report(ctx, k.person, k.cmd.Text, k.Platform, k.RequestID)
	if err != nil {
		return nil, err
	}
	return Filed{Incident: ref, By: k.name()}, nil
}

// treeErr is a refusal for what the engine says of the incident's tree,
// or the failure.
func (d *Desk) treeErr(k *call, err error) (Result, error) {
	if errors.Is(err, store.ErrNotFound) {
		return k.refuse(NoTree), nil
	}
	if errors.Is(err, engine.ErrUnknownUnit) {
		r := k.refuse(UnknownUnit)
		r.Arg = unknownUnit(err)
		return r, nil
	}
	return nil, err
}

// UnitError is a unit not on the roster, as SetUnits reports it.
type UnitError struct{ Unit string }

func (e *UnitError) Error() string {
	return fmt.Sprintf("%v %q on the roster", engine.ErrUnknownUnit, e.Unit)
}
func (e *UnitError) Unwrap() error { return engine.ErrUnknownUnit }

func unknownUnit(err error) string {
	var u *UnitError
	if errors.As(err, &u) {
		return u.Unit
	}
	return ""
}

func (d *Desk) changed(tx *store.Tx, inc *store.Incident, event string, now time.Time) error {
	if d.Changed == nil {
		return nil
	}
	return d.Changed(tx, inc, event, now)
}

// mentionRE is a chat mention: Slack's <@U123> or <@U123|name>, Discord's
// <@123> or <@!123>.
var mentionRE = regexp.MustCompile(`^<@!?([A-Za-z0-9]+)(\|[^>]*)?>$`)

// mentioned finds the roster person a command names: an address, the
// part before @, or a mention of a chat account linked to them.
func (d *Desk) mentioned(ctx context.Context, platform, s string) (config.Person, bool) {
	if m := mentionRE.FindStringSubmatch(s); m != nil {
		return d.Person(ctx, Actor{Platform: platform, UserID: m[1]})
	}
	s = strings.TrimPrefix(s, "@")
	if p, ok := d.Config.PersonByEmail(s); ok {
		return p, true
	}
	for _, p := range d.Config.People {
		if strings.EqualFold(strings.Split(p.Email, "@")[0], s) {
			return p, true
		}
	}
	return config.Person{}, false
}

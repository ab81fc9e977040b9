// Package act is the one way a person acts on the desk: chat commands,
// e-mail answers, the API and (next) the desk's buttons and SMS answers
// all become a Command, given by an Actor to Do. Do checks who may (the
// Permissions table), changes the store in one transaction with its
// audit entry, queues the incident's cards again, wakes the outbox and
// returns a typed Result; callers only parse input and render the result
// (templates word it in the reader's language).
//
// Adding a command is one entry in Permissions and one in handlers, with
// its handler in a file of its own kind (answer.go, incident.go,
// outside.go, link.go).
package act

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"tocsin/bot/clock"
	"tocsin/bot/engine"
	"tocsin/bot/notify"
	"tocsin/bot/roster"
	"tocsin/bot/store"
	"tocsin/config"
)

// Actor is who acts, and from where.
type Actor struct {
	// Person is the roster address; "" when only a chat account is known
	// (UserID on Platform), which Do looks up (the config's ids, then the
	// accounts linked by a mailed code).
	Person string
	// Platform is where the command came from: slack, discord, email, api,
	// desk, cli.
	Platform string
	// UserID is the platform's id of the account (chat).
	UserID string
	// RequestID is the platform's id of the request, for the audit and
	// idempotency.
	RequestID string
	// At is when the request was surely made (a signed timestamp): an
	// approval covers only what was drafted by then. Zero: now.
	At time.Time
	// Integration names a named integration acting through an API token,
	// when Person is ""; Grants are the roles its token gives it (the
	// officer scope: Officer). A person's roles come from the roster only.
	Integration string
	Grants      Role
	// Via is how the actor was known, for the audit, where it says more
	// than the platform and request (a mail answer: email-signed,
	// email-token, auto-reply).
	Via string
}

// Name names a command.
type Name string

// The commands.
const (
	Ack         Name = "ack"
	Done        Name = "done"
	Status      Name = "status"
	Note        Name = "note"
	Escalate    Name = "escalate"
	Priority    Name = "priority"
	Assign      Name = "assign"
	OnCallNow   Name = "oncall"
	Report      Name = "report"
	Event       Name = "event"
	Affects     Name = "affects"
	Close       Name = "close"
	Notify      Name = "notify"
	Approve     Name = "approve"
	LinkRequest Name = "link-request"
	LinkConfirm Name = "link-confirm"
	Unlink      Name = "unlink"
	Help        Name = "help"
	// Blocked is no answer either: the person's step is stuck ("fails",
	// "need help"); it shows blocked and the team on call is told.
	Blocked Name = "blocked"
	// SetAsset adds an asset to an incident or sets its state (issue 16).
	SetAsset Name = "asset"
	// Away is no answer: evidence that the person is away (their
	// auto-reply to a call-tree mail); their open steps escalate at once.
	Away Name = "away"
	// Actions writes the team's actions for the enhanced action alert
	// (Text, multi-line, as written): a new version each time.
	Actions Name = "actions"
	// Reply writes to the incident's reporter (Args[0]: the form).
	Reply Name = "reply"
)

// Command is what a person asked, whatever the way they asked it.
type Command struct {
	Name Name
	// Incident is the incident's id (SEC-2026-0042); "" for ack, done and
	// status: the actor's most recent open step's.
	Incident string
	// Args are the command's words: the time (event), the units (affects:
	// "+u", "-u", "u"), the person (assign), the priority, the contact
	// (notify), the draft (approve), the unit (oncall), the address
	// (link-request) or the code (link-confirm).
	Args []string
	// Text is the free text: a note, a reason, a report.
	Text string
	// Step is the step whose answer reference a mail answer quoted; 0: the
	// actor's most recent open step.
	Step int64
	// DryRun: show what the command would send, send nothing (reply).
	DryRun bool
	// Evidence are the files that came with the command (a mail answer's
	// attachments: the team's scan output): kept with the assets it sets.
	Evidence []store.Evidence
}

func (c Command) arg(i int) string {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return ""
}

// Desk carries out commands. Its fields are set once, before use.
type Desk struct {
	Config *config.Config
	Store  *store.Store
	Engine *engine.Engine
	Roster *roster.Roster
	Clock  clock.Clock
	Notify *notify.Notifier
	// SetUnits changes an incident's affected units (the daemon's, which
	// knows the units' owners); it wraps engine.ErrUnknownUnit for a unit
	// not on the roster.
	SetUnits func(ctx context.Context, incidentID int64, add, remove []string, why, actor, via string) error
	// Progress is a tree's progress in a line or two (the cards').
	Progress func(*store.Tree) string
	// Changed queues the incident's cards again, in the caller's
	// transaction.
	Changed func(tx *store.Tx, inc *store.Incident, event string, now time.Time) error
	// Report files a report someone took by phone or in person, through
	// the same pipeline as mail; it returns the incident's id.
	Report func(ctx context.Context, taker config.Person, text, platform, requestID string) (string, error)
	// Queued wakes the outbox.
	Queued func()
	// PhoneReport files a report taken by phone (report with a caller).
	PhoneReport PhoneReporter
	// Reporter is a mail to an incident's reporter, or why they may not
	// be written to (reply, and the closure form on close).
	Reporter ToReporter
}

// call is one command being carried out.
type call struct {
	Actor
	cmd    Command
	person config.Person // zero for a chat account linked to nobody
	who    string        // the actor in the audit: the lower-case address
	roles  Role          // the actor's roles on the roster (InTree aside)
	via    string        // platform and request id, for audit details
	inc    *store.Incident
	now    time.Time
}

type handler func(d *Desk, ctx context.Context, c *call) (Result, error)

// handlers carry out each command once Do has found who acts, the
// incident and that they may.
var handlers = map[Name]handler{
	LinkRequest: (*Desk).linkRequest,
	LinkConfirm: (*Desk).linkConfirm,
	Unlink:      (*Desk).unlink,
	OnCallNow:   (*Desk).onCall,
	Report:      (*Desk).report,
	Status:      (*Desk).status,
	Note:        (*Desk).note,
	Ack:         (*Desk).answer,
	Done:        (*Desk).answer,
	Away:        (*Desk).answer,
	Blocked:     (*Desk).answer,
	Escalate:    (*Desk).escalate,
	Event:       (*Desk).event,
	Affects:     (*Desk).affects,
	Close:       (*Desk).close,
	Priority:    (*Desk).priority,
	Assign:      (*Desk).assign,
	Notify:      (*Desk).notify,
	Approve:     (*Desk).approve,
	Actions:     (*Desk).actions,
	SetAsset:    (*Desk).setAsset,
	Reply:       (*Desk).reply,
	Help:        func(*Desk, context.Context, *call) (Result, error) { return HelpShown{}, nil },
}

// answers are the commands that answer a step.
var answers = map[Name]bool{Ack: true, Done: true, Blocked: true}

// onNoIncident are the commands that need no incident.
var onNoIncident = map[Name]bool{LinkRequest: true, LinkConfirm: true, Unlink: true, OnCallNow: true, Report: true, Help: true}

// Do carries out c for a. Whoever may not is refused, and the refusal is
// audited (but for the refusals that only say an id or a step is not
// there); so is every change. The error is a failure: nothing changed.
func (d *Desk) Do(ctx context.Context, a Actor, c Command) (Result, error) {
	res, err := d.do(ctx, a, c)
	if err == nil && !readOnly[res.Kind()] {
		d.queued() // what changed may have queued mail and cards
	}
	return res, err
}

// readOnly are the results that change nothing.
var readOnly = map[Kind]bool{KindReplyPreview: true, KindRefused: true, KindStatus: true, KindOnCall: true, KindHelp: true}

func (d *Desk) do(ctx context.Context, a Actor, c Command) (Result, error) {
	h, ok := handlers[c.Name]
	if !ok {
		return Refused{Reason: UnknownCommand, Command: c.Name, Arg: string(c.Name), Platform: a.Platform}, nil
	}
	k := &call{Actor: a, cmd: c, now: d.Clock.Now(), via: a.Via}
	if k.via == "" {
		k.via = strings.TrimSpace(a.Platform + " " + a.RequestID)
	}
	var known bool
	k.person, known = d.Person(ctx, a)
	k.who = strings.ToLower(k.person.Email)
	k.roles = RolesOf(d.Config, k.who)
	if a.Person == "" && a.Integration != "" {
		known, k.who, k.roles = true, "integration:"+a.Integration, a.Grants
	}
	may := Permissions[c.Name]
	if may&Anyone != 0 {
		return h(d, ctx, k)
	}
	if !known {
		d.audit(ctx, k, c.Incident, k.chatIdentity(), refusedAction(a.Platform),
			fmt.Sprintf("/%s from %s (request %s): not linked to anyone on the roster", c.Name, k.chatIdentity(), a.RequestID))
		return k.refuse(NotOnRoster), nil
	}
	if !onNoIncident[c.Name] {
		ref := c.Incident
		if ref == "" {
			var err error
			if ref, err = d.Store.LatestOpenStep(ctx, k.who); err != nil {
				// Any team member may take the team's step, paged or not.
				if !answers[c.Name] || k.roles&Team == 0 {
					return k.refuse(NoOpenStep), nil
				}
				if ref, err = d.Store.LatestOpenTeamStep(ctx); err != nil {
					return k.refuse(NoOpenStep), nil
				}
			}
		}
		k.cmd.Incident = ref
		inc, err := d.Store.IncidentByRef(ctx, ref)
		if errors.Is(err, store.ErrNotFound) {
			r := k.refuse(NoSuchIncident)
			r.Arg = ref
			return r, nil
		}
		if err != nil {
			return nil, err
		}
		k.inc = inc
	}
	if res, err := d.permit(ctx, k, may); res != nil || err != nil {
		return res, err
	}
	return h(d, ctx, k)
}

// permit checks the actor's roles against may; a refusal is audited.
func (d *Desk) permit(ctx context.Context, k *call, may Role) (Result, error) {
	if k.roles&may != 0 {
		return nil, nil
	}
	if may&InTree != 0 && k.inc != nil {
		tree, err := d.Store.Tree(ctx, k.inc.ID)
		if errors.Is(err, store.ErrNotFound) {
			return k.refuse(NoTree), nil
		}
		if err != nil {
			return nil, err
		}
		if engine.InTree(tree, d.Roster, k.who, k.now) {
			return nil, nil
		}
		d.audit(ctx, k, k.inc.Ref, k.who, refusedAction(k.Platform),
			fmt.Sprintf("/%s via %s: not in the call tree of %s (only its people, the team and the officers may)", k.cmd.Name, k.via, k.inc.Ref))
		return k.refuse(NotInTree), nil
	}
	ref := ""
	if k.inc != nil {
		ref = k.inc.Ref
	}
	d.audit(ctx, k, ref, k.who, refusedAction(k.Platform), fmt.Sprintf("/%s via %s: only %s may", k.cmd.Name, k.via, may))
	return k.refuse(NotPermitted), nil
}

// Person is the roster person a acts as: by address, or by a chat
// account (the config's ids, or linked by a mailed code).
func (d *Desk) Person(ctx context.Context, a Actor) (config.Person, bool) {
	if a.Person != "" {
		return d.Config.PersonByEmail(a.Person)
	}
	if a.UserID == "" {
		return config.Person{}, false
	}
	if p, ok := d.Config.PersonByChat(a.Platform, a.UserID); ok {
		return p, true
	}
	if addr, ok, err := d.Store.ChatLink(ctx, a.Platform, a.UserID); err == nil && ok {
		return d.Config.PersonByEmail(addr)
	}
	return config.Person{}, false
}

// Language is the language a's replies are worded in: their roster
// language, else English.
func (d *Desk) Language(ctx context.Context, a Actor) string {
	if p, ok := d.Person(ctx, a); ok && p.Language != "" {
		return p.Language
	}
	return "en"
}

func (k *call) refuse(r Reason) Refused {
	ref := k.cmd.Incident
	if k.inc != nil {
		ref = k.inc.Ref
	}
	return Refused{Reason: r, Command: k.cmd.Name, Incident: ref, Platform: k.Platform}
}

// chatIdentity names the account that acts, for the audit.
func (k *call) chatIdentity() string {
	if k.UserID == "" {
		return "unknown " + k.Platform + " caller"
	}
	return "unknown " + k.Platform + " user " + k.UserID
}

// name is how the actor appears in a result.
func (k *call) name() string {
	if k.person.Name != "" {
		return k.person.Name
	}
	return k.who
}

// refusedAction is the audit action of a refusal from platform.
func refusedAction(platform string) string {
	if platform == "api" {
		return "api-refused"
	}
	return "chat-refused"
}

// audit writes an entry on the incident ref ("" or unknown: the desk's
// own log), from k's request, in a transaction of its own: a refusal is
// kept whatever the caller does next.
func (d *Desk) audit(ctx context.Context, k *call, ref, actor, action, detail string) {
	var id int64
	if ref != "" {
		if inc, err := d.Store.IncidentByRef(ctx, ref); err == nil {
			id = inc.ID
		}
	}
	d.Store.Tx(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.AuditFrom(id, d.Clock.Now(), actor, action, detail, k.Platform, k.RequestID)
	})
}

func (d *Desk) queued() {
	if d.Queued != nil {
		d.Queued()
	}
}

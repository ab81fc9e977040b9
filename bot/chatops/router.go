package chatops

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"tocsin/bot/clock"
	"tocsin/bot/engine"
	"tocsin/bot/notify"
	"tocsin/bot/roster"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/internal/printable"
)

// Reply is what the caller sees; the HTTP layer escapes it for the
// platform (it may quote an incident's subject).
type Reply struct {
	Text      string
	Ephemeral bool
}

// Router carries out commands. Its fields are set once, before use.
type Router struct {
	Config *config.Config
	Store  *store.Store
	Engine *engine.Engine
	Roster *roster.Roster
	Clock  clock.Clock
	// SetUnits changes an incident's affected units (the daemon's, which
	// knows the units' owners).
	SetUnits func(ctx context.Context, ref string, add, remove []string, why, actor string) error
	// Progress is a tree's progress in a line or two (the cards').
	Progress func(*store.Tree) string
	// Changed queues the incident's cards again, in the caller's
	// transaction.
	Changed func(tx *store.Tx, inc *store.Incident, event string, now time.Time) error
	// Report files a report someone took by phone or in person, through
	// the same pipeline as mail; it returns the incident's id.
	Report func(ctx context.Context, taker config.Person, text, platform, requestID string) (string, error)
	// Notify queues the link code's mail; Queued wakes the outbox.
	Notify *notify.Notifier
	Queued func()
}

// linkFor is how long a mailed link code is good for.
const linkFor = 30 * time.Minute

// linkRequestsPerHour bounds the link codes asked for in an hour, by one
// chat user and for one address (whoever asks): each mails a code, and
// each code allows 5 tries, so one address can be guessed at most 15
// times an hour out of 10^8 codes, and its owner gets at most 3 mails.
const linkRequestsPerHour = 3

// person is the roster person a chat user is: by the ids in the config,
// or linked by a mailed code.
func (r *Router) person(ctx context.Context, platform, userID string) (config.Person, bool) {
	if p, ok := r.Config.PersonByChat(platform, userID); ok {
		return p, true
	}
	if addr, ok, err := r.Store.ChatLink(ctx, platform, userID); err == nil && ok {
		return r.Config.PersonByEmail(addr)
	}
	return config.Person{}, false
}

// link asks for, or completes, the link of a chat account to a roster
// person: the code goes to the person's roster address (signed, and
// encrypted where their key is known), and only the chat account that
// asked can use it.
func (r *Router) link(ctx context.Context, c Command) Reply {
	now := r.Clock.Now()
	who := c.Platform + " user " + c.UserID
	arg := c.Args[0]
	if !strings.Contains(arg, "@") {
		var person string
		bad := false
		err := r.Store.Tx(ctx, func(tx *store.Tx) error {
			var err error
			person, err = tx.ConfirmChatLink(c.Platform, c.UserID, arg, now)
			if errors.Is(err, store.ErrBadCode) {
				// Committed with the refusal: the failed try counts.
				bad = true
				return tx.AuditFrom(0, now, who, "chat-link-refused", "a wrong, expired or overused link code", c.Platform, c.RequestID)
			}
			if err != nil {
				return err
			}
			return tx.AuditFrom(0, now, person, "chat-linked", fmt.Sprintf("%s linked to %s by the code mailed to them", who, person), c.Platform, c.RequestID)
		})
		if err != nil {
			return r.failed(err)
		}
		if bad {
			return Reply{Text: "That code does not link this account (wrong, expired, or too many tries).", Ephemeral: true}
		}
		return Reply{Text: "Linked: this account now acts as " + person + ".", Ephemeral: true}
	}
	said := Reply{Text: "If " + arg + " is on this desk's roster, a code was mailed to it: type /tocsin link CODE here within 30 minutes.", Ephemeral: true}
	limited := false
	err := r.Store.Tx(ctx, func(tx *store.Tx) error {
		// Counted for every address asked for, on the roster or not, so
		// that the limit says nothing about who is on it.
		byUser, forAddress, err := tx.LinkRequests(c.Platform, c.UserID, arg, now.Add(-time.Hour))
		if err != nil {
			return err
		}
		if byUser >= linkRequestsPerHour || forAddress >= linkRequestsPerHour {
			limited = true
			return tx.AuditFrom(0, now, who, "chat-link-refused",
				fmt.Sprintf("too many link requests in the last hour (%d by this account, %d for %s): no code mailed", byUser, forAddress, arg), c.Platform, c.RequestID)
		}
		if err := tx.AddLinkRequest(c.Platform, c.UserID, arg, now); err != nil {
			return err
		}
		p, ok := r.Config.PersonByEmail(arg)
		if !ok {
			return tx.AuditFrom(0, now, who, "chat-link-refused", arg+" is not on the roster", c.Platform, c.RequestID)
		}
		code := fmt.Sprintf("%08d", randomInt(100000000))
		was, err := tx.RequestChatLink(c.Platform, c.UserID, strings.ToLower(p.Email), code, now.Add(linkFor))
		if err != nil {
			return err
		}
		if was != "" {
			if err := tx.AuditFrom(0, now, was, "chat-unlinked", fmt.Sprintf("%s no longer acts as %s: it asked for a new link", who, was), c.Platform, c.RequestID); err != nil {
				return err
			}
		}
		body := fmt.Sprintf("Someone using the %s account %s asked to act as you, %s, on the security desk\n(acknowledging and confirming call-tree steps, closing incidents where your role allows).\n\n"+
			"If it was you, type this in that chat within 30 minutes:\n\n  /tocsin link %s\n\nIf it was not you, do not use the code, and tell the security team: someone is trying to act in your name.\n\n-- \n%s <%s>\n",
			c.Platform, c.UserID, p.Email, code, r.Config.Desk.Name, r.Config.Desk.Address)
		if _, err := r.Notify.Queue(tx, 0, notify.Notice{Kind: "chat-link", IdemKey: "link:" + c.Platform + ":" + c.UserID + ":" + codeKey(code),
			To: mail.Address{Name: p.Name, Address: p.Email}, Subject: "Your code to link a " + c.Platform + " account to the security desk", Body: body}, now); err != nil {
			return err
		}
		return tx.AuditFrom(0, now, who, "chat-link-requested", "a link code was mailed to "+p.Email, c.Platform, c.RequestID)
	})
	if err != nil {
		return r.failed(err)
	}
	if limited {
		return Reply{Text: fmt.Sprintf("Too many link codes were asked for by this account or for %s in the last hour (at most %d): no code was mailed. Try again later.", arg, linkRequestsPerHour), Ephemeral: true}
	}
	if r.Queued != nil {
		r.Queued()
	}
	return said
}

// unlink ends the link of the caller's chat account to a roster person;
// an account named in the config is changed there, not in chat.
func (r *Router) unlink(ctx context.Context, c Command) Reply {
	if p, ok := r.Config.PersonByChat(c.Platform, c.UserID); ok {
		return Reply{Text: "This account is " + p.Email + "'s in the desk's configuration: only the configuration can change that.", Ephemeral: true}
	}
	now := r.Clock.Now()
	who := c.Platform + " user " + c.UserID
	var was string
	err := r.Store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if was, err = tx.UnlinkChat(c.Platform, c.UserID); err != nil {
			return err
		}
		return tx.AuditFrom(0, now, was, "chat-unlinked", fmt.Sprintf("%s no longer acts as %s: unlinked by itself", who, was), c.Platform, c.RequestID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return Reply{Text: "This account is not linked to anyone on the roster.", Ephemeral: true}
	}
	if err != nil {
		return r.failed(err)
	}
	return Reply{Text: "Unlinked: this account no longer acts as " + was + ".", Ephemeral: true}
}

// Handle carries out c for whoever sent it and says what happened.
// Whoever is not on the roster (not linked by their chat id) is refused
// and the refusal is audited; so is every action.
func (r *Router) Handle(ctx context.Context, c Command) Reply {
	switch c.Name {
	case "link":
		return r.link(ctx, c)
	case "unlink":
		return r.unlink(ctx, c)
	}
	person, ok := r.person(ctx, c.Platform, c.UserID)
	if !ok {
		r.audit(ctx, c, c.Incident, "unknown "+c.Platform+" user "+c.UserID, "chat-refused",
			fmt.Sprintf("/%s from %s user %s (request %s): not linked to anyone on the roster", c.Name, c.Platform, c.UserID, c.RequestID))
		return Reply{Text: "You are not on this desk's roster, or your " + c.Platform + " account is not linked to your roster entry (/tocsin link ADDRESS): nothing was done.", Ephemeral: true}
	}
	actor := strings.ToLower(person.Email)
	via := c.Platform
	if c.RequestID != "" {
		via += " " + c.RequestID
	}
	switch c.Name {
	case "help":
		var b strings.Builder
		b.WriteString("Tocsin commands (each also as /tocsin CMD ...):\n")
		for _, n := range Names {
			fmt.Fprintf(&b, "%s: %s\n", n.Usage, n.What)
		}
		return Reply{Text: b.String(), Ephemeral: true}
	case "oncall":
		unit := ""
		if len(c.Args) > 0 {
			unit = c.Args[0]
		}
		var b strings.Builder
		for _, s := range r.Roster.Who(r.Clock.Now(), unit) {
			who := s.Person
			if who == "" {
				who = "NOBODY"
			}
			fmt.Fprintf(&b, "%s: %s (%s)\n", s.Name, who, s.Why)
		}
		if b.Len() == 0 {
			return Reply{Text: "No such unit: " + unit, Ephemeral: true}
		}
		return Reply{Text: b.String(), Ephemeral: true}
	}
	if c.Name == "report" {
		ref, err := r.Report(ctx, person, c.Text, c.Platform, c.RequestID)
		if err != nil {
			return r.failed(err)
		}
		return Reply{Text: fmt.Sprintf("Filed as %s, taken by %s; the signed acknowledgement goes to you.", ref, person.Name), Ephemeral: true}
	}
	ref := c.Incident
	if ref == "" {
		var err error
		if ref, err = r.Store.LatestOpenStep(ctx, actor); err != nil {
			return Reply{Text: "No open step waits for you: give an incident id (" + usage(c.Name) + ").", Ephemeral: true}
		}
	}
	inc, err := r.Store.IncidentByRef(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return Reply{Text: "No incident " + ref + ".", Ephemeral: true}
	}
	if err != nil {
		return r.failed(err)
	}
	switch c.Name {
	case "event", "affects", "close", "priority", "assign", "notify", "approve":
		if !r.Config.OnTeam(actor) {
			r.audit(ctx, c, ref, actor, "chat-refused", fmt.Sprintf("/%s via %s: only the response team and the officers may", c.Name, via))
			return Reply{Text: "Only the response team and the officers may /" + c.Name + ": nothing was done.", Ephemeral: true}
		}
	}
	switch c.Name {
	case "status":
		text := fmt.Sprintf("%s · %s · %s · %s\n%s", inc.Ref, inc.Priority, inc.Status, inc.Category, inc.Subject)
		if tr, err := r.Store.Tree(ctx, inc.ID); err == nil && r.Progress != nil {
			text += "\n" + r.Progress(tr)
		}
		if drafts, err := r.Store.Drafts(ctx, inc.ID); err == nil {
			for _, d := range drafts {
				if d.State == store.DraftPending {
					text += fmt.Sprintf("\nWaiting for approval (/approve %s %s): %s, %s to %s, drafted by %s", inc.Ref, d.ID, d.ID, d.Form, r.contactName(d.Contact), d.DraftedBy)
				}
			}
		}
		return Reply{Text: text, Ephemeral: true}
	case "notify":
		contact, ok := r.Config.ContactByID(c.Args[0])
		if !ok {
			var ids []string
			for _, k := range r.Config.Contacts {
				ids = append(ids, k.ID)
			}
			return Reply{Text: fmt.Sprintf("No external contact %q: the directory has %s.", c.Args[0], cmp.Or(strings.Join(ids, ", "), "none")), Ephemeral: true}
		}
		draft, err := r.Engine.Draft(ctx, inc.ID, contact, c.Text, actor, c.Platform, c.RequestID)
		if err != nil {
			return r.failed(err)
		}
		return Reply{Text: fmt.Sprintf("%s: status report to %s (%s) drafted by %s as %s. Nothing goes outside until someone else approves it: /approve %s %s", ref, contact.Name, contact.Kind, person.Name, draft, ref, draft)}
	case "approve":
		draft := ""
		if len(c.Args) > 0 {
			draft = c.Args[0]
		}
		// The approval covers what was drafted by the time it was made
		// (its signed timestamp), not what was drafted since.
		asOf := r.Clock.Now().Add(-c.Age)
		sent, err := r.Engine.Approve(ctx, inc.ID, draft, asOf, actor, c.Platform, c.RequestID)
		switch {
		case errors.Is(err, engine.ErrDraftNotNamed):
			return Reply{Text: "Name the draft you approve (" + usage("approve") + "): " + r.waiting(ctx, inc) + ". Nothing was sent.", Ephemeral: true}
		case errors.Is(err, engine.ErrNoSuchDraft):
			return Reply{Text: ref + " has no draft " + draft + ": " + r.waiting(ctx, inc) + ". Nothing was sent.", Ephemeral: true}
		case errors.Is(err, engine.ErrDraftNewer):
			r.audit(ctx, c, ref, actor, "chat-refused", fmt.Sprintf("/approve %s via %s: the draft is newer than the approval", draft, via))
			return Reply{Text: draft + " of " + ref + " was drafted after your approval was made: look at /status " + ref + " and approve again. Nothing was sent.", Ephemeral: true}
		case errors.Is(err, engine.ErrOwnDraft):
			r.audit(ctx, c, ref, actor, "chat-refused", fmt.Sprintf("/approve %s via %s: their own draft; a second person must approve", draft, via))
			return Reply{Text: draft + " of " + ref + " was drafted by you: a second person must approve it. Nothing was sent.", Ephemeral: true}
		case errors.Is(err, engine.ErrNothingToApprove):
			return Reply{Text: draft + " of " + ref + " does not wait for approval (approved already).", Ephemeral: true}
		case errors.Is(err, engine.ErrContactGone):
			return Reply{Text: draft + " of " + ref + " is to a contact no longer in the directory: nothing was sent.", Ephemeral: true}
		case err != nil:
			return r.failed(err)
		}
		var names []string
		for _, k := range sent {
			names = append(names, k.Name+" <"+k.Email+">")
		}
		return Reply{Text: fmt.Sprintf("%s: %s approved by %s; the status report goes to %s (signed, encrypted where their key is known).", ref, draft, person.Name, strings.Join(names, ", "))}
	case "ack", "done":
		res, err := r.Engine.Act(ctx, engine.Command{Incident: inc.ID, Person: actor, Verb: c.Name, Note: c.Text, Via: via, Platform: c.Platform, RequestID: c.RequestID})
		if errors.Is(err, engine.ErrNothingToAnswer) || errors.Is(err, store.ErrNotFound) {
			r.audit(ctx, c, ref, actor, "answer-not-counted", fmt.Sprintf("/%s via %s: no open step of %s waits for an answer from them", c.Name, via, ref))
			return Reply{Text: "No open step of " + ref + " waits for an answer from you: nothing was done.", Ephemeral: true}
		}
		if err != nil {
			return r.failed(err)
		}
		word := map[string]string{"ack": "acknowledged", "done": "done"}[c.Name]
		return Reply{Text: fmt.Sprintf("%s: %s %s by %s; the step is now %s.", ref, res.Title, word, person.Name, res.State)}
	case "note":
		r.audit(ctx, c, ref, actor, "note", c.Text+" (via "+via+")")
		return Reply{Text: "Noted on " + ref + ".", Ephemeral: true}
	case "event":
		at, err := time.Parse(time.RFC3339, c.Args[0])
		if err != nil {
			return Reply{Text: "Not a time: " + c.Args[0] + " (RFC 3339, e.g. 2026-12-01T09:00:00Z).", Ephemeral: true}
		}
		if err := r.Engine.MoveEvent(ctx, inc.ID, at, actor, via); err != nil {
			return r.treeErr(ref, err)
		}
		return Reply{Text: fmt.Sprintf("%s: E set to %s by %s; open deadlines moved.", ref, at.UTC().Format(time.RFC3339), person.Name)}
	case "affects":
		var add, remove []string
		for _, a := range c.Args {
			switch {
			case strings.HasPrefix(a, "-"):
				remove = append(remove, strings.TrimPrefix(a, "-"))
			default:
				add = append(add, strings.TrimPrefix(a, "+"))
			}
		}
		if err := r.SetUnits(ctx, ref, add, remove, "set in chat by "+person.Name, actor); err != nil {
			return r.treeErr(ref, err)
		}
		return Reply{Text: fmt.Sprintf("%s: affected units changed by %s (%s).", ref, person.Name, strings.Join(c.Args, " "))}
	case "close":
		err := r.Engine.Close(ctx, inc.ID, actor, via)
		if errors.Is(err, engine.ErrAlreadyClosed) {
			return Reply{Text: ref + " is already closed: nothing was done.", Ephemeral: true}
		}
		if err != nil {
			return r.treeErr(ref, err)
		}
		return Reply{Text: fmt.Sprintf("%s closed by %s; its open steps are skipped.", ref, person.Name)}
	case "escalate":
		why := c.Text
		if why == "" {
			why = "no reason given"
		}
		err := r.Engine.Escalate(ctx, inc.ID, why, actor, via, r.Config.OnTeam(actor))
		if errors.Is(err, engine.ErrNotInTree) {
			r.audit(ctx, c, ref, actor, "chat-refused", fmt.Sprintf("/escalate via %s: not in the call tree of %s (only its people, the team and the officers may)", via, ref))
			return Reply{Text: "Only the people in the call tree of " + ref + ", the response team and the officers may /escalate it: nothing was done.", Ephemeral: true}
		}
		if errors.Is(err, engine.ErrCannotEscalate) {
			return Reply{Text: ref + ": no open step can be escalated further by you (the officers' level is for the team and officers).", Ephemeral: true}
		}
		if err != nil {
			return r.treeErr(ref, err)
		}
		return Reply{Text: fmt.Sprintf("%s escalated by %s: %s", ref, person.Name, why)}
	case "assign":
		who, ok := r.mentioned(ctx, c.Platform, c.Args[0])
		if !ok {
			return Reply{Text: "No one on the roster is " + c.Args[0] + " (an address, a name before @, or a mention of a linked account).", Ephemeral: true}
		}
		now := r.Clock.Now()
		err := r.Store.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.SetAssignee(inc.ID, strings.ToLower(who.Email), now); err != nil {
				return err
			}
			if err := tx.AuditFrom(inc.ID, now, actor, "assigned", fmt.Sprintf("%s made responsible by %s via %s", who.Email, actor, via), c.Platform, c.RequestID); err != nil {
				return err
			}
			inc.Assignee = strings.ToLower(who.Email)
			if r.Notify != nil {
				// The subject is the reporter's and the names the roster's: each one
				// printable line, so none adds a line or an escape to a signed mail.
				body := fmt.Sprintf("%s made you responsible for incident %s (%s, %s):\n\n  %s\n\nSee %s/incidents/%s\n\n-- \n%s <%s>\n",
					printable.Line(person.Name), inc.Ref, inc.Priority, inc.Category, printable.Line(inc.Subject), strings.TrimRight(r.Config.Desk.PublicURL, "/"), inc.Ref, r.Config.Desk.Name, r.Config.Desk.Address)
				if _, err := r.Notify.Queue(tx, inc.ID, notify.Notice{Kind: "assigned", IdemKey: "assign:" + inc.Ref + ":" + c.Platform + ":" + c.RequestID, IncidentRef: inc.Ref,
					To: mail.Address{Name: who.Name, Address: who.Email}, Subject: "[" + inc.Ref + "] You are responsible for this incident", Body: body}, now); err != nil {
					return err
				}
			}
			if r.Changed != nil {
				return r.Changed(tx, inc, "assign:"+c.RequestID, now)
			}
			return nil
		})
		if err != nil {
			return r.failed(err)
		}
		if r.Queued != nil {
			r.Queued()
		}
		return Reply{Text: fmt.Sprintf("%s: %s is responsible now (assigned by %s).", ref, who.Name, person.Name)}
	case "priority":
		now := r.Clock.Now()
		err := r.Store.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.SetPriority(inc.ID, c.Args[0], now); err != nil {
				return err
			}
			if err := tx.AuditFrom(inc.ID, now, actor, "priority-changed", fmt.Sprintf("%s to %s via %s", inc.Priority, c.Args[0], via), c.Platform, c.RequestID); err != nil {
				return err
			}
			inc.Priority = c.Args[0]
			if r.Changed != nil {
				return r.Changed(tx, inc, "priority:"+c.Args[0]+":"+c.RequestID, now)
			}
			return nil
		})
		if err != nil {
			return r.failed(err)
		}
		return Reply{Text: fmt.Sprintf("%s: priority set to %s by %s.", ref, c.Args[0], person.Name)}
	}
	return Reply{Text: "/" + c.Name + " is not handled yet.", Ephemeral: true}
}

// waiting lists the incident's drafts that wait for approval, for a
// refused /approve.
func (r *Router) waiting(ctx context.Context, inc *store.Incident) string {
	drafts, err := r.Store.Drafts(ctx, inc.ID)
	if err != nil {
		return "(the drafts could not be read)"
	}
	var out []string
	for _, d := range drafts {
		if d.State == store.DraftPending {
			out = append(out, fmt.Sprintf("%s (%s to %s, drafted by %s)", d.ID, d.Form, r.contactName(d.Contact), d.DraftedBy))
		}
	}
	if len(out) == 0 {
		return "nothing of " + inc.Ref + " waits for approval"
	}
	return "waiting: " + strings.Join(out, "; ")
}

// contactName is how a contact id reads in a reply.
func (r *Router) contactName(id string) string {
	if k, ok := r.Config.ContactByID(id); ok {
		return k.Name + " (" + k.Kind + ")"
	}
	return id
}

func (r *Router) treeErr(ref string, err error) Reply {
	if errors.Is(err, store.ErrNotFound) {
		return Reply{Text: ref + " runs no call tree.", Ephemeral: true}
	}
	if errors.Is(err, engine.ErrUnknownUnit) {
		return Reply{Text: err.Error(), Ephemeral: true}
	}
	return r.failed(err)
}

func (r *Router) failed(err error) Reply {
	return Reply{Text: "That did not work, and nothing was changed (the desk logged why): " + err.Error(), Ephemeral: true}
}

// audit writes an entry on the incident ref ("" or unknown: the desk's
// own log), from the request of c.
func (r *Router) audit(ctx context.Context, c Command, ref, actor, action, detail string) {
	var id int64
	if ref != "" {
		if inc, err := r.Store.IncidentByRef(ctx, ref); err == nil {
			id = inc.ID
		}
	}
	r.Store.Tx(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.AuditFrom(id, r.Clock.Now(), actor, action, detail, c.Platform, c.RequestID)
	})
}

func randomInt(n int64) int64 {
	v, _ := rand.Int(rand.Reader, big.NewInt(n))
	return v.Int64()
}

// codeKey names a code in an idempotency key without showing it.
func codeKey(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:6])
}

// mentionRE is a chat mention: Slack's <@U123> or <@U123|name>, Discord's
// <@123> or <@!123>.
var mentionRE = regexp.MustCompile(`^<@!?([A-Za-z0-9]+)(\|[^>]*)?>$`)

// mentioned finds the roster person a command names: an address, the
// part before @, or a mention of a chat account linked to them.
func (r *Router) mentioned(ctx context.Context, platform, s string) (config.Person, bool) {
	if m := mentionRE.FindStringSubmatch(s); m != nil {
		return r.person(ctx, platform, m[1])
	}
	s = strings.TrimPrefix(s, "@")
	if p, ok := r.Config.PersonByEmail(s); ok {
		return p, true
	}
	for _, p := range r.Config.People {
		if strings.EqualFold(strings.Split(p.Email, "@")[0], s) {
			return p, true
		}
	}
	return config.Person{}, false
}

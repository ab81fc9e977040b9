package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"tocsin/bot/notify"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/internal/printable"
	"tocsin/templates"
)

// VerbBlocked is no answer either: the person says the work of their step
// is stuck ("fails", "need help"). The step shows blocked, with what they
// wrote, the team member on call is told at once, and the deadline stands.
// A later ack or done clears it.
const VerbBlocked = "blocked"

// block marks person's step blocked with note: stepID's (the reference
// the answer quoted) when it is open and theirs, else the most recently
// started open step they were told of or may answer (the team's, for a
// team member; the owners', for the unit contact). A step already past
// its deadline stays overdue in its state; its blocker shows all the same.
func block(tree *store.Tree, r Roster, stepID int64, person, note string, now time.Time) (Answered, error) {
	pick := -1
	for pass := 0; pass < 2 && pick < 0; pass++ {
		for i, s := range tree.Steps {
			if pass == 0 && (stepID == 0 || s.ID != stepID) {
				continue
			}
			if s.StartedAt.IsZero() || !open(s) || s.Needs == config.NeedsNone || !mayAnswer(s, r, person, now) {
				continue
			}
			if pick < 0 || s.StartedAt.After(tree.Steps[pick].StartedAt) || (s.StartedAt.Equal(tree.Steps[pick].StartedAt) && s.Position > tree.Steps[pick].Position) {
				pick = i
			}
		}
	}
	if pick < 0 {
		return Answered{}, ErrNothingToAnswer
	}
	s := &tree.Steps[pick]
	s.Blocked = &store.StepBlock{By: person, At: now, Text: note}
	if s.State != store.StepOverdue {
		s.State = store.StepBlocked
	}
	return Answered{Step: pick, Touched: []int{pick}, Title: s.Title, Name: stepName(*s), State: s.State}, nil
}

// mayAnswer: person was told of step s, or may answer it untold (a team
// member the team's step, the unit contact their owners').
func mayAnswer(s store.StepRow, r Roster, person string, now time.Time) bool {
	for _, p := range s.People {
		if p.Person == person {
			return true
		}
	}
	switch s.Audience {
	case config.AudienceOwners:
		c, _ := r.UnitContacts(s.Unit, now)
		return strings.EqualFold(c, person)
	case config.AudienceTeam:
		return r.TeamMember(person)
	}
	return false
}

// unblock clears step s's blocker once person's answer counts for it:
// their own ack or done, or one that met the step or acknowledged it.
func unblock(s *store.StepRow, person string) {
	if s.Blocked == nil {
		return
	}
	if s.Blocked.By != person && s.State != store.StepAcknowledged && s.State != store.StepDone {
		return
	}
	s.Blocked = nil
	if s.State == store.StepBlocked {
		s.State = store.StepNotified // overdue again at once when past its deadline
	}
}

// BlockedPage is what a chat message to the team member on call about a
// blocked step says (the replies' "blocked-page", in their language).
type BlockedPage struct {
	Incident, Priority, Subject string
	Step                        string // its title
	By                          string // who is blocked
	Text                        string // what they wrote, one printable line
	URL                         string
}

// tellBlocked tells the team member on call (the secondary when the
// primary is the one blocked) of blocked step s at once: the team-told
// form by mail, and a direct message on each chat platform they are on.
// It reports whether it queued anything.
func (e *Engine) tellBlocked(tx *store.Tx, inc *store.Incident, s store.StepRow, c Command, now time.Time) (bool, error) {
	primary, secondary := e.Roster.TeamOnCall(now)
	to := primary
	if strings.EqualFold(primary, c.Person) && secondary != "" {
		to = secondary
	}
	to = strings.ToLower(to)
	if to == "" {
		return false, tx.AuditFrom(inc.ID, now, "engine", "team-not-told", "nobody of the team is on call to tell that "+s.Key+" is blocked", c.Platform, c.RequestID)
	}
	key := fmt.Sprintf("blocked:%s:%d:%s:%s", inc.Ref, s.ID, c.Platform, c.RequestID)
	queued := false
	if e.Form != nil && e.Notify != nil {
		form, err := e.Form(tx, inc)
		if err != nil {
			return false, err
		}
		form.Told = &templates.TeamTold{Reason: templates.ToldBlocked, About: strings.ToLower(c.Person), Step: stepName(s), Text: c.Note, At: now}
		added, err := e.Notify.Queue(tx, inc.ID, notify.Notice{Form: "team-told", Kind: "team-told", IdemKey: key, IncidentRef: inc.Ref, To: mail.Address{Address: to}, Data: form}, now)
		if err != nil {
			return false, err
		}
		queued = added
	}
	p, _ := e.Roster.Person(to)
	page := BlockedPage{Incident: inc.Ref, Priority: inc.Priority, Subject: printable.Runes(printable.Line(inc.Subject), 120), Step: s.Title, By: strings.ToLower(c.Person),
		Text: printable.Runes(printable.Line(c.Note), 500), URL: strings.TrimRight(e.Config.Desk.PublicURL, "/") + "/incidents/" + inc.Ref}
	lang := p.Language
	if lang == "" {
		lang = "en"
	}
	text, err := templates.Reply(lang, "blocked-page", page)
	if err != nil {
		return false, err
	}
	var dm []string
	for _, via := range []struct{ platform, id string }{{config.ViaSlack, p.SlackID}, {config.ViaDiscord, p.DiscordID}} {
		if via.id == "" || !e.Platforms[via.platform] {
			continue
		}
		it := store.OutboxItem{IdemKey: key + ":" + via.platform, IncidentID: inc.ID, Kind: "team-told", Sender: e.Config.Desk.Address, CreatedAt: now, Payload: []byte(text)}
		it.To(store.DirectTo(via.platform, via.id))
		added, err := tx.Enqueue(it)
		if err != nil {
			return false, err
		}
		queued = queued || added
		dm = append(dm, via.platform)
	}
	detail := fmt.Sprintf("%s told that %s is blocked on %s (mail", to, strings.ToLower(c.Person), s.Key)
	for _, d := range dm {
		detail += ", " + d + " message"
	}
	return queued, tx.AuditFrom(inc.ID, now, "engine", "team-told", detail+")", c.Platform, c.RequestID)
}

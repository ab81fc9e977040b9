package chatops

import (
	"context"
	"errors"
	"strings"
	"time"

	"tocsin/bot/act"
	"tocsin/bot/clock"
	"tocsin/templates"
)

// Reply is what the caller sees; the HTTP layer escapes it for the
// platform (it may quote an incident's subject).
type Reply struct {
	Text      string
	Ephemeral bool
	// Button is a button under the text (a /reply preview's Send); nil:
	// none.
	Button *Button
}

// Button is a button on a reply: its label (worded in the reader's
// language) and its id (Slack's action_id, Discord's custom_id).
type Button struct{ ID, Label string }

// Desk is what chat needs of the desk: acting (bot/act's Do), the
// reader's language, and the bookkeeping of requests (replays, late
// answers). Chat writes nothing itself.
type Desk interface {
	Do(ctx context.Context, a act.Actor, c act.Command) (act.Result, error)
	Language(ctx context.Context, a act.Actor) string
	// FirstRequest reports whether key was not seen since keepSince, and
	// remembers it.
	FirstRequest(ctx context.Context, key string, now, keepSince time.Time) (bool, error)
	// LateAnswer queues a slow command's answer (body) for the platform's
	// target (Slack's response_url, a Discord follow-up), and wakes the
	// outbox.
	LateAnswer(ctx context.Context, platform, target, requestID string, body []byte) error
}

var _ Desk = (*act.Desk)(nil)

// Router turns a chat command into the desk's command, has it done, and
// words the result in the reader's language. Its fields are set once,
// before use.
type Router struct {
	Desk  Desk
	Clock clock.Clock

	previews previews
}

// public are the results the whole channel sees; the rest only the
// caller.
var public = map[act.Kind]bool{
	act.KindAnswered: true, act.KindEventMoved: true, act.KindUnitsChanged: true, act.KindClosed: true, act.KindEscalated: true,
	act.KindAssigned: true, act.KindPrioritySet: true, act.KindDrafted: true, act.KindApproved: true,
	act.KindActions:  true,
	act.KindAssetSet: true, act.KindAssetsMarked: true,
}

// Command is c as the desk's command.
func (c Command) Command() act.Command {
	out := act.Command{Name: act.Name(c.Name), Incident: c.Incident, Args: c.Args, Text: c.Text}
	if c.Name == "link" {
		out.Name = act.LinkConfirm
		if strings.Contains(c.Args[0], "@") {
			out.Name = act.LinkRequest
		}
	}
	return out
}

// Actor is who sent c: a chat account, which the desk looks up.
func (r *Router) Actor(c Command) act.Actor {
	a := act.Actor{Platform: c.Platform, UserID: c.UserID, RequestID: c.RequestID}
	if c.Age > 0 {
		a.At = r.Clock.Now().Add(-c.Age)
	}
	return a
}

// Handle carries out c for whoever sent it and says what happened.
func (r *Router) Handle(ctx context.Context, c Command) Reply {
	switch c.Name {
	case "reply":
		return r.replyPreview(ctx, c)
	case ReplySendButton:
		return r.replySend(ctx, c)
	}
	a := r.Actor(c)
	res, err := r.Desk.Do(ctx, a, c.Command())
	lang := r.Desk.Language(ctx, a)
	if err != nil {
		return Reply{Text: Failed(lang, err), Ephemeral: true}
	}
	return Render(lang, res)
}

// HelpLine is one command in /help: the template words what it does.
type HelpLine struct{ Name, Usage string }

// Render words res in lang; help lists chat's commands.
func Render(lang string, res act.Result) Reply {
	var data any = res
	if res.Kind() == act.KindHelp {
		var lines []HelpLine
		for _, n := range Names {
			lines = append(lines, HelpLine{Name: n.Name, Usage: n.Usage})
		}
		data = lines
	}
	text, err := templates.Reply(lang, string(res.Kind()), data)
	if err != nil {
		return Reply{Text: Failed(lang, err), Ephemeral: true}
	}
	return Reply{Text: text, Ephemeral: !public[res.Kind()]}
}

// Unparsed words why a command as typed (or a button) could not be read,
// in the language of whoever sent it.
func (r *Router) Unparsed(ctx context.Context, c Command, err error) Reply {
	lang := "en"
	if r.Desk != nil {
		lang = r.Desk.Language(ctx, r.Actor(c))
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		return Reply{Text: Failed(lang, err), Ephemeral: true}
	}
	text, terr := templates.Reply(lang, "parse-error", pe)
	if terr != nil {
		text = pe.Error()
	}
	return Reply{Text: text, Ephemeral: true}
}

// Failed words a failure.
func Failed(lang string, err error) string {
	text, terr := templates.Reply(lang, "failed", err.Error())
	if terr != nil {
		return err.Error()
	}
	return text
}

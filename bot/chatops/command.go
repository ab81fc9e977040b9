// Package chatops turns what people type and press in Slack and Discord
// into commands on incidents: requests are verified as each platform
// signs them, parsed into one Command value whatever the platform, checked
// against the roster and its roles, carried out by the engine, and
// audited. The same Command comes from an e-mail answer or (later) the
// desk.
package chatops

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Command is what a person asked, from any platform.
type Command struct {
	Name      string // ack, done, status, escalate, priority, event, affects, note, oncall, close, notify, approve, help
	Incident  string // SEC-2026-0042, or "": the caller's most recent open step
	Args      []string
	Text      string // the free text: a note, a reason
	Platform  string // slack, discord, email, desk
	UserID    string // the platform's user id
	RequestID string // the platform's id of the request, for the audit
	// Age is how long before it arrived the request was surely made (its
	// signed timestamp, whole seconds, rounded up): an approval does not
	// cover a draft drafted since. 0 where nothing signed a time.
	Age time.Duration
}

// Names are the commands, with what each takes; /help lists them (worded
// by the replies' "help" template in the reader's language). What is the
// English description the platforms' command registrations carry.
var Names = []struct{ Name, Usage, What string }{
	{"ack", "/ack [ID]", "acknowledge: I have it, I am on it"},
	{"done", "/done [ID] [ASSET...] [note]", "the work of your step is finished; with assets of the incident: they are fixed (validated, from the team)"},
	{"blocked", "/blocked ID text", "your step is stuck and you need help: the team on call is told, the deadline stands"},
	{"status", "/status [ID]", "the incident and its call tree"},
	{"note", "/note ID text", "add a note to the incident"},
	{"escalate", "/escalate ID [why]", "take its open steps (yours, if you are told of one) to the next level now"},
	{"priority", "/priority ID P1..P4", "change the priority (team and officers)"},
	{"assign", "/assign ID @person", "make someone on the roster responsible for the incident (team and officers)"},
	{"oncall", "/oncall [unit]", "who is on call now"},
	{"report", "/report [--caller \"name, organisation, phone\"] text", "log a report taken by phone or in person: it is filed as mail would be, with you as the taker"},
	{"event", "/event ID TIME", "set the event time E (RFC 3339); open deadlines move (team and officers)"},
	{"affects", "/affects ID [+]UNIT... [-UNIT...] [why]", "add or remove affected units (team and officers)"},
	{"asset", "/asset ID [UNIT:]ASSET affected|fixed|validated|not-affected [why]", "add an asset to an affected unit or set its state (team, officers, the unit's people)"},
	{"close", "/close ID", "close the incident; its open steps are skipped (team and officers)"},
	{"notify", "/notify ID CONTACT [note]", "draft the status report to an external contact; someone else sends it with /approve (team, officers)"},
	{"approve", "/approve ID DRAFT", "send the draft DRAFT (D1, D2, ... as /status shows) that someone else drafted for an external contact (team and officers)"},
	{"link", "/tocsin link ADDRESS, then /tocsin link CODE", "link this chat account to your roster entry by a code mailed to you"},
	{"unlink", "/tocsin unlink", "end this chat account's link to your roster entry"},
	{"reply", "/reply ID request-info|status-update|closure [text]", "send the reporter a form: previewed first, then Send (team and officers)"},
	{"help", "/help", "this list"},
	{"actions", "/actions ID text", "write the actions for the units' action alert (multi-line; team and officers)"},
}

var idRE = regexp.MustCompile(`^(?i)[A-Z][A-Z0-9]{0,15}-\d{4}-\d{4,}$`)

// Parse reads a command as typed: name is the slash command ("/ack", or
// "/tocsin" with the command as the first word of text), text the rest.
func Parse(name, text string) (Command, error) {
	name = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "/")
	fields := strings.Fields(text)
	if name == "tocsin" {
		if len(fields) == 0 {
			return Command{Name: "help"}, nil
		}
		name, fields = strings.ToLower(strings.TrimPrefix(fields[0], "/")), fields[1:]
	}
	known := false
	for _, n := range Names {
		known = known || n.Name == name
	}
	if !known {
		return Command{}, &ParseError{Command: name, Need: NeedKnownCommand}
	}
	c := Command{Name: name}
	if len(fields) > 0 && idRE.MatchString(fields[0]) {
		c.Incident, fields = strings.ToUpper(fields[0]), fields[1:]
	}
	switch name {
	case "note", "event", "affects", "asset", "close", "escalate", "priority", "assign", "notify", "approve", "reply", "actions", "blocked":
		if c.Incident == "" {
			return Command{}, parseError(name, NeedIncident)
		}
	}
	switch name {
	case "event":
		if len(fields) != 1 {
			return Command{}, parseError(name, NeedTime)
		}
		c.Args = fields
	case "affects":
		if len(fields) == 0 {
			return Command{}, parseError(name, NeedUnits)
		}
		c.Args = fields
	case "asset":
		if len(fields) < 2 {
			return Command{}, parseError(name, NeedAsset)
		}
		c.Args, c.Text = []string{fields[0], strings.ToLower(fields[1])}, strings.Join(fields[2:], " ")
	case "oncall":
		c.Args = fields
	case "reply":
		// The form (checked by the desk) and the team's text; a request
		// for information has one question a line.
		form, rest := "", ""
		if len(fields) > 0 {
			form = strings.ToLower(fields[0])
			rest = strings.TrimSpace(text[strings.Index(text, fields[0])+len(fields[0]):])
		}
		c.Args, c.Text = []string{form}, rest
	case "notify":
		if len(fields) == 0 {
			return Command{}, parseError(name, NeedContact)
		}
		c.Args, c.Text = fields[:1], strings.Join(fields[1:], " ")
	case "assign":
		if len(fields) != 1 {
			return Command{}, parseError(name, NeedPerson)
		}
		c.Args = fields
	case "approve":
		if len(fields) > 1 {
			return Command{}, parseError(name, NeedOneDraft)
		}
		for _, f := range fields {
			c.Args = append(c.Args, strings.ToUpper(f))
		}
	case "link":
		if len(fields) != 1 {
			return Command{}, parseError(name, NeedLinkArg)
		}
		c.Args = fields
	case "actions":
		// The text as written, its lines kept: what follows the id.
		c.Text = afterWords(text, len(strings.Fields(text))-len(fields))
	case "priority":
		if len(fields) != 1 || !regexp.MustCompile(`^(?i)P[1-4]$`).MatchString(fields[0]) {
			return Command{}, parseError(name, NeedPriority)
		}
		c.Args = []string{strings.ToUpper(fields[0])}
	default:
		c.Text = strings.Join(fields, " ")
	}
	if name == "report" && strings.Contains(text, "--caller") {
		// A phone report: --caller "name, organisation, phone[, address]".
		caller, rest := callerArg(text)
		c.Args, c.Text, c.Incident = []string{caller}, rest, ""
	}
	if (name == "note" || name == "report" || name == "actions" || name == "blocked") && c.Text == "" {
		return Command{}, parseError(name, NeedText)
	}
	if name == "report" && c.Incident != "" {
		c.Text, c.Incident = c.Incident+" "+c.Text, "" // a report that starts with an id is still a new report
	}
	return c, nil
}

// afterWords is text without its first n words, its lines kept.
func afterWords(text string, n int) string {
	for ; n > 0; n-- {
		text = strings.TrimLeft(text, " \t\r\n")
		if i := strings.IndexAny(text, " \t\r\n"); i >= 0 {
			text = text[i:]
		} else {
			text = ""
		}
	}
	return strings.TrimSpace(text)
}

// callerArg cuts --caller "..." (straight or typographic quotes, as
// Slack may send them) out of a report's text: the caller, and the rest.
func callerArg(text string) (caller, rest string) {
	i := strings.Index(text, "--caller")
	after := strings.TrimSpace(text[i+len("--caller"):])
	open, size := rune(0), 0
	for _, q := range []rune{'"', '“', '”'} {
		if strings.HasPrefix(after, string(q)) {
			open, size = q, len(string(q))
		}
	}
	if open == 0 {
		return after, ""
	}
	after = after[size:]
	end := strings.IndexAny(after, "\"”“")
	if end < 0 {
		return after, ""
	}
	_, closeSize := utf8.DecodeRuneInString(after[end:])
	return strings.TrimSpace(after[:end]), strings.TrimSpace(after[end+closeSize:])
}

// FromButton reads a card button's action ("ack:SEC-2026-0042"). Only
// Escalate carries a reason (the press itself): an Acknowledge or Done
// press has no note, so its audit entry says what was pressed and no
// more.
func FromButton(action string) (Command, error) {
	if rest, ok := strings.CutPrefix(action, ReplySendButton+":"); ok {
		// reply-send:ID:FORM:NONCE, the Send of a /reply preview.
		parts := strings.Split(rest, ":")
		if len(parts) != 3 || !idRE.MatchString(parts[0]) {
			return Command{}, &ParseError{Command: action, Need: NeedKnownButton}
		}
		return Command{Name: ReplySendButton, Incident: strings.ToUpper(parts[0]), Args: parts[1:]}, nil
	}
	name, id, ok := strings.Cut(action, ":")
	if !ok || !idRE.MatchString(id) || (name != "ack" && name != "done" && name != "escalate") {
		return Command{}, &ParseError{Command: action, Need: NeedKnownButton}
	}
	c := Command{Name: name, Incident: strings.ToUpper(id)}
	if name == "escalate" {
		c.Text = "pressed Escalate on the card"
	}
	return c, nil
}

// buttonAction is a Slack button's action as FromButton reads it. The
// card's action_id is "ack:ID" and its value the incident (an older card
// had action_id "ack" alone): the value is added only where the id lacks
// it, whichever way (HTTP or Socket Mode) the press came.
func buttonAction(actionID, value string) string {
	if strings.Contains(actionID, ":") || value == "" {
		return actionID
	}
	return actionID + ":" + value
}

// ParseError is what a typed command lacks; the replies' "parse-error"
// template words it in the reader's language.
type ParseError struct {
	Command string // the command as typed (or the button's action)
	Need    Need
	Usage   string // the command's usage line
}

// Need names what a command lacks.
type Need string

// What a command may lack.
const (
	NeedKnownCommand Need = "known-command"
	NeedKnownButton  Need = "known-button"
	NeedIncident     Need = "incident"
	NeedTime         Need = "time"
	NeedUnits        Need = "units"
	NeedAsset        Need = "asset" // an asset and its state
	NeedContact      Need = "contact"
	NeedPerson       Need = "person"
	NeedOneDraft     Need = "one-draft"
	NeedLinkArg      Need = "link-arg"
	NeedPriority     Need = "priority"
	NeedText         Need = "text"
)

// Needs are all of them, for the words that must cover them.
var Needs = []Need{NeedKnownCommand, NeedKnownButton, NeedIncident, NeedTime, NeedUnits, NeedContact, NeedPerson, NeedOneDraft, NeedLinkArg, NeedPriority, NeedText}

// Error is for logs; people read the template's words.
func (e *ParseError) Error() string {
	switch e.Need {
	case NeedKnownCommand:
		return "unknown command /" + e.Command + ": /help lists them"
	case NeedKnownButton:
		return fmt.Sprintf("unknown button %q", e.Command)
	case NeedIncident:
		return "/" + e.Command + " needs an incident id: " + e.Usage
	}
	return "/" + e.Command + " needs " + string(e.Need) + ": " + e.Usage
}

func parseError(name string, need Need) *ParseError {
	return &ParseError{Command: name, Need: need, Usage: usage(name)}
}

func usage(name string) string {
	for _, n := range Names {
		if n.Name == name {
			return n.Usage
		}
	}
	return "/help"
}

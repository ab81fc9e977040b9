package responders

import (
	"context"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"tocsin/internal/printable"
)

// Card is an incident as a chat card: posted once per channel, then edited
// in place as the incident changes. Every string but URL and IncidentID
// may come from a report and is untrusted: the posters escape it.
type Card struct {
	IncidentID string    `json:"incident_id"`
	Summary    string    `json:"summary"`
	Priority   string    `json:"priority"`
	Definition string    `json:"definition"` // of Priority
	Category   string    `json:"category"`
	Status     string    `json:"status"`
	Reporter   string    `json:"reporter"`
	Opened     time.Time `json:"opened"`
	Messages   int       `json:"messages"`
	URL        string    `json:"url"` // the desk page of the incident
	// CallTree is the call tree's progress in a line or two ("" when no
	// playbook runs): who is waited for, by when.
	CallTree string `json:"calltree,omitempty"`
	// Assignee is who is responsible, if anyone.
	Assignee string `json:"assignee,omitempty"`
	// Drafts are what waits for a second person's approval to go to an
	// external contact, a line each with the draft's id that /approve
	// names ("" when nothing waits).
	Drafts string `json:"drafts,omitempty"`
	// Actions are the team's actions for the enhanced alert, the current
	// version (ActionsVersion), as written; "" until written.
	Actions        string `json:"actions,omitempty"`
	ActionsVersion int    `json:"actions_version,omitempty"`
	// Version orders the states of one incident: a poster never replaces
	// a newer card with an older one.
	Version int64 `json:"version"`
}

// ChatPoster posts incident cards to one chat platform, and direct
// messages to its users. Post returns the platform's reference to the new
// message (for Update). Find returns the reference of the card an earlier
// Post made for the incident in channel, or "", for when that Post's
// outcome is unknown (a crash between the platform's answer and our
// record of it): a card appears once. Errors are *SendError: a rate limit
// is temporary and carries the platform's Retry-After; a refused token or
// an unknown channel is permanent.
type ChatPoster interface {
	Post(ctx context.Context, channel string, c Card) (ref string, err error)
	Update(ctx context.Context, ref string, c Card) error
	Find(ctx context.Context, channel, incidentID string) (ref string, err error)
	// Direct sends text to one user; key is the outbox item's, again
	// says an earlier attempt may have sent it already.
	Direct(ctx context.Context, userID, text, key string, again bool) error
}

// cardEventType names Tocsin's incident cards in Slack message metadata.
const cardEventType = "tocsin_incident_card"

// directEventType names Tocsin's direct messages (pages) in Slack message
// metadata; the payload's "key" is the outbox item's.
const directEventType = "tocsin_page"

// sendTimeoutChat bounds one chat API call.
const sendTimeoutChat = 20 * time.Second

// Button actions on a card, as the chat-ops router will read them back:
// Slack action_id, and the Discord custom_id before ":INCIDENT".
const (
	ActionAck      = "ack"
	ActionDone     = "done"
	ActionEscalate = "escalate"
)

// zwsp is a zero-width space: inserted after "@" or "<" it leaves the text
// readable and makes it no longer a mention.
const zwsp = "\u200b"

// broadcast matches the words both platforms notify everyone for.
var broadcast = regexp.MustCompile(`(?i)@(channel|here|everyone)`)

// ChatText makes untrusted text inert on a chat platform ("slack" or
// "discord"): the one escaping path for whatever a reporter or a chat user
// wrote, in cards, direct messages and command answers alike.
func ChatText(platform, s string, max int) string {
	if platform == "discord" {
		return discordText(s, max)
	}
	return slackText(s, max)
}

// lines escapes text line by line (each line as escape makes it inert,
// the line breaks kept), within max runes in all.
func lines(text string, max int, escape func(string, int) string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		out = append(out, escape(l, 300))
	}
	return capRunes(strings.Join(out, "\n"), max)
}

// slackText makes untrusted text inert in Slack mrkdwn: &, < and > are
// escaped as Slack requires, so no <!channel>, <!subteam^…>, <@U…> or
// <url|label> survives; broadcast words are broken; the result is capped
// at max runes.
func slackText(s string, max int) string {
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(clean(s))
	return capRunes(broadcast.ReplaceAllString(s, "@"+zwsp+"$1"), max)
}

// discordText makes untrusted text inert in Discord markdown: markdown
// characters are backslash-escaped, user, role and channel mentions
// (<@…>, <@&…>, <#…>) and @everyone/@here are broken, and the result is
// capped at max runes. (The posters also send allowed_mentions with
// nothing allowed, so even a missed case cannot notify anyone.)
func discordText(s string, max int) string {
	var b strings.Builder
	for _, r := range clean(s) {
		switch r {
		case '\\', '*', '_', '~', '`', '|', '>', '#', '[', ']', '(', ')', '-', ':':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("<" + zwsp)
		case '@':
			b.WriteString("@" + zwsp)
		default:
			b.WriteRune(r)
		}
	}
	return capRunes(b.String(), max)
}

// clean makes s one printable line (package printable), so that a card
// keeps its layout; the platform's own escaping follows.
func clean(s string) string { return printable.Line(s) }

// capRunes shortens s to at most max runes, marking the cut with "…", and
// never leaves half an escape sequence (a trailing backslash or "&amp").
func capRunes(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)[:max-1]
	out := string(r)
	if i := strings.LastIndexByte(out, '&'); i >= 0 && !strings.Contains(out[i:], ";") {
		out = out[:i]
	}
	for strings.HasSuffix(out, "\\") && !strings.HasSuffix(out, "\\\\") {
		out = strings.TrimSuffix(out, "\\")
	}
	out = strings.TrimSuffix(strings.TrimSuffix(out, zwsp), "<")
	return out + "…"
}

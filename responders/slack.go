package responders

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/slack-go/slack"
)

// Slack posts incident cards with Slack's Web API (chat.postMessage,
// chat.update) as Block Kit messages with Acknowledge, Done and Escalate buttons.
type Slack struct {
	api *slack.Client
}

// NewSlack returns a poster. apiURL is the Web API base
// (https://slack.com/api/, or a test server's).
func NewSlack(token, apiURL string) *Slack {
	client := &http.Client{Timeout: sendTimeoutChat}
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	return &Slack{api: slack.New(token, slack.OptionAPIURL(apiURL), slack.OptionHTTPClient(client))}
}

// Probe checks the token (auth.test) and returns whom it is for.
func (s *Slack) Probe(ctx context.Context) (string, error) {
	r, err := s.api.AuthTestContext(ctx)
	if err != nil {
		return "", slackError(err)
	}
	return r.User + " in " + r.Team, nil
}

// Post sends a new card to channel; the reference is "CHANNEL/TS".
func (s *Slack) Post(ctx context.Context, channel string, c Card) (string, error) {
	ch, ts, err := s.api.PostMessageContext(ctx, channel, slackMessage(c)...)
	if err != nil {
		return "", slackError(err)
	}
	return ch + "/" + ts, nil
}

// Find looks through the channel's recent history for the card of
// incidentID, known by its message metadata (event type
// tocsin_incident_card, payload {"incident": ID}).
func (s *Slack) Find(ctx context.Context, channel, incidentID string) (string, error) {
	resp, err := s.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: channel, Limit: 200, IncludeAllMetadata: true})
	if err != nil {
		return "", slackError(err)
	}
	for _, m := range resp.Messages {
		if m.Metadata.EventType == cardEventType && fmt.Sprint(m.Metadata.EventPayload["incident"]) == incidentID {
			return channel + "/" + m.Timestamp, nil
		}
	}
	return "", nil
}

// Update replaces the card posted as ref.
func (s *Slack) Update(ctx context.Context, ref string, c Card) error {
	ch, ts, ok := strings.Cut(ref, "/")
	if !ok {
		return &SendError{Err: fmt.Errorf("bad Slack message reference %q", ref)}
	}
	_, _, _, err := s.api.UpdateMessageContext(ctx, ch, ts, slackMessage(c)...)
	return slackError(err)
}

// Direct sends text to one person: Slack posts a message addressed to a
// user id in the app's direct conversation with them. The text may carry
// report content: it goes through slackText and is not parsed for links
// or mentions. Slack has no idempotency key for chat.postMessage, so the
// message carries key in its metadata, and a send made again (after a
// crash or a lost answer, when Slack may have posted it) first looks for
// it in the conversation's recent history. When the look-up fails (the
// app lacks im:history) it posts: a page twice is better than none.
func (s *Slack) Direct(ctx context.Context, userID, text, key string, again bool) error {
	if again {
		if found, err := s.findDirect(ctx, userID, key); err == nil && found {
			return nil
		}
	}
	_, _, err := s.api.PostMessageContext(ctx, userID, slack.MsgOptionText(slackText(text, 3000), false),
		slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl(),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: directEventType, EventPayload: map[string]any{"key": key}}))
	return slackError(err)
}

// findDirect reports whether the app's direct conversation with userID
// already shows the message sent under key.
func (s *Slack) findDirect(ctx context.Context, userID, key string) (bool, error) {
	ch, _, _, err := s.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{userID}})
	if err != nil {
		return false, slackError(err)
	}
	resp, err := s.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: ch.ID, Limit: 100, IncludeAllMetadata: true})
	if err != nil {
		return false, slackError(err)
	}
	for _, m := range resp.Messages {
		if m.Metadata.EventType == directEventType && fmt.Sprint(m.Metadata.EventPayload["key"]) == key {
			return true, nil
		}
	}
	return false, nil
}

// slackMessage is the card as Block Kit. Report text only ever appears
// through slackText, in text objects with verbatim set, so Slack does not
// turn it into links or mentions.
func slackMessage(c Card) []slack.MsgOption {
	untrusted := func(s string, max int) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, slackText(s, max), false, true)
	}
	field := func(label, value string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, "*"+label+"*\n"+slackText(value, 300), false, true)
	}
	// The header is plain text, which Slack does not escape: it carries
	// only what Tocsin itself wrote.
	header := c.IncidentID + " · " + c.Priority + " · " + c.Category
	title := c.IncidentID + " · " + c.Priority + " · " + c.Summary
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, capRunes(clean(header), 150), false, false)),
		slack.NewSectionBlock(untrusted(c.Summary, 2900), []*slack.TextBlockObject{
			field("Priority", c.Priority+" ("+c.Definition+")"),
			field("Status", c.Status),
			field("Category", c.Category),
			field("Reporter", c.Reporter),
			field("Opened", c.Opened.UTC().Format("2006-01-02 15:04 UTC")),
			field("Messages", fmt.Sprint(c.Messages)),
			field("Responsible", orDash(c.Assignee)),
		}, nil),
	}
	if c.CallTree != "" {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*Call tree*\n"+lines(c.CallTree, 2800, slackText), false, true), nil, nil))
	}
	if c.Actions != "" {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf("*Actions (version %d)*\n", c.ActionsVersion)+lines(c.Actions, 2800, slackText), false, true), nil, nil))
	}
	if c.Drafts != "" {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*Waiting for approval*\n"+lines(c.Drafts, 2800, slackText), false, true), nil, nil))
	}
	if c.URL != "" {
		blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, "<"+c.URL+"|Open "+c.IncidentID+" on the desk>", false, false)))
	}
	blocks = append(blocks, slack.NewActionBlock("tocsin:"+c.IncidentID,
		// action_id "ack:ID" as DESIGN.md says (unique in the message, as
		// Slack wants); the value repeats the incident.
		slack.NewButtonBlockElement(ActionAck+":"+c.IncidentID, c.IncidentID, slack.NewTextBlockObject(slack.PlainTextType, "Acknowledge", false, false)).WithStyle(slack.StylePrimary),
		slack.NewButtonBlockElement(ActionDone+":"+c.IncidentID, c.IncidentID, slack.NewTextBlockObject(slack.PlainTextType, "Done", false, false)),
		slack.NewButtonBlockElement(ActionEscalate+":"+c.IncidentID, c.IncidentID, slack.NewTextBlockObject(slack.PlainTextType, "Escalate", false, false)).WithStyle(slack.StyleDanger),
	))
	return []slack.MsgOption{
		slack.MsgOptionText(slackText(title, 300), false), // the notification text
		slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
		// Names the incident, so that Find can tell a card already posted.
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: cardEventType, EventPayload: map[string]any{"incident": c.IncidentID}}),
	}
}

// slackError classifies a Slack API error for the outbox.
func slackError(err error) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &SendError{Temporary: true, RetryAfter: rl.RetryAfter, Err: fmt.Errorf("slack: %w", err)}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return &SendError{Temporary: sc.Code >= 500 || sc.Code == http.StatusTooManyRequests, Err: fmt.Errorf("slack: %w", err)}
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
			return &SendError{Temporary: true, Err: fmt.Errorf("slack: %s", se.Err)}
		}
		// invalid_auth, channel_not_found, not_in_channel, message_not_found, ...
		return &SendError{Err: fmt.Errorf("slack: %s", se.Err)}
	}
	// The network: worth another try.
	return &SendError{Temporary: true, Err: fmt.Errorf("slack: %w", err)}
}

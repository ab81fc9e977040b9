package responders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// Discord posts incident cards with Discord's REST API (create and edit
// channel message) as embeds with Acknowledge, Done and Escalate buttons.
type Discord struct {
	s *discordgo.Session
}

// NewDiscord returns a poster. apiURL, when not "", replaces Discord's
// REST base (a proxy, a test server, the sandbox's capture).
func NewDiscord(token, apiURL string) (*Discord, error) {
	s, err := discordgo.New("Bot " + token)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: sendTimeoutChat}
	if apiURL != "" {
		if !strings.HasSuffix(apiURL, "/") {
			apiURL += "/"
		}
		// discordgo's endpoints are package variables; redirect its requests.
		client.Transport = rebase{from: discordgo.EndpointAPI, to: apiURL}
	}
	s.Client = client
	// The outbox retries, with the wait Discord asks for: discordgo must
	// not sleep inside a send.
	s.ShouldRetryOnRateLimit = false
	s.MaxRestRetries = 0
	return &Discord{s: s}, nil
}

// Probe checks the token (GET /users/@me) and returns the bot's name.
func (d *Discord) Probe(ctx context.Context) (string, error) {
	u, err := d.s.User("@me", discordgo.WithContext(ctx))
	if err != nil {
		return "", err
	}
	return u.Username, nil
}

// rebase sends requests for URLs under from to the same path under to.
type rebase struct{ from, to string }

func (r rebase) RoundTrip(req *http.Request) (*http.Response, error) {
	if u := req.URL.String(); strings.HasPrefix(u, r.from) {
		nu, err := req.URL.Parse(r.to + strings.TrimPrefix(u, r.from))
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.URL, req.Host = nu, nu.Host
	}
	return http.DefaultTransport.RoundTrip(req)
}

// discordCreate is a create-message body with the nonce fields that
// discordgo's MessageSend lacks.
type discordCreate struct {
	Embeds          []*discordgo.MessageEmbed         `json:"embeds"`
	Components      []discordgo.MessageComponent      `json:"components"`
	AllowedMentions *discordgo.MessageAllowedMentions `json:"allowed_mentions"`
	Nonce           string                            `json:"nonce"`
	EnforceNonce    bool                              `json:"enforce_nonce"`
}

// CardNonce is the nonce of an incident's card in a channel: the same on
// every attempt, so that with enforce_nonce Discord answers a repeated
// create with the message the first one made, rather than a second card.
// Discord allows 25 characters.
func CardNonce(channelID, incidentID string) string {
	sum := sha256.Sum256([]byte(channelID + "/" + incidentID))
	return "t" + hex.EncodeToString(sum[:12])
}

// Post sends a new card to channel; the reference is "CHANNEL/MESSAGE".
func (d *Discord) Post(ctx context.Context, channel string, c Card) (string, error) {
	embeds, components := discordCard(c)
	body := discordCreate{Embeds: embeds, Components: components,
		AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}},
		Nonce:           CardNonce(channel, c.IncidentID), EnforceNonce: true}
	ep := discordgo.EndpointChannelMessages(channel)
	resp, err := d.s.RequestWithBucketID(http.MethodPost, ep, body, ep, discordgo.WithContext(ctx))
	if err != nil {
		return "", discordError(err)
	}
	var m discordgo.Message
	if err := json.Unmarshal(resp, &m); err != nil || m.ID == "" {
		return "", &SendError{Temporary: true, Err: fmt.Errorf("discord: create message answered %q: %v", resp, err)}
	}
	return m.ChannelID + "/" + m.ID, nil
}

// Find returns "": Discord needs no look-up, the card's nonce makes a
// repeated Post return the first card.
func (d *Discord) Find(context.Context, string, string) (string, error) { return "", nil }

// Direct sends text to one person: Discord opens (or returns) the bot's DM
// channel with the user, and the text is posted there with no mentions
// parsed; key (the outbox item's) makes a repeat of the same send a no-op,
// so again needs no look-up.
func (d *Discord) Direct(ctx context.Context, userID, text, key string, _ bool) error {
	ch, err := d.s.UserChannelCreate(userID, discordgo.WithContext(ctx))
	if err != nil {
		return discordError(err)
	}
	// The enforced nonce makes a repeated send (after a crash between
	// Discord's answer and our record of it) return the first message.
	sum := sha256.Sum256([]byte(key))
	body := struct {
		Content         string                            `json:"content"`
		AllowedMentions *discordgo.MessageAllowedMentions `json:"allowed_mentions"`
		Nonce           string                            `json:"nonce"`
		EnforceNonce    bool                              `json:"enforce_nonce"`
	}{discordText(text, 2000), &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}, "d" + hex.EncodeToString(sum[:12]), true}
	ep := discordgo.EndpointChannelMessages(ch.ID)
	_, err = d.s.RequestWithBucketID(http.MethodPost, ep, body, ep, discordgo.WithContext(ctx))
	return discordError(err)
}

// Update replaces the card posted as ref.
func (d *Discord) Update(ctx context.Context, ref string, c Card) error {
	ch, id, ok := strings.Cut(ref, "/")
	if !ok {
		return &SendError{Err: fmt.Errorf("bad Discord message reference %q", ref)}
	}
	embeds, components := discordCard(c)
	_, err := d.s.ChannelMessageEditComplex(&discordgo.MessageEdit{
		Channel: ch, ID: id, Embeds: &embeds, Components: &components,
		AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}},
	}, discordgo.WithContext(ctx))
	return discordError(err)
}

// discordCard is the card as an embed; report text only ever appears
// through discordText, within Discord's limits (title 256, description
// 4096, field value 1024).
func discordCard(c Card) ([]*discordgo.MessageEmbed, []discordgo.MessageComponent) {
	colour := map[string]int{"P1": 0xd0312d, "P2": 0xe8912d, "P3": 0xe8c72d, "P4": 0x7a8793}[c.Priority]
	field := func(name, value string, inline bool) *discordgo.MessageEmbedField {
		return &discordgo.MessageEmbedField{Name: name, Value: discordText(value, 1000), Inline: inline}
	}
	e := &discordgo.MessageEmbed{
		Title:       discordText(c.IncidentID+" · "+c.Priority+" · "+c.Summary, 250),
		URL:         c.URL,
		Description: discordText(c.Summary, 4000),
		Color:       colour,
		Fields: []*discordgo.MessageEmbedField{
			field("Priority", c.Priority+" ("+c.Definition+")", false),
			field("Status", c.Status, true),
			field("Category", c.Category, true),
			field("Reporter", c.Reporter, true),
			field("Opened", c.Opened.UTC().Format("2006-01-02 15:04 UTC"), true),
			field("Messages", fmt.Sprint(c.Messages), true),
			field("Responsible", orDash(c.Assignee), true),
		},
	}
	if c.CallTree != "" {
		e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: "Call tree", Value: lines(c.CallTree, 1000, discordText)})
	}
	if c.Actions != "" {
		e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: fmt.Sprintf("Actions (version %d)", c.ActionsVersion), Value: lines(c.Actions, 1000, discordText)})
	}
	if c.Drafts != "" {
		e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: "Waiting for approval", Value: lines(c.Drafts, 1000, discordText)})
	}
	if !c.Opened.IsZero() {
		e.Timestamp = c.Opened.UTC().Format("2006-01-02T15:04:05Z")
	}
	components := []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
		discordgo.Button{Label: "Acknowledge", Style: discordgo.PrimaryButton, CustomID: ActionAck + ":" + c.IncidentID},
		discordgo.Button{Label: "Done", Style: discordgo.SuccessButton, CustomID: ActionDone + ":" + c.IncidentID},
		discordgo.Button{Label: "Escalate", Style: discordgo.DangerButton, CustomID: ActionEscalate + ":" + c.IncidentID},
	}}}
	return []*discordgo.MessageEmbed{e}, components
}

// discordError classifies a Discord REST error for the outbox.
func discordError(err error) error {
	if err == nil {
		return nil
	}
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) {
		return &SendError{Temporary: true, RetryAfter: rl.RetryAfter, Err: fmt.Errorf("discord: %w", err)}
	}
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil {
		code := re.Response.StatusCode
		return &SendError{Temporary: code >= 500 || code == http.StatusTooManyRequests, Err: fmt.Errorf("discord: HTTP %d: %s", code, strings.TrimSpace(string(re.ResponseBody)))}
	}
	return &SendError{Temporary: true, Err: fmt.Errorf("discord: %w", err)}
}

// CommandDef is an application command to register: its name, what it
// does, and its string options (all optional).
type CommandDef struct {
	Name, Description string
	Options           []string
}

// RegisterCommands installs the application's global commands, replacing
// whatever was registered before (Discord's bulk overwrite: running it
// again changes nothing).
func (d *Discord) RegisterCommands(ctx context.Context, appID string, defs []CommandDef) error {
	var cmds []*discordgo.ApplicationCommand
	for _, c := range defs {
		ac := &discordgo.ApplicationCommand{Name: c.Name, Description: capRunes(c.Description, 100), Type: discordgo.ChatApplicationCommand}
		for _, o := range c.Options {
			ac.Options = append(ac.Options, &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: o,
				Description: map[string]string{"id": "the incident, e.g. SEC-2026-0042", "text": "the rest: a note, a reason, a time, units"}[o]})
		}
		cmds = append(cmds, ac)
	}
	_, err := d.s.ApplicationCommandBulkOverwrite(appID, "", cmds, discordgo.WithContext(ctx))
	return discordError(err)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Session is the discordgo session (its REST calls rebased like every
// other), for the gateway.
func (d *Discord) Session() *discordgo.Session { return d.s }

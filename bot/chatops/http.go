package chatops

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack/socketmode"

	"tocsin/responders"
)

// Handler serves the platforms' requests: POST /slack/commands,
// /slack/interactions (when a signing secret is set) and
// /discord/interactions (when a public key is set). What is not verified
// is answered 401 and changes nothing; Refused counts it.
type Handler struct {
	Router  *Router
	Refused func()
	Log     *slog.Logger
	// FastEnough is how long a command may take before the request is
	// answered "working on it" and the result follows from the outbox
	// (Slack's response_url, a Discord follow-up): the platforms wait 3 s.
	FastEnough time.Duration
	// DiscordAPI is the REST base follow-ups go to.
	DiscordAPI string

	slackSecret   string
	discordKey    ed25519.PublicKey
	run           func(context.Context, Command) Reply // Router.Handle; tests slow it down
	socketOptions []socketmode.Option
}

// NewHandler returns a handler for the platforms whose secret is given.
func NewHandler(r *Router, slackSecret string, discordKey ed25519.PublicKey, log *slog.Logger) *Handler {
	return &Handler{Router: r, slackSecret: slackSecret, discordKey: discordKey, Log: log, Refused: func() {}, FastEnough: 2 * time.Second,
		DiscordAPI: "https://discord.com/api/v9/"}
}

// Routes are the handler's paths.
func (h *Handler) Routes() map[string]http.HandlerFunc {
	out := map[string]http.HandlerFunc{}
	if h.slackSecret != "" {
		out["POST /slack/commands"] = h.slackCommand
		out["POST /slack/interactions"] = h.slackInteraction
	}
	if len(h.discordKey) == ed25519.PublicKeySize {
		out["POST /discord/interactions"] = h.discordInteraction
	}
	return out
}

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	h.Refused()
	h.Log.Warn("chat request refused", "path", r.URL.Path, "why", err)
	http.Error(w, "request not verified", http.StatusUnauthorized)
}

func (h *Handler) slackCommand(w http.ResponseWriter, r *http.Request) {
	body, err := h.readSlack(r)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	form, _ := url.ParseQuery(string(body))
	c, perr := Parse(form.Get("command"), form.Get("text"))
	c.Platform, c.UserID, c.RequestID, c.Age = "slack", form.Get("user_id"), form.Get("trigger_id"), signedAge(r, "X-Slack-Request-Timestamp")
	if perr != nil {
		slackReply(w, h.Router.Unparsed(r.Context(), c, perr))
		return
	}
	h.slackAnswer(w, r, c, form.Get("response_url"))
}

// slackAnswer answers c at once when it is done within FastEnough, else
// says it is on it and sends the result to response_url later.
func (h *Handler) slackAnswer(w http.ResponseWriter, r *http.Request, c Command, responseURL string) {
	reply, ok := h.handle(r, c, func(reply Reply) {
		body, _ := json.Marshal(slackBody(reply))
		h.late(r, c, responseURL, body)
	})
	if !ok {
		reply = Reply{Text: "Working on it: the answer follows here.", Ephemeral: true}
	}
	slackReply(w, reply)
}

// handle runs c. Done within FastEnough it returns the reply; else it
// returns false and later hands the reply to late.
func (h *Handler) handle(r *http.Request, c Command, late func(Reply)) (Reply, bool) {
	done := make(chan Reply, 1)
	ctx := context.WithoutCancel(r.Context())
	run := h.runner()
	go func() { done <- run(ctx, c) }()
	select {
	case reply := <-done:
		return reply, true
	case <-time.After(h.FastEnough):
		go func() { late(<-done) }()
		return Reply{}, false
	}
}

// lateBody queues reply for Slack's response_url.
func (h *Handler) lateBody(ctx context.Context, c Command, responseURL string, reply Reply) {
	body, _ := json.Marshal(slackBody(reply))
	h.queueLate(ctx, c, responseURL, body)
}

// late queues a late answer in the outbox: retried, and seen if it fails.
func (h *Handler) late(r *http.Request, c Command, target string, body []byte) {
	h.queueLate(r.Context(), c, target, body)
}

// queueLate queues body for target (Slack's response_url, a Discord
// follow-up's webhook) on c's platform.
func (h *Handler) queueLate(ctx context.Context, c Command, target string, body []byte) {
	if target == "" {
		h.Log.Warn("a slow command's answer has nowhere to go", "platform", c.Platform, "request", c.RequestID)
		return
	}
	if err := h.Router.Desk.LateAnswer(context.WithoutCancel(ctx), c.Platform, target, c.RequestID, body); err != nil {
		h.Log.Error("queueing a late answer", "err", err)
	}
}

func (h *Handler) slackInteraction(w http.ResponseWriter, r *http.Request) {
	body, err := h.readSlack(r)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	form, _ := url.ParseQuery(string(body))
	var p struct {
		Type        string `json:"type"`
		TriggerID   string `json:"trigger_id"`
		ResponseURL string `json:"response_url"`
		User        struct {
			ID string `json:"id"`
		} `json:"user"`
		Actions []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"actions"`
	}
	if err := json.Unmarshal([]byte(form.Get("payload")), &p); err != nil || p.Type != "block_actions" || len(p.Actions) == 0 {
		slackReply(w, Reply{Text: "Not a button press this desk knows.", Ephemeral: true})
		return
	}
	c, perr := FromButton(buttonAction(p.Actions[0].ActionID, p.Actions[0].Value))
	c.Platform, c.UserID, c.RequestID, c.Age = "slack", p.User.ID, p.TriggerID, signedAge(r, "X-Slack-Request-Timestamp")
	if perr != nil {
		slackReply(w, h.Router.Unparsed(r.Context(), c, perr))
		return
	}
	h.slackAnswer(w, r, c, p.ResponseURL)
}

func slackReply(w http.ResponseWriter, reply Reply) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(slackBody(reply))
}

// slackBody is a reply as Slack takes it, at once or at response_url.
func slackBody(reply Reply) map[string]any {
	kind := "in_channel"
	if reply.Ephemeral {
		kind = "ephemeral"
	}
	body := map[string]any{"response_type": kind, "text": responders.ChatText("slack", reply.Text, 3000)}
	if b := reply.Button; b != nil {
		body["blocks"] = []any{
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": responders.ChatText("slack", reply.Text, 3000)}},
			map[string]any{"type": "actions", "elements": []any{map[string]any{"type": "button", "style": "primary", "action_id": b.ID,
				"text": map[string]any{"type": "plain_text", "text": responders.ChatText("slack", b.Label, 75)}}}},
		}
	}
	return body
}

// discordBody is a reply as a Discord message (the data of an
// interaction response, or a follow-up).
func discordBody(reply Reply) map[string]any {
	data := map[string]any{"content": responders.ChatText("discord", reply.Text, 2000), "allowed_mentions": map[string]any{"parse": []string{}}}
	if reply.Ephemeral {
		data["flags"] = 64
	}
	if b := reply.Button; b != nil {
		data["components"] = []any{map[string]any{"type": 1, "components": []any{
			map[string]any{"type": 2, "style": 1, "label": b.Label, "custom_id": b.ID}}}}
	}
	return data
}

// discordInteraction answers PING with PONG, and commands and button
// presses with a message (ephemeral where only the caller needs it).
func (h *Handler) discordInteraction(w http.ResponseWriter, r *http.Request) {
	body, err := h.readDiscord(r)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	var in struct {
		ID            string `json:"id"`
		Type          int    `json:"type"`
		ApplicationID string `json:"application_id"`
		Token         string `json:"token"`
		Data          struct {
			Name     string `json:"name"`
			CustomID string `json:"custom_id"`
			Options  []struct {
				Name  string `json:"name"`
				Value any    `json:"value"`
			} `json:"options"`
		} `json:"data"`
		Member struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"member"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		http.Error(w, "not an interaction", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if in.Type == 1 { // PING
		w.Write([]byte(`{"type":1}`))
		return
	}
	user := in.Member.User.ID
	if user == "" {
		user = in.User.ID // a DM has no member
	}
	var c Command
	var perr error
	switch in.Type {
	case 2: // APPLICATION_COMMAND: options id and text
		var words []string
		for _, name := range []string{"id", "text"} {
			for _, o := range in.Data.Options {
				if s, ok := o.Value.(string); ok && o.Name == name && s != "" {
					words = append(words, s)
				}
			}
		}
		c, perr = Parse("/"+in.Data.Name, strings.Join(words, " "))
	case 3: // MESSAGE_COMPONENT
		c, perr = FromButton(in.Data.CustomID)
	default:
		perr = &ParseError{Command: fmt.Sprint("interaction type ", in.Type), Need: NeedKnownButton}
	}
	c.Platform, c.UserID, c.RequestID, c.Age = "discord", user, in.ID, signedAge(r, "X-Signature-Timestamp")
	if perr != nil {
		json.NewEncoder(w).Encode(map[string]any{"type": 4, "data": discordBody(h.Router.Unparsed(r.Context(), c, perr))})
		return
	}
	reply, ok := h.handle(r, c, func(reply Reply) {
		body, _ := json.Marshal(discordBody(reply))
		followUp := ""
		if in.ApplicationID != "" && in.Token != "" {
			followUp = strings.TrimRight(h.DiscordAPI, "/") + "/webhooks/" + url.PathEscape(in.ApplicationID) + "/" + url.PathEscape(in.Token)
		}
		h.late(r, c, followUp, body)
	})
	if !ok {
		// Deferred: Discord shows "thinking" until the follow-up comes.
		json.NewEncoder(w).Encode(map[string]any{"type": 5, "data": map[string]any{"flags": 64}})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"type": 4, "data": discordBody(reply)})
}

func hmacHex(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

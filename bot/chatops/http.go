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

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"tocsin/bot/act"
	"tocsin/responders"
	"tocsin/templates"
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
	// OpenView opens a Slack modal for the trigger (views.open: the
	// trigger lives 3 s, so it cannot wait for the outbox); nil: /actions
	// needs its text in the command.
	OpenView func(ctx context.Context, triggerID string, view slack.ModalViewRequest) error

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
	if words := strings.Fields(form.Get("text")); h.OpenView != nil && strings.EqualFold(form.Get("command"), "/actions") && len(words) == 1 && idRE.MatchString(words[0]) {
		// /actions ID without the text: a modal takes it, multi-line.
		lang := h.Router.Desk.Language(r.Context(), h.Router.Actor(Command{Platform: "slack", UserID: form.Get("user_id")}))
		if err := h.OpenView(r.Context(), form.Get("trigger_id"), slackActionsModal(lang, strings.ToUpper(words[0]))); err != nil {
			slackReply(w, Reply{Text: Failed(lang, err), Ephemeral: true})
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
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
		View struct {
			ID         string `json:"id"`
			CallbackID string `json:"callback_id"`
			State      struct {
				Values map[string]map[string]struct {
					Value string `json:"value"`
				} `json:"values"`
			} `json:"state"`
		} `json:"view"`
	}
	if err := json.Unmarshal([]byte(form.Get("payload")), &p); err == nil && p.Type == "view_submission" {
		h.slackViewSubmission(w, r, p.User.ID, p.View.ID, p.View.CallbackID, p.View.State.Values["actions"]["text"].Value)
		return
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

// slackViewSubmission takes the actions modal's text: done, the modal
// closes (the card shows the new version); refused or failed, the modal
// says why under its input.
func (h *Handler) slackViewSubmission(w http.ResponseWriter, r *http.Request, user, viewID, callback, text string) {
	c := Command{Name: "actions", Text: strings.TrimSpace(text), Platform: "slack", UserID: user, RequestID: viewID, Age: signedAge(r, "X-Slack-Request-Timestamp")}
	id, ok := strings.CutPrefix(callback, "actions:")
	var reply Reply
	switch {
	case !ok || !idRE.MatchString(id):
		reply = h.Router.Unparsed(r.Context(), c, &ParseError{Command: callback, Need: NeedKnownButton})
	case c.Text == "":
		reply = h.Router.Unparsed(r.Context(), c, parseError("actions", NeedText))
	default:
		c.Incident = strings.ToUpper(id)
		a := h.Router.Actor(c)
		res, err := h.Router.Desk.Do(r.Context(), a, c.Command())
		lang := h.Router.Desk.Language(r.Context(), a)
		switch {
		case err != nil:
			reply = Reply{Text: Failed(lang, err)}
		case res.Kind() == act.KindRefused:
			reply = Render(lang, res)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"response_action":"clear"}`))
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"response_action": "errors", "errors": map[string]string{"actions": responders.ChatText("slack", reply.Text, 2000)}})
}

// slackActionsModal is the modal that takes the actions for incident id:
// one multi-line input (block "actions", action "text").
func slackActionsModal(lang, id string) slack.ModalViewRequest {
	label, _ := templates.Reply(lang, "actions-modal-label", nil)
	save, _ := templates.Reply(lang, "actions-modal-submit", nil)
	in := slack.NewPlainTextInputBlockElement(nil, "text")
	in.Multiline, in.MaxLength = true, 3000
	return slack.ModalViewRequest{Type: slack.VTModal, CallbackID: "actions:" + id,
		Title:  slack.NewTextBlockObject(slack.PlainTextType, id, false, false),
		Submit: slack.NewTextBlockObject(slack.PlainTextType, save, false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewInputBlock("actions", slack.NewTextBlockObject(slack.PlainTextType, label, false, false), nil, in)}}}
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
			Name       string `json:"name"`
			CustomID   string `json:"custom_id"`
			Components []struct {
				Components []struct {
					CustomID string `json:"custom_id"`
					Value    string `json:"value"`
				} `json:"components"`
			} `json:"components"`
			Options []struct {
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
		if in.Data.Name == "actions" && len(words) == 1 && idRE.MatchString(words[0]) {
			// /actions ID without the text: a modal takes it, multi-line.
			lang := h.Router.Desk.Language(r.Context(), h.Router.Actor(Command{Platform: "discord", UserID: user}))
			json.NewEncoder(w).Encode(actionsModal(lang, strings.ToUpper(words[0])))
			return
		}
	case 3: // MESSAGE_COMPONENT
		c, perr = FromButton(in.Data.CustomID)
	case 5: // MODAL_SUBMIT: the actions modal
		id, ok := strings.CutPrefix(in.Data.CustomID, "actions:")
		if !ok || !idRE.MatchString(id) {
			perr = &ParseError{Command: in.Data.CustomID, Need: NeedKnownButton}
			break
		}
		c = Command{Name: "actions", Incident: strings.ToUpper(id)}
		for _, row := range in.Data.Components {
			for _, f := range row.Components {
				if f.CustomID == "text" {
					c.Text = strings.TrimSpace(f.Value)
				}
			}
		}
		if c.Text == "" {
			perr = parseError("actions", NeedText)
		}
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

// actionsModal is Discord's modal (interaction response type 9) that
// takes the actions for incident id: one paragraph input, "text".
func actionsModal(lang, id string) map[string]any {
	title, _ := templates.Reply(lang, "actions-modal-title", id)
	label, _ := templates.Reply(lang, "actions-modal-label", nil)
	return map[string]any{"type": 9, "data": map[string]any{
		"custom_id": "actions:" + id,
		"title":     responders.ChatText("discord", title, 45),
		"components": []any{map[string]any{"type": 1, "components": []any{map[string]any{
			"type": 4, "custom_id": "text", "style": 2, "label": responders.ChatText("discord", label, 45), "required": true, "max_length": 4000,
		}}}},
	}}
}

func hmacHex(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

package chatops

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

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

	slackSecret string
	discordKey  ed25519.PublicKey
	seen        replays
}

// NewHandler returns a handler for the platforms whose secret is given.
func NewHandler(r *Router, slackSecret string, discordKey ed25519.PublicKey, log *slog.Logger) *Handler {
	return &Handler{Router: r, slackSecret: slackSecret, discordKey: discordKey, Log: log, Refused: func() {}}
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
	c.Platform, c.UserID, c.RequestID = "slack", form.Get("user_id"), form.Get("trigger_id")
	reply := Reply{Ephemeral: true}
	if perr != nil {
		reply.Text = perr.Error()
	} else {
		reply = h.Router.Handle(r.Context(), c)
	}
	slackReply(w, reply)
}

func (h *Handler) slackInteraction(w http.ResponseWriter, r *http.Request) {
	body, err := h.readSlack(r)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	form, _ := url.ParseQuery(string(body))
	var p struct {
		Type      string `json:"type"`
		TriggerID string `json:"trigger_id"`
		User      struct {
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
	action := p.Actions[0].ActionID
	if !strings.Contains(action, ":") {
		action += ":" + p.Actions[0].Value // the card: action_id ack, value the incident
	}
	c, perr := FromButton(action)
	c.Platform, c.UserID, c.RequestID = "slack", p.User.ID, p.TriggerID
	reply := Reply{Ephemeral: true}
	if perr != nil {
		reply.Text = perr.Error()
	} else {
		reply = h.Router.Handle(r.Context(), c)
	}
	slackReply(w, reply)
}

func slackReply(w http.ResponseWriter, reply Reply) {
	kind := "in_channel"
	if reply.Ephemeral {
		kind = "ephemeral"
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"response_type": kind, "text": responders.ChatText("slack", reply.Text, 3000)})
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
		ID   string `json:"id"`
		Type int    `json:"type"`
		Data struct {
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
		perr = errors.New("not an interaction this desk knows")
	}
	c.Platform, c.UserID, c.RequestID = "discord", user, in.ID
	reply := Reply{Ephemeral: true}
	if perr != nil {
		reply.Text = perr.Error()
	} else {
		reply = h.Router.Handle(r.Context(), c)
	}
	data := map[string]any{"content": responders.ChatText("discord", reply.Text, 2000), "allowed_mentions": map[string]any{"parse": []string{}}}
	if reply.Ephemeral {
		data["flags"] = 64
	}
	json.NewEncoder(w).Encode(map[string]any{"type": 4, "data": data})
}

func hmacHex(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

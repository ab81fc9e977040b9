package chatops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// RunSlackSocket takes Slack's commands and button presses over Socket
// Mode, for an install with no public URL: Slack delivers them over a
// WebSocket the desk opens with the app-level token (xapp-), so there is
// no request to verify, and each is acknowledged with its answer. The
// same parser and router answer as for the HTTP endpoints. It reconnects
// until ctx ends.
func (h *Handler) RunSlackSocket(ctx context.Context, api *slack.Client) {
	for ctx.Err() == nil {
		client := socketmode.New(api, h.socketOptions...)
		runCtx, cancel := context.WithCancel(ctx)
		stopped := make(chan error, 1)
		go func() { stopped <- client.RunContext(runCtx) }()
		h.serveSocket(runCtx, client, stopped)
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second): // then connect again
		}
	}
}

// runner is what carries out a command: the router, or a test's stand-in.
func (h *Handler) runner() func(context.Context, Command) Reply {
	if h.run != nil {
		return h.run
	}
	return h.Router.Handle
}

// firstEnvelope reports whether a Socket Mode envelope is new: neither
// its envelope id nor its payload was seen in the last two windows. The
// store keeps them, as for signed requests, so a redelivery after a
// reconnect or a restart acts once.
func (h *Handler) firstEnvelope(ctx context.Context, req *socketmode.Request) bool {
	now := time.Now()
	since := now.Add(-2 * maxAge)
	sum := sha256.Sum256(req.Payload)
	for _, key := range []string{"slack-socket:envelope:" + req.EnvelopeID, "slack-socket:payload:" + hex.EncodeToString(sum[:])} {
		ok, err := h.Router.Desk.FirstRequest(ctx, key, now, since)
		if err != nil {
			h.Log.Error("checking a Socket Mode envelope for a redelivery; not acted on", "err", err)
			return false
		}
		if !ok {
			return false
		}
	}
	return true
}

func (h *Handler) serveSocket(ctx context.Context, client *socketmode.Client, stopped <-chan error) {
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-stopped:
			h.Log.Warn("Slack Socket Mode connection ended; connecting again", "err", err)
			return
		case evt, ok := <-client.Events:
			if !ok {
				return
			}
			if evt.Request != nil && (evt.Type == socketmode.EventTypeSlashCommand || evt.Type == socketmode.EventTypeInteractive) && !h.firstEnvelope(ctx, evt.Request) {
				// Delivered before (Slack retries an envelope it thinks
				// unacknowledged): acknowledged, not carried out again.
				client.Ack(*evt.Request)
				continue
			}
			switch evt.Type {
			case socketmode.EventTypeSlashCommand:
				cmd, _ := evt.Data.(slack.SlashCommand)
				c, err := Parse(cmd.Command, cmd.Text)
				c.Platform, c.UserID, c.RequestID = "slack", cmd.UserID, cmd.TriggerID
				var reply Reply
				if err != nil {
					reply = h.Router.Unparsed(ctx, c, err)
				} else {
					reply = h.runner()(ctx, c)
				}
				client.Ack(*evt.Request, slackBody(reply))
			case socketmode.EventTypeInteractive:
				cb, _ := evt.Data.(slack.InteractionCallback)
				client.Ack(*evt.Request)
				if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) == 0 {
					continue
				}
				a := cb.ActionCallback.BlockActions[0]
				c, err := FromButton(buttonAction(a.ActionID, a.Value))
				c.Platform, c.UserID, c.RequestID = "slack", cb.User.ID, cb.TriggerID
				var reply Reply
				if err != nil {
					reply = h.Router.Unparsed(ctx, c, err)
				} else {
					reply = h.runner()(ctx, c)
				}
				// A button's answer goes to its response_url, through the
				// outbox like any late answer.
				h.lateBody(ctx, c, cb.ResponseURL, reply)
			}
		}
	}
}

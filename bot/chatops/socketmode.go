package chatops

import (
	"context"
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
			switch evt.Type {
			case socketmode.EventTypeSlashCommand:
				cmd, _ := evt.Data.(slack.SlashCommand)
				c, err := Parse(cmd.Command, cmd.Text)
				c.Platform, c.UserID, c.RequestID = "slack", cmd.UserID, cmd.TriggerID
				reply := Reply{Ephemeral: true}
				if err != nil {
					reply.Text = err.Error()
				} else {
					reply = h.Router.Handle(ctx, c)
				}
				client.Ack(*evt.Request, slackBody(reply))
			case socketmode.EventTypeInteractive:
				cb, _ := evt.Data.(slack.InteractionCallback)
				client.Ack(*evt.Request)
				if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) == 0 {
					continue
				}
				a := cb.ActionCallback.BlockActions[0]
				action := a.ActionID
				if a.Value != "" {
					action += ":" + a.Value
				}
				c, err := FromButton(action)
				c.Platform, c.UserID, c.RequestID = "slack", cb.User.ID, cb.TriggerID
				reply := Reply{Ephemeral: true}
				if err != nil {
					reply.Text = err.Error()
				} else {
					reply = h.Router.Handle(ctx, c)
				}
				// A button's answer goes to its response_url, through the
				// outbox like any late answer.
				h.lateBody(ctx, c, cb.ResponseURL, reply)
			}
		}
	}
}

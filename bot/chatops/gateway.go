package chatops

import (
	"context"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"tocsin/responders"
)

// RunDiscordGateway takes Discord's commands and button presses over the
// gateway, for an install with no public URL: the desk connects with its
// bot token (so there is no request to verify), and answers each
// interaction through Discord's REST callback with the same parser and
// router as the HTTP endpoint. discordgo keeps the connection (heartbeats,
// resumes); Open is retried until ctx ends.
func (h *Handler) RunDiscordGateway(ctx context.Context, s *discordgo.Session) {
	s.Identify.Intents = discordgo.IntentsNone // interactions need none
	remove := s.AddHandler(func(s *discordgo.Session, i *discordgo.InteractionCreate) { h.gatewayInteraction(ctx, s, i) })
	defer remove()
	for ctx.Err() == nil {
		if err := s.Open(); err != nil {
			h.Log.Warn("Discord gateway: connecting", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
			continue
		}
		<-ctx.Done()
		s.Close()
	}
}

func (h *Handler) gatewayInteraction(ctx context.Context, s *discordgo.Session, i *discordgo.InteractionCreate) {
	var c Command
	var err error
	switch i.Type {
	case discordgo.InteractionApplicationCommand:
		data := i.ApplicationCommandData()
		var words []string
		for _, name := range []string{"id", "text"} {
			for _, o := range data.Options {
				if o.Name == name && o.Type == discordgo.ApplicationCommandOptionString && o.StringValue() != "" {
					words = append(words, o.StringValue())
				}
			}
		}
		c, err = Parse("/"+data.Name, strings.Join(words, " "))
	case discordgo.InteractionMessageComponent:
		c, err = FromButton(i.MessageComponentData().CustomID)
	default:
		return
	}
	user := ""
	if i.Member != nil && i.Member.User != nil {
		user = i.Member.User.ID
	} else if i.User != nil {
		user = i.User.ID
	}
	c.Platform, c.UserID, c.RequestID = "discord", user, i.ID
	var reply Reply
	if err != nil {
		reply = h.Router.Unparsed(ctx, c, err)
	} else {
		reply = h.Router.Handle(ctx, c)
	}
	data := &discordgo.InteractionResponseData{Content: responders.ChatText("discord", reply.Text, 2000),
		AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}}
	if reply.Ephemeral {
		data.Flags = discordgo.MessageFlagsEphemeral
	}
	if b := reply.Button; b != nil {
		data.Components = []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
			discordgo.Button{Label: b.Label, Style: discordgo.PrimaryButton, CustomID: b.ID}}}}
	}
	if err := s.InteractionRespond(i.Interaction, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource, Data: data},
		discordgo.WithContext(ctx)); err != nil {
		h.Log.Warn("Discord gateway: answering an interaction", "err", err)
	}
}

package store

import (
	"fmt"
	"strings"
)

// Platforms an outbox item goes out on (its channel column).
const (
	PlatformMail    = "mail"
	PlatformSlack   = "slack"
	PlatformDiscord = "discord"
	PlatformWebhook = "webhook"
)

// DestKind says what a destination's ID names.
type DestKind string

// Kinds of destination.
const (
	ToAddress DestKind = "address" // an e-mail address
	ToChannel DestKind = "channel" // a chat channel: a post everyone there sees
	ToUser    DestKind = "user"    // a chat user: a direct message
	ToHook    DestKind = "hook"    // a configured webhook (a pager), by name
	ToReply   DestKind = "reply"   // a platform's URL for a late answer to a request (Slack response_url, a Discord follow-up)
)

// Dest is where an outbox item goes: a mail to an address, a post to a
// chat channel, a direct message to a chat user, a call of a webhook.
type Dest struct {
	Platform string
	Kind     DestKind
	ID       string
}

// MailTo is the mailbox address.
func MailTo(address string) Dest { return Dest{Platform: PlatformMail, Kind: ToAddress, ID: address} }

// ChannelPost is a post to channel on a chat platform.
func ChannelPost(platform, channel string) Dest {
	return Dest{Platform: platform, Kind: ToChannel, ID: channel}
}

// DirectTo is a direct message to a chat platform's user.
func DirectTo(platform, userID string) Dest {
	return Dest{Platform: platform, Kind: ToUser, ID: userID}
}

// LateReply is a late answer to a chat request at the URL the platform
// gave for it.
func LateReply(platform, url string) Dest { return Dest{Platform: platform, Kind: ToReply, ID: url} }

// Hook is a call of the configured webhook name.
func Hook(name string) Dest { return Dest{Platform: PlatformWebhook, Kind: ToHook, ID: name} }

func (d Dest) String() string { return d.Platform + ":" + d.recipient() }

// recipient is d as the outbox's recipient column holds it: a mail's bare
// address (so rate limits read it), "KIND:ID" for everything else.
func (d Dest) recipient() string {
	if d.Platform == PlatformMail {
		return d.ID
	}
	return string(d.Kind) + ":" + d.ID
}

// To sets the item's destination.
func (it *OutboxItem) To(d Dest) {
	it.Channel, it.Recipient = d.Platform, d.recipient()
}

// Dest is where the item goes. Cards queued before destinations were typed
// read "slack:CHANNEL" or "discord:CHANNEL": a channel post.
func (it OutboxItem) Dest() (Dest, error) {
	if it.Channel == PlatformMail {
		return MailTo(it.Recipient), nil
	}
	kind, id, ok := strings.Cut(it.Recipient, ":")
	switch {
	case !ok || id == "":
		return Dest{}, fmt.Errorf("outbox item %s: recipient %q names no destination", it.IdemKey, it.Recipient)
	case kind == it.Channel:
		return ChannelPost(it.Channel, id), nil
	}
	switch k := DestKind(kind); k {
	case ToChannel, ToUser, ToHook, ToReply:
		return Dest{Platform: it.Channel, Kind: k, ID: id}, nil
	}
	return Dest{}, fmt.Errorf("outbox item %s: unknown destination kind %q", it.IdemKey, kind)
}

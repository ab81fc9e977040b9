package chatops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"tocsin/bot/act"
	"tocsin/templates"
)

// /reply is previewed first: the desk renders the form (a dry run) and
// chat shows it only to its sender, with a Send button whose id carries a
// nonce. The nonce ties the button to the text previewed, kept here for
// previewFor: pressing Send sends that text, by the same account, once.

// ReplySendButton is the name of a preview's Send button (its id is
// reply-send:ID:FORM:NONCE).
const ReplySendButton = "reply-send"

// previewFor is how long a preview's Send button works.
const previewFor = 15 * time.Minute

type preview struct {
	platform, user, incident, form, text string
	until                                time.Time
}

// previews are the /reply previews that wait for their Send, by nonce.
type previews struct {
	mu sync.Mutex
	m  map[string]preview
}

func (p *previews) put(v preview, now time.Time) string {
	buf := make([]byte, 12)
	rand.Read(buf)
	nonce := hex.EncodeToString(buf)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]preview{}
	}
	for k, old := range p.m {
		if now.After(old.until) {
			delete(p.m, k)
		}
	}
	p.m[nonce] = v
	return nonce
}

// take removes and returns the preview of nonce if it is still valid.
func (p *previews) take(nonce string, now time.Time) (preview, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[nonce]
	if !ok || now.After(v.until) {
		return preview{}, false
	}
	delete(p.m, nonce)
	return v, true
}

// replyPreview has the desk render the form, and shows it with Send.
func (r *Router) replyPreview(ctx context.Context, c Command) Reply {
	a := r.Actor(c)
	cmd := c.Command()
	cmd.DryRun = true
	res, err := r.Desk.Do(ctx, a, cmd)
	lang := r.Desk.Language(ctx, a)
	if err != nil {
		return Reply{Text: Failed(lang, err), Ephemeral: true}
	}
	reply := Render(lang, res)
	p, ok := res.(act.ReplyPreview)
	if !ok {
		return reply
	}
	now := r.Clock.Now()
	nonce := r.previews.put(preview{platform: c.Platform, user: c.UserID, incident: p.Incident, form: p.Form, text: p.Text, until: now.Add(previewFor)}, now)
	label, lerr := templates.Reply(lang, "reply-send-button", nil)
	if lerr != nil {
		return Reply{Text: Failed(lang, lerr), Ephemeral: true}
	}
	reply.Ephemeral = true
	reply.Button = &Button{ID: ReplySendButton + ":" + p.Incident + ":" + p.Form + ":" + nonce, Label: label}
	return reply
}

// replySend sends what the pressed button's preview showed: only by the
// account that asked for it, once, within previewFor.
func (r *Router) replySend(ctx context.Context, c Command) Reply {
	a := r.Actor(c)
	lang := r.Desk.Language(ctx, a)
	form, nonce := c.Args[0], c.Args[1]
	v, ok := r.previews.take(nonce, r.Clock.Now())
	if !ok || v.platform != c.Platform || v.user != c.UserID || v.incident != c.Incident || v.form != form {
		if ok { // another's button: it stays theirs
			r.previews.mu.Lock()
			r.previews.m[nonce] = v
			r.previews.mu.Unlock()
		}
		return Render(lang, act.Refused{Reason: act.PreviewGone, Command: act.Reply, Incident: c.Incident, Platform: c.Platform})
	}
	res, err := r.Desk.Do(ctx, a, act.Command{Name: act.Reply, Incident: v.incident, Args: []string{v.form}, Text: v.text})
	if err != nil {
		return Reply{Text: Failed(lang, err), Ephemeral: true}
	}
	return Render(lang, res)
}

package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"tocsin/bot/act"
	"tocsin/bot/notify"
	"tocsin/bot/store"
	"tocsin/bot/web"
	"tocsin/parsers"
)

// toReporter is the mail of form (request-info, status-update, closure)
// to inc's reporter with the team's text, in the reporter's language,
// as the acknowledgement goes (signed, encrypted where their key is
// known); or why the reporter may not be written to: the same rules as
// the acknowledgement's (mustNotAnswer), but for the rate limit, which
// is for automatic answers only.
func (b *Bot) toReporter(tx *store.Tx, inc *store.Incident, form, text string, now time.Time) (notify.Notice, act.NotWritable, error) {
	_, repJSON, err := tx.IncidentByID(inc.ID)
	if err != nil {
		return notify.Notice{}, "", err
	}
	var rep parsers.Report
	if len(repJSON) > 0 {
		if err := json.Unmarshal(repJSON, &rep); err != nil {
			return notify.Notice{}, "", fmt.Errorf("reading the report of %s: %w", inc.Ref, err)
		}
	}
	if why := notWritable(&rep, b.cfg.Desk.Address); why != "" {
		return notify.Notice{}, why, nil
	}
	if unconfirmed, err := tx.FormUnconfirmed(inc.ID); err != nil || unconfirmed {
		return notify.Notice{}, act.UnconfirmedForm, err
	}
	data, err := b.formOf(tx, inc)
	if err != nil {
		return notify.Notice{}, "", err
	}
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r", ""))
	switch form {
	case "request-info":
		data.Questions = nil
		for _, q := range strings.Split(text, "\n") {
			if q = strings.TrimSpace(q); q != "" {
				data.Questions = append(data.Questions, q)
			}
		}
	case "status-update":
		data.NonTechnical = text
	case "closure":
		data.Status, data.Resolution, data.NextUpdate = "closed", text, time.Time{}
	}
	return reporterNotice(form, inc, &rep, data), "", nil
}

// notWritable is why rep's sender may never be written to, or "".
func notWritable(rep *parsers.Report, desk string) act.NotWritable {
	switch {
	case rep.AutoSubmitted:
		return act.AutomaticSender
	case rep.From == "":
		return act.NoAddress
	case strings.EqualFold(rep.From, desk):
		return act.DeskAddress
	case rep.Authentication.Server != "" && rep.Authentication.DMARC == "fail":
		// Anyone could have written this From: a signed answer to it would
		// make the desk a relay aimed at whoever is named there.
		return act.DMARCFailed
	}
	return ""
}

// apiReply previews or queues form to the reporter of ref for the API's
// caller.
func (b *Bot) apiReply(ctx context.Context, ref, form, text string, dryRun bool, by web.Caller) (web.ReplyResult, error) {
	res, err := b.act.Do(ctx, apiActor(by), act.Command{Name: act.Reply, Incident: ref, Args: []string{form}, Text: text, DryRun: dryRun})
	if err != nil {
		return web.ReplyResult{}, err
	}
	switch r := res.(type) {
	case act.ReplyPreview:
		return web.ReplyResult{Incident: r.Incident, Form: r.Form, To: r.To, Lang: r.Lang, Subject: r.Subject, Body: r.Body}, nil
	case act.ReplySent:
		return web.ReplyResult{Incident: r.Incident, Form: r.Form, To: r.To, Queued: true}, nil
	case act.Refused:
		switch r.Reason {
		case act.ReporterNotWritable:
			return web.ReplyResult{}, fmt.Errorf("%w: %s: %s", web.ErrBadInput, r.Reason, r.Arg)
		case act.MissingArgument:
			return web.ReplyResult{}, fmt.Errorf("%w: unknown form %q: want one of %s", web.ErrBadInput, form, strings.Join(act.ReplyForms, ", "))
		}
		return web.ReplyResult{}, refusalErr(by, r, "reply to the reporter")
	}
	return web.ReplyResult{}, fmt.Errorf("reply: unexpected result %s", res.Kind())
}

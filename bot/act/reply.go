package act

import (
	"context"
	"fmt"
	"slices"
	"time"

	"tocsin/bot/notify"
	"tocsin/bot/store"
)

// Answering the reporter: /reply ID request-info|status-update|closure
// [text], previewed first (DryRun) and then queued; and the closure form
// when an incident is closed.

// ReplyForms are the forms the team may send the reporter.
var ReplyForms = []string{"request-info", "status-update", "closure"}

// NotWritable says why the reporter of an incident may not be written to.
type NotWritable string

// Why a reporter may not be written to.
const (
	AutomaticSender  NotWritable = "automatic-sender" // an auto-reply, bounce, list or report
	NoAddress        NotWritable = "no-address"       // no address to write to (a phone report without one)
	DeskAddress      NotWritable = "desk-address"     // the desk's own address (a loop)
	DMARCFailed      NotWritable = "dmarc-fail"       // the From may be forged
	UnconfirmedForm  NotWritable = "unconfirmed-form" // typed into the public form, not confirmed
	NotWritableOther NotWritable = "not-written-to"   // the desk's other reasons
)

// NotWritables are every reason, for the words that must cover them all.
var NotWritables = []NotWritable{AutomaticSender, NoAddress, DeskAddress, DMARCFailed, UnconfirmedForm, NotWritableOther}

// ToReporter is what the daemon gives for a mail to an incident's
// reporter: the notice of form with the team's text, or why they may not
// be written to.
type ToReporter func(tx *store.Tx, inc *store.Incident, form, text string, now time.Time) (notify.Notice, NotWritable, error)

// reply previews or queues a form to the incident's reporter.
func (d *Desk) reply(ctx context.Context, k *call) (Result, error) {
	form := k.cmd.arg(0)
	if !slices.Contains(ReplyForms, form) {
		r := k.refuse(MissingArgument)
		r.Arg = form
		return r, nil
	}
	inc := k.inc
	var res Result
	err := d.Store.Tx(ctx, func(tx *store.Tx) error {
		n, why, err := d.Reporter(tx, inc, form, k.cmd.Text, k.now)
		if err != nil {
			return err
		}
		if why != "" {
			r := k.refuse(ReporterNotWritable)
			r.Arg = string(why)
			res = r
			return nil
		}
		if k.cmd.DryRun {
			msg, err := d.Notify.Preview(n)
			if err != nil {
				return err
			}
			res = ReplyPreview{Incident: inc.Ref, Form: form, To: n.To.Address, Lang: msg.Lang, Subject: msg.Subject, Body: msg.Body, Text: k.cmd.Text}
			return nil
		}
		n.IdemKey = "reply:" + inc.Ref + ":" + form + ":" + k.Platform + ":" + k.RequestID
		if k.RequestID == "" {
			n.IdemKey += fmt.Sprint(k.now.UnixNano())
		}
		if _, err := d.Notify.Queue(tx, inc.ID, n, k.now); err != nil {
			return err
		}
		if err := tx.AuditFrom(inc.ID, k.now, k.who, "reporter-answered", fmt.Sprintf("%s form to the reporter %s queued via %s", form, n.To.Address, k.via), k.Platform, k.RequestID); err != nil {
			return err
		}
		res = ReplySent{Incident: inc.Ref, Form: form, To: n.To.Address, By: k.name()}
		return d.changed(tx, inc, "reply:"+form+":"+k.RequestID, k.now)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// tellClosed queues the closure form to the reporter of a closed
// incident, unless they may not be written to; it says which.
func (d *Desk) tellClosed(ctx context.Context, k *call, res *Closed) error {
	if d.Reporter == nil {
		return nil
	}
	return d.Store.Tx(ctx, func(tx *store.Tx) error {
		n, why, err := d.Reporter(tx, k.inc, "closure", k.cmd.Text, k.now)
		if err != nil {
			return err
		}
		if why != "" {
			res.ReporterNotWritable = why
			return tx.AuditFrom(k.inc.ID, k.now, "system", "no-answer", fmt.Sprintf("closure form not sent: the reporter is not written to (%s)", why), k.Platform, k.RequestID)
		}
		n.IdemKey = "closure:" + k.inc.Ref
		added, err := d.Notify.Queue(tx, k.inc.ID, n, k.now)
		if err != nil || !added {
			res.ReporterTold = added
			return err
		}
		res.ReporterTold = true
		return tx.AuditFrom(k.inc.ID, k.now, k.who, "reporter-answered", fmt.Sprintf("closure form to the reporter %s queued on close via %s", n.To.Address, k.via), k.Platform, k.RequestID)
	})
}

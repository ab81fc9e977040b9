package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"tocsin/bot/store"
	"tocsin/bot/web"
	"tocsin/parsers"
	"tocsin/responders"
)

// The public report form: anyone can type any address into it, so the
// desk signs nothing to that address until its owner confirms it.

// SourceForm is the source of reports from the public web form.
const SourceForm = web.SourceForm

// confirmFor is how long a form confirmation link is good for.
const confirmFor = 48 * time.Hour

// queueConfirmation queues the one mail an address typed into the public
// form gets before it is confirmed: unsigned, naming nothing the report
// said, with the link that confirms it.
func (b *Bot) queueConfirmation(tx *store.Tx, inc *store.Incident, rep *parsers.Report, now time.Time) error {
	token := randomToken(20)
	if err := tx.AddConfirmation(token, inc.ID, rep.From, now); err != nil {
		return err
	}
	domain := b.cfg.Desk.Address[strings.LastIndexByte(b.cfg.Desk.Address, '@')+1:]
	msgID := fmt.Sprintf("%s.confirm.%s@%s", strings.ToLower(inc.Ref), randomToken(6), domain)
	body := fmt.Sprintf("Someone submitted a security report on the web form of %s and gave\n"+
		"this address to answer to. If it was you, confirm the address to receive\n"+
		"our signed acknowledgement and what follows:\n\n  %s/report/confirm?token=%s\n\n"+
		"The link is valid for %d hours. If it was not you, ignore this mail: nothing\n"+
		"more will be sent to this address about it.\n\n-- \n%s <%s>\n",
		b.cfg.Desk.Name, strings.TrimRight(b.cfg.Desk.PublicURL, "/"), token, int(confirmFor.Hours()), b.cfg.Desk.Name, b.cfg.Desk.Address)
	payload, err := responders.ComposePlain(responders.Mail{
		From: &mail.Address{Name: b.cfg.Desk.Name, Address: b.cfg.Desk.Address}, To: []*mail.Address{{Address: rep.From}},
		Subject: "Please confirm your address for a security report", Date: now, MessageID: msgID,
		AutoSubmitted: "auto-replied", Body: body,
	})
	if err != nil {
		return err
	}
	if _, err := tx.Enqueue(store.OutboxItem{IdemKey: "confirm:" + inc.Ref, IncidentID: inc.ID, Channel: "mail", Kind: "confirmation",
		Sender: b.cfg.Desk.Address, Recipient: rep.From, Payload: payload, CreatedAt: now}); err != nil {
		return err
	}
	return tx.Audit(inc.ID, now, "system", "confirmation-requested", "address "+rep.From+" typed into the web form: asked to confirm before anything signed is sent to it")
}

// ConfirmFormReport confirms the address of a form report by the token
// mailed to it, and queues the signed acknowledgement; it returns the
// incident's id.
func (b *Bot) ConfirmFormReport(ctx context.Context, token string) (string, error) {
	var ref string
	now := b.clock.Now()
	err := b.store.Tx(ctx, func(tx *store.Tx) error {
		id, addr, err := tx.Confirm(token, now.Add(-confirmFor), now)
		if err != nil {
			return err
		}
		inc, repJSON, err := tx.IncidentByID(id)
		if err != nil {
			return err
		}
		ref = inc.Ref
		var rep parsers.Report
		if err := json.Unmarshal(repJSON, &rep); err != nil {
			return fmt.Errorf("reading the report of %s: %w", inc.Ref, err)
		}
		if err := tx.Audit(inc.ID, now, addr, "address-confirmed", "the reporter confirmed "+addr+" by the link mailed to it"); err != nil {
			return err
		}
		_, err = b.queueAcknowledgement(tx, inc, &rep, now)
		return err
	})
	if err == nil {
		b.Kick()
	}
	return ref, err
}

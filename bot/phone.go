package bot

import (
	"context"
	"fmt"
	"mime"
	"strings"

	"github.com/emersion/go-message/mail"

	"tocsin/bot/act"
	"tocsin/bot/store"
	"tocsin/bot/web"
	"tocsin/config"
	"tocsin/internal/printable"
)

// SourcePhone is the source of reports taken by phone.
const SourcePhone = "phone"

// phoneReport files a report taken by phone through the same pipeline as
// mail: the caller is its reporter (From only when they gave an address:
// else nobody is mailed), the taker is audited as "taken by". The
// request's id makes it idempotent.
func (b *Bot) phoneReport(ctx context.Context, taker config.Person, caller act.Caller, text, platform, requestID string) (string, error) {
	if requestID == "" {
		requestID = randomToken(8)
	}
	var from *mail.Address
	if caller.Address != "" {
		from = &mail.Address{Name: caller.Name, Address: caller.Address}
	}
	raw := b.takenMail(from, printable.Runes(firstLine(text), 120), "phone", taker, platform, requestID, text+"\n",
		"X-Tocsin-Caller", mime.QEncoding.Encode("utf-8", printable.Line(caller.String())))
	res, err := b.Ingest(ctx, SourcePhone+":"+platform, raw, b.clock.Now())
	if err != nil || !res.New {
		return res.Incident, err
	}
	now := b.clock.Now()
	err = b.store.Tx(ctx, func(tx *store.Tx) error {
		inc, err := tx.IncidentByRef(res.Incident)
		if err != nil {
			return err
		}
		return tx.AuditFrom(inc.ID, now, strings.ToLower(taker.Email), ActionPhoneReport,
			fmt.Sprintf("caller %s; taken by %s via %s", printable.Line(caller.String()), taker.Email, platform), platform, requestID)
	})
	return res.Incident, err
}

// ActionPhoneReport is the audit entry of a report taken by phone: the
// caller and who took it.
const ActionPhoneReport = "phone-report"

// apiPhoneReport files, for the API's caller, a report they took by
// phone.
func (b *Bot) apiPhoneReport(ctx context.Context, by web.Caller, c web.PhoneCaller, text string) (string, bool, error) {
	clean := func(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, ",", " ")) }
	caller := act.Caller{Name: clean(c.Name), Organisation: clean(c.Organisation), Phone: clean(c.Phone), Address: clean(c.Address)}
	res, err := b.act.Do(ctx, apiActor(by), act.Command{Name: act.Report, Args: []string{caller.String()}, Text: text})
	if err != nil {
		return "", false, err
	}
	switch r := res.(type) {
	case act.Filed:
		return r.Incident, r.CallerTold, nil
	case act.Refused:
		return "", false, refusalErr(by, r, "log a phone report")
	}
	return "", false, fmt.Errorf("phone report: unexpected result %s", res.Kind())
}

package bot

import (
	"fmt"
	"slices"
	"time"

	"tocsin/bot/store"
	"tocsin/parsers"
)

// pinKeys records the keys a report carries for its sender's own address
// (a key is evidence about its owner, not about whoever forwarded it).
// Trust on first use must be first use by the sender: a key is pinned only
// from mail whose From a trusted server authenticated; one key per
// address; a different key later is a conflict a person settles (tocsin
// keys settle), never a silent switch; the pinned key again (new
// signatures, a revocation) updates it.
func (b *Bot) pinKeys(tx *store.Tx, inc *store.Incident, rep *parsers.Report, now time.Time) error {
	for _, k := range rep.OfferedKeyData {
		if rep.From == "" || !slices.Contains(k.Emails, rep.From) {
			continue
		}
		if !rep.SenderAuthenticated() {
			if err := tx.Audit(inc.ID, now, "system", "key-not-pinned", fmt.Sprintf("key %s for %s not pinned: the sender is not authenticated (no DMARC pass from a trusted server)", k.Fingerprint, rep.From)); err != nil {
				return err
			}
			continue
		}
		out, pinned, err := tx.OfferReporterKey(rep.From, k.Fingerprint, k.Armored, inc.ID, now)
		if err != nil {
			return err
		}
		switch out {
		case store.KeyPinned:
			err = tx.Audit(inc.ID, now, "system", "key-pinned", fmt.Sprintf("key %s pinned for %s (first key, authenticated sender)", k.Fingerprint, rep.From))
		case store.KeyUpdated:
			err = tx.Audit(inc.ID, now, "system", "key-updated", fmt.Sprintf("pinned key %s of %s updated from this mail", k.Fingerprint, rep.From))
		case store.KeyConflict:
			err = tx.Audit(inc.ID, now, "system", "key-conflict", fmt.Sprintf("KEY CHANGE for %s: this mail offers %s, but %s is pinned and stays in use; "+
				"a person settles it (tocsin keys settle %s %s)", rep.From, k.Fingerprint, pinned, rep.From, k.Fingerprint))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"tocsin/bot/intake"
	"tocsin/bot/store"
)

// Quarantine keeps a message that could not be filed (a poison message):
// its bytes as DATA/raw, and an unfiled entry (category quarantined) that
// says why, listed with the unfiled mail and counted in /metrics.
func (b *Bot) Quarantine(ctx context.Context, source string, in intake.Raw, why string) error {
	sum := in.SHA256
	if sum == "" {
		s := sha256.Sum256(in.Bytes)
		sum = hex.EncodeToString(s[:])
	}
	rawPath, err := b.keepRaw(sum, in)
	if err != nil {
		return fmt.Errorf("keeping quarantined message: %w", err)
	}
	now := b.clock.Now()
	err = b.store.Tx(ctx, func(tx *store.Tx) error {
		if _, dup, err := tx.FindMessage("", sum); err != nil || dup {
			return err
		}
		if err := tx.AddMessage(store.Message{Direction: "in", SHA256: sum, Source: source, Subject: "(quarantined message)",
			RawPath: rawPath, CreatedAt: now, Category: "quarantined", UnfiledReason: "quarantined: " + why}); err != nil {
			return err
		}
		return tx.Audit(0, now, "system", "quarantined", fmt.Sprintf("message %s via %s quarantined: %s", sum[:16], source, why))
	})
	if err == nil {
		b.metrics.Quarantined.Inc()
	}
	return err
}

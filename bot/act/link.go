package act

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"tocsin/bot/notify"
	"tocsin/bot/store"
	"tocsin/templates"
)

// LinkFor is how long a mailed link code is good for.
const LinkFor = 30 * time.Minute

// LinkRequestsPerHour bounds the link codes asked for in an hour, by one
// chat user and for one address (whoever asks): each mails a code, and
// each code allows 5 tries, so one address can be guessed at most 15
// times an hour out of 10^8 codes, and its owner gets at most 3 mails.
const LinkRequestsPerHour = 3

// linkConfirm completes the link of the actor's chat account to the
// roster person the code was mailed to; only the account that asked can
// use it.
func (d *Desk) linkConfirm(ctx context.Context, k *call) (Result, error) {
	who := k.Platform + " user " + k.UserID
	var person string
	bad := false
	err := d.Store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		person, err = tx.ConfirmChatLink(k.Platform, k.UserID, k.cmd.arg(0), k.now)
		if errors.Is(err, store.ErrBadCode) {
			// Committed with the refusal: the failed try counts.
			bad = true
			return tx.AuditFrom(0, k.now, who, "chat-link-refused", "a wrong, expired or overused link code", k.Platform, k.RequestID)
		}
		if err != nil {
			return err
		}
		return tx.AuditFrom(0, k.now, person, "chat-linked", fmt.Sprintf("%s linked to %s by the code mailed to them", who, person), k.Platform, k.RequestID)
	})
	if err != nil {
		return nil, err
	}
	if bad {
		return k.refuse(BadCode), nil
	}
	return Linked{Person: person}, nil
}

// linkRequest mails a code to the roster address asked for (signed, and
// encrypted where their key is known); the answer is the same whether or
// not the address is on the roster.
func (d *Desk) linkRequest(ctx context.Context, k *call) (Result, error) {
	arg := k.cmd.arg(0)
	who := k.Platform + " user " + k.UserID
	limited := false
	err := d.Store.Tx(ctx, func(tx *store.Tx) error {
		// Counted for every address asked for, on the roster or not, so
		// that the limit says nothing about who is on it.
		byUser, forAddress, err := tx.LinkRequests(k.Platform, k.UserID, arg, k.now.Add(-time.Hour))
		if err != nil {
			return err
		}
		if byUser >= LinkRequestsPerHour || forAddress >= LinkRequestsPerHour {
			limited = true
			return tx.AuditFrom(0, k.now, who, "chat-link-refused",
				fmt.Sprintf("too many link requests in the last hour (%d by this account, %d for %s): no code mailed", byUser, forAddress, arg), k.Platform, k.RequestID)
		}
		if err := tx.AddLinkRequest(k.Platform, k.UserID, arg, k.now); err != nil {
			return err
		}
		p, ok := d.Config.PersonByEmail(arg)
		if !ok {
			return tx.AuditFrom(0, k.now, who, "chat-link-refused", arg+" is not on the roster", k.Platform, k.RequestID)
		}
		code := fmt.Sprintf("%08d", randomInt(100000000))
		was, err := tx.RequestChatLink(k.Platform, k.UserID, strings.ToLower(p.Email), code, k.now.Add(LinkFor))
		if err != nil {
			return err
		}
		if was != "" {
			if err := tx.AuditFrom(0, k.now, was, "chat-unlinked", fmt.Sprintf("%s no longer acts as %s: it asked for a new link", who, was), k.Platform, k.RequestID); err != nil {
				return err
			}
		}
		desk := templates.Desk{Name: d.Config.Desk.Name, Address: d.Config.Desk.Address, PublicURL: d.Config.Desk.PublicURL}
		if d.Notify.Key != nil {
			desk.Fingerprint = d.Notify.Key.Fingerprint()
		}
		data := templates.Form{Desk: desk, Link: &templates.LinkCode{Platform: k.Platform, Account: k.UserID, Code: code, Minutes: int(LinkFor / time.Minute)}}
		if _, err := d.Notify.Queue(tx, 0, notify.Notice{Form: "chat-link", Kind: "chat-link", IdemKey: "link:" + k.Platform + ":" + k.UserID + ":" + codeKey(code),
			To: mail.Address{Name: p.Name, Address: p.Email}, Data: data}, k.now); err != nil {
			return err
		}
		return tx.AuditFrom(0, k.now, who, "chat-link-requested", "a link code was mailed to "+p.Email, k.Platform, k.RequestID)
	})
	if err != nil {
		return nil, err
	}
	if limited {
		r := k.refuse(TooManyLinks)
		r.Arg, r.Limit = arg, LinkRequestsPerHour
		return r, nil
	}
	return LinkMailed{Address: arg, Minutes: int(LinkFor / time.Minute)}, nil
}

// unlink ends the link of the actor's chat account to a roster person;
// an account named in the config is changed there, not in chat.
func (d *Desk) unlink(ctx context.Context, k *call) (Result, error) {
	if p, ok := d.Config.PersonByChat(k.Platform, k.UserID); ok {
		r := k.refuse(LinkedInConfig)
		r.Arg = p.Email
		return r, nil
	}
	who := k.Platform + " user " + k.UserID
	var was string
	err := d.Store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if was, err = tx.UnlinkChat(k.Platform, k.UserID); err != nil {
			return err
		}
		return tx.AuditFrom(0, k.now, was, "chat-unlinked", fmt.Sprintf("%s no longer acts as %s: unlinked by itself", who, was), k.Platform, k.RequestID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return k.refuse(NotLinked), nil
	}
	if err != nil {
		return nil, err
	}
	return Unlinked{Was: was}, nil
}

func randomInt(n int64) int64 {
	v, _ := rand.Int(rand.Reader, big.NewInt(n))
	return v.Int64()
}

// codeKey names a code in an idempotency key without showing it.
func codeKey(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:6])
}

// Package intake takes reports in. Watcher follows an IMAP mailbox (RFC
// 9051): IDLE (RFC 2177) when the server offers it, polling otherwise,
// reconnecting with backoff. It tracks UIDVALIDITY and the last UID handled,
// and marks a message processed (keyword or move) only after the pipeline
// has committed its incident, so a crash at any point means the message is
// fetched again, and the pipeline's idempotence makes that harmless.
package intake

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"tocsin/bot/clock"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/tokens"
)

// SourcePrefix begins the source of every message taken from a mailbox
// ("imap:ACCOUNT/MAILBOX"): only such mail passed a receiving server.
const SourcePrefix = "imap:"

// IngestFunc files one message; it returns nil only once the message's
// incident is committed.
type IngestFunc func(ctx context.Context, source string, raw Raw, received time.Time) error

// Positions stores where intake stands in a mailbox.
type Positions interface {
	MailboxState(ctx context.Context, account, mailbox string) (store.MailboxState, error)
	SetMailboxState(ctx context.Context, account, mailbox string, st store.MailboxState) error
}

var _ Positions = (*store.Store)(nil)

// Watcher follows one IMAP mailbox.
type Watcher struct {
	cfg       config.IMAP
	password  string
	tokens    *tokens.Source
	positions Positions
	ingest    IngestFunc
	log       *slog.Logger
	maxBytes  int64
	spool     *Spool
	// Clock tells the time and waits (reconnect backoff, polls); nil is
	// the wall clock.
	Clock clock.Clock
	// Fetched, if set, is told how many messages each batch fetched.
	Fetched func(n int)
	// Quarantine, if set, keeps a message that failed MaxAttempts times,
	// so the mailbox can go on; it returns nil once the message is kept.
	Quarantine func(ctx context.Context, source string, raw Raw, why string) error
	failures   map[string]int // failed attempts by "UIDVALIDITY/UID"

	connected atomic.Bool  // a session is logged in with the mailbox selected
	lastOK    atomic.Int64 // unix ns of the last successful look at the mailbox
	lastErr   atomic.Value // string: why the last session ended
}

func (w *Watcher) clock() clock.Clock {
	if w.Clock == nil {
		return clock.System{}
	}
	return w.Clock
}

// Connected reports whether a session is up, and when the mailbox was
// last looked at successfully (zero: never).
func (w *Watcher) Connected() (bool, time.Time) {
	var t time.Time
	if ns := w.lastOK.Load(); ns != 0 {
		t = time.Unix(0, ns)
	}
	return w.connected.Load(), t
}

// Health returns nil while the watcher is connected or has looked at the
// mailbox within two poll intervals, else why not.
func (w *Watcher) Health(now time.Time) error {
	up, last := w.Connected()
	if up || !last.IsZero() && now.Sub(last) <= 2*w.cfg.PollInterval {
		return nil
	}
	why, _ := w.lastErr.Load().(string)
	if last.IsZero() {
		return fmt.Errorf("imap %s: never connected: %s", w.account(), why)
	}
	return fmt.Errorf("imap %s: not connected since %s: %s", w.account(), last.UTC().Format(time.RFC3339), why)
}

// NewWatcher returns a watcher; the password is resolved now.
func NewWatcher(cfg config.IMAP, maxMessageBytes int64, spool *Spool, positions Positions, ingest IngestFunc, log *slog.Logger) (*Watcher, error) {
	w := &Watcher{cfg: cfg, positions: positions, ingest: ingest, log: log, maxBytes: maxMessageBytes, spool: spool, failures: map[string]int{}}
	if cfg.OAuth2 != nil {
		w.tokens = &tokens.Source{File: cfg.OAuth2.TokenFile, Command: cfg.OAuth2.TokenCommand, Lifetime: cfg.OAuth2.Lifetime}
	} else {
		pw, err := cfg.Secret.Resolve()
		if err != nil {
			return nil, fmt.Errorf("imap password: %w", err)
		}
		w.password = pw
	}
	return w, nil
}

func (w *Watcher) account() string {
	return w.cfg.Username + "@" + net.JoinHostPort(w.cfg.Host, strconv.Itoa(w.cfg.Port))
}

// Run follows the mailbox until ctx ends, reconnecting after any error
// with exponential backoff (1 s doubling to 5 min, reset after a session
// that lasted a minute).
func (w *Watcher) Run(ctx context.Context) {
	delay := time.Second
	// Until the first attempt ends, health says what it waits for, never
	// an empty reason.
	w.lastErr.CompareAndSwap(nil, "the first attempt (dial, TLS, login, select) has not finished since "+w.clock().Now().UTC().Format(time.RFC3339))
	for ctx.Err() == nil {
		start := w.clock().Now()
		err := w.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.lastErr.Store(err.Error())
		}
		if w.clock().Now().Sub(start) > time.Minute {
			delay = time.Second
		}
		w.log.Warn("imap session ended; reconnecting", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return
		case <-w.clock().After(delay):
		}
		delay = min(delay*2, 5*time.Minute)
	}
}

func (w *Watcher) dial(notify chan<- struct{}) (*imapclient.Client, error) {
	addr := net.JoinHostPort(w.cfg.Host, strconv.Itoa(w.cfg.Port))
	opts := &imapclient.Options{
		TLSConfig: &tls.Config{ServerName: w.cfg.Host, InsecureSkipVerify: w.cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12},
		Dialer:    &net.Dialer{Timeout: 30 * time.Second},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			// Runs on the client's reader goroutine: never block it.
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case notify <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	switch w.cfg.TLS {
	case config.TLSImplicit:
		return imapclient.DialTLS(addr, opts)
	case config.TLSStartTLS:
		return imapclient.DialStartTLS(addr, opts)
	default:
		return imapclient.DialInsecure(addr, opts)
	}
}

func (w *Watcher) login(ctx context.Context, c *imapclient.Client) error {
	if w.tokens == nil {
		return c.Login(w.cfg.Username, w.password).Wait()
	}
	tok, err := w.tokens.Token(ctx)
	if err != nil {
		return err
	}
	if w.cfg.OAuth2.Mechanism == "oauthbearer" {
		return c.Authenticate(sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: w.cfg.Username, Token: tok, Host: w.cfg.Host, Port: w.cfg.Port}))
	}
	return c.Authenticate(&xoauth2{user: w.cfg.Username, token: tok})
}

// xoauth2 is the SASL mechanism Google and Microsoft use for OAuth2 bearer
// tokens (a predecessor of RFC 7628's OAUTHBEARER).
type xoauth2 struct{ user, token string }

func (a *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + a.user + "\x01auth=Bearer " + a.token + "\x01\x01"), nil
}

// Next answers the server's error challenge with an empty response, after
// which the server fails the exchange with a readable reason.
func (a *xoauth2) Next([]byte) ([]byte, error) { return []byte{}, nil }

// Probe connects, logs in and selects the mailbox once, then logs out:
// what `tocsin check --connect` tries. It reads and changes nothing.
func (w *Watcher) Probe(ctx context.Context) (messages uint32, err error) {
	c, err := w.dial(make(chan struct{}, 1))
	if err != nil {
		return 0, fmt.Errorf("connecting to %s: %w", net.JoinHostPort(w.cfg.Host, strconv.Itoa(w.cfg.Port)), err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := w.login(ctx, c); err != nil {
		return 0, fmt.Errorf("logging in as %s: %w", w.cfg.Username, err)
	}
	sel, err := c.Select(w.cfg.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return 0, fmt.Errorf("selecting %s: %w", w.cfg.Mailbox, err)
	}
	c.Logout().Wait()
	return sel.NumMessages, nil
}

func (w *Watcher) session(ctx context.Context) error {
	notify := make(chan struct{}, 1)
	c, err := w.dial(notify)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer c.Close()
	// Closing the connection is what unblocks a pending command on shutdown.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := w.login(ctx, c); err != nil {
		return fmt.Errorf("logging in as %s: %w", w.cfg.Username, err)
	}
	if w.cfg.Processed.Action == "move" {
		if err := c.Create(w.cfg.Processed.Folder, nil).Wait(); err != nil && !isAlreadyExists(err) {
			return fmt.Errorf("creating %s: %w", w.cfg.Processed.Folder, err)
		}
	}
	sel, err := c.Select(w.cfg.Mailbox, nil).Wait()
	if err != nil {
		return fmt.Errorf("selecting %s: %w", w.cfg.Mailbox, err)
	}
	pos, err := w.positions.MailboxState(ctx, w.account(), w.cfg.Mailbox)
	if err != nil {
		return err
	}
	if pos.UIDValidity != sel.UIDValidity {
		// RFC 9051 section 2.3.1.1: UIDs from another UIDVALIDITY mean
		// nothing. Start over; Ingest drops what it has already filed.
		if pos.UIDValidity != 0 {
			w.log.Warn("UIDVALIDITY changed; rescanning mailbox", "mailbox", w.cfg.Mailbox, "old", pos.UIDValidity, "new", sel.UIDValidity)
		}
		pos = store.MailboxState{UIDValidity: sel.UIDValidity}
		if err := w.positions.SetMailboxState(ctx, w.account(), w.cfg.Mailbox, pos); err != nil {
			return err
		}
	}
	w.connected.Store(true)
	defer w.connected.Store(false)
	idle := *w.cfg.IDLE && c.Caps().Has(imap.CapIdle)
	w.log.Info("watching mailbox", "account", w.account(), "mailbox", w.cfg.Mailbox, "messages", sel.NumMessages, "idle", idle)
	for {
		select { // a notification from now on means "look again"
		case <-notify:
		default:
		}
		if err := w.drain(ctx, c, &pos); err != nil {
			return err
		}
		w.lastOK.Store(w.clock().Now().UnixNano())
		if err := w.wait(ctx, c, idle, notify); err != nil {
			return err
		}
		if ctx.Err() != nil {
			c.Logout().Wait()
			return nil
		}
	}
}

// wait returns when new mail may have arrived: on an IDLE notification, or
// after the poll interval (also a safety re-scan while idling).
func (w *Watcher) wait(ctx context.Context, c *imapclient.Client, idle bool, notify <-chan struct{}) error {
	poll := w.clock().After(w.cfg.PollInterval)
	if !idle {
		select {
		case <-ctx.Done():
		case <-poll:
		}
		return nil
	}
	// A NOOP right before IDLE collects updates queued since the last
	// command: not every server reports them when IDLE starts (go-imap's
	// does not), and a message appended in that gap would otherwise wait
	// for the next poll.
	if err := c.Noop().Wait(); err != nil {
		return fmt.Errorf("NOOP: %w", err)
	}
	select {
	case <-notify:
		return nil
	default:
	}
	cmd, err := c.Idle()
	if err != nil {
		return fmt.Errorf("starting IDLE: %w", err)
	}
	select {
	case <-ctx.Done():
		return nil
	case <-notify:
	case <-poll:
	case <-c.Closed():
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("ending IDLE: %w", err)
	}
	return cmd.Wait()
}

// batch bounds one FETCH: at most this many messages or bytes.
const (
	batchMessages = 64
	batchBytes    = 32 << 20
)

// drain files every unprocessed message above the last UID, in UID order.
func (w *Watcher) drain(ctx context.Context, c *imapclient.Client, pos *store.MailboxState) error {
	if err := c.Noop().Wait(); err != nil { // lets a polling server report new mail
		return fmt.Errorf("NOOP: %w", err)
	}
	crit := &imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: imap.UID(pos.LastUID + 1), Stop: 0}}}}
	if w.cfg.Processed.Action == "flag" {
		crit.NotFlag = []imap.Flag{imap.Flag(w.cfg.Processed.Flag)}
	}
	found, err := c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return fmt.Errorf("UID SEARCH: %w", err)
	}
	var uids []imap.UID
	for _, u := range found.AllUIDs() {
		if uint32(u) > pos.LastUID { // "n:*" always matches the highest UID
			uids = append(uids, u)
		}
	}
	if len(uids) == 0 {
		return nil
	}
	slices.Sort(uids)
	sizes, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return fmt.Errorf("FETCH sizes: %w", err)
	}
	size := map[imap.UID]int64{}
	for _, m := range sizes {
		size[m.UID] = m.RFC822Size
	}
	for start := 0; start < len(uids); {
		end, bytes := start, int64(0)
		for end < len(uids) && end-start < batchMessages && (end == start || bytes+size[uids[end]] <= batchBytes) {
			bytes += size[uids[end]]
			end++
		}
		if err := w.fetchBatch(ctx, c, uids[start:end], size, pos); err != nil {
			return err
		}
		start = end
	}
	return nil
}

var (
	wholeMessage = &imap.FetchItemBodySection{Peek: true}
	headerOnly   = &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
)

func (w *Watcher) fetchBatch(ctx context.Context, c *imapclient.Client, uids []imap.UID, size map[imap.UID]int64, pos *store.MailboxState) error {
	var small, large []imap.UID
	for _, u := range uids {
		if size[u] > w.maxBytes {
			large = append(large, u)
		} else {
			small = append(small, u)
		}
	}
	bodies := map[imap.UID]Raw{}
	defer func() {
		for _, r := range bodies {
			r.Release()
		}
	}()
	for _, part := range []struct {
		uids []imap.UID
		sec  *imap.FetchItemBodySection
	}{{small, wholeMessage}, {large, headerOnly}} {
		if len(part.uids) == 0 {
			continue
		}
		if err := w.fetchInto(c, part.uids, part.sec, bodies); err != nil {
			return err
		}
	}
	if w.Fetched != nil {
		w.Fetched(len(bodies))
	}
	received := w.clock().Now()
	source := SourcePrefix + w.cfg.Username + "/" + w.cfg.Mailbox
	done := make([]imap.UID, 0, len(uids))
	for _, u := range uids {
		raw, ok := bodies[u]
		if !ok {
			continue // expunged meanwhile by someone else
		}
		if size[u] > w.maxBytes {
			// Too large to take whole: file it from its header so it is not
			// lost, and leave the original in the mailbox.
			raw = Raw{Bytes: append(raw.Bytes, fmt.Sprintf("This message of %d bytes is larger than limits.max_message_bytes (%d).\r\nOnly its header was read; the whole message is in the mailbox %s, UID %d.\r\n", size[u], w.maxBytes, w.cfg.Mailbox, u)...)}
		}
		if err := w.safeIngest(ctx, source, raw, received); err != nil {
			key := fmt.Sprintf("%d/%d", pos.UIDValidity, u)
			w.failures[key]++
			if w.failures[key] < MaxAttempts || w.Quarantine == nil {
				w.mark(c, done)
				return fmt.Errorf("filing UID %d (attempt %d of %d): %w", u, w.failures[key], MaxAttempts, err)
			}
			// A poison message: kept aside so that the rest of the mailbox
			// goes on; it is listed with why, and flagged in the mailbox.
			if qerr := w.Quarantine(ctx, source, raw, fmt.Sprintf("filing failed %d times: %v", w.failures[key], err)); qerr != nil {
				w.mark(c, done)
				return fmt.Errorf("filing UID %d failed (%v) and so did quarantining it: %w", u, err, qerr)
			}
			w.log.Error("message quarantined", "imap_uid", u, "err", err)
			c.Store(imap.UIDSetNum(u), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{QuarantinedFlag}}, nil).Close()
			delete(w.failures, key)
		}
		done = append(done, u)
	}
	if err := w.mark(c, done); err != nil {
		return err
	}
	pos.LastUID = uint32(uids[len(uids)-1])
	return w.positions.SetMailboxState(ctx, w.account(), w.cfg.Mailbox, *pos)
}

// fetchInto fetches section of uids, streaming each literal as it arrives:
// a small one into memory (exactly its size), a large one to a spool file
// hashed on the way, so that no message is ever held twice.
func (w *Watcher) fetchInto(c *imapclient.Client, uids []imap.UID, sec *imap.FetchItemBodySection, out map[imap.UID]Raw) error {
	cmd := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{sec}})
	var firstErr error
	for {
		m := cmd.Next()
		if m == nil {
			break
		}
		var uid imap.UID
		var raw *Raw
		for {
			item := m.Next()
			if item == nil {
				break
			}
			switch item := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = item.UID
			case imapclient.FetchItemDataBodySection:
				if raw != nil || item.Literal == nil {
					continue
				}
				r, err := w.spool.Take(item.Literal, item.Literal.Size())
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				raw = &r
			}
		}
		if raw != nil {
			if uid == 0 {
				raw.Release()
				continue
			}
			out[uid] = *raw
		}
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("FETCH: %w", err)
	}
	if firstErr != nil {
		return fmt.Errorf("FETCH: %w", firstErr)
	}
	return nil
}

// MaxAttempts is how often a message is tried before it is quarantined.
const MaxAttempts = 3

// QuarantinedFlag marks a quarantined message in the mailbox.
const QuarantinedFlag imap.Flag = "$TocsinQuarantined"

// safeIngest is ingest with a panic turned into an error, so that one
// message cannot take the watcher down again and again.
func (w *Watcher) safeIngest(ctx context.Context, source string, raw Raw, received time.Time) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return w.ingest(ctx, source, raw, received)
}

// mark flags or moves messages whose incidents are committed.
func (w *Watcher) mark(c *imapclient.Client, uids []imap.UID) error {
	if len(uids) == 0 {
		return nil
	}
	set := imap.UIDSetNum(uids...)
	if w.cfg.Processed.Action == "move" {
		if _, err := c.Move(set, w.cfg.Processed.Folder).Wait(); err != nil {
			return fmt.Errorf("moving to %s: %w", w.cfg.Processed.Folder, err)
		}
		return nil
	}
	flags := []imap.Flag{imap.FlagSeen, imap.Flag(w.cfg.Processed.Flag)}
	if w.cfg.Processed.Action == "delete" {
		flags = append(flags, imap.FlagDeleted)
	}
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: flags}, nil).Close(); err != nil {
		return fmt.Errorf("flagging processed: %w", err)
	}
	if w.cfg.Processed.Action == "delete" {
		// UID EXPUNGE (RFC 4315) removes only these; plain EXPUNGE would
		// also remove what someone else marked deleted.
		if !c.Caps().Has(imap.CapUIDPlus) && !c.Caps().Has(imap.CapIMAP4rev2) {
			return errors.New("processed action delete needs a server with UIDPLUS (UID EXPUNGE)")
		}
		if err := c.UIDExpunge(set).Close(); err != nil {
			return fmt.Errorf("expunging processed: %w", err)
		}
	}
	return nil
}

func isAlreadyExists(err error) bool {
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
		return true
	}
	return strings.Contains(strings.ToLower(err.Error()), "exists")
}

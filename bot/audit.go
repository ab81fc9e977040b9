package bot

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/internal/atomicfile"
	"tocsin/responders"
)

// The audit chain's trust lives outside the database: its key in
// AuditKeyPath (beside the desk's signing key), and anchors, each the
// chain's length and last seal signed by the desk's OpenPGP key, in
// AnchorsPath and in every status report. Whoever can write the database
// cannot recompute a seal (no key) nor cut the tail unseen (the anchor
// counts further).

// AuditKeyPath is where the audit key lives.
func AuditKeyPath(cfg *config.Config) string {
	if cfg.PGP.AuditKeyFile != "" {
		return cfg.PGP.AuditKeyFile
	}
	return filepath.Join(cfg.DataDir, "audit.key")
}

// AnchorsPath is the file the signed anchors are appended to.
func AnchorsPath(cfg *config.Config) string {
	return filepath.Join(cfg.DataDir, "audit-anchors")
}

// LoadAuditKey reads the audit key (the file's text, surrounding space
// removed).
func LoadAuditKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the audit key: %w", err)
	}
	k := bytes.TrimSpace(b)
	if len(k) < store.AuditKeyMinLen {
		return nil, fmt.Errorf("%s: an audit key has at least %d bytes, this one %d", path, store.AuditKeyMinLen, len(k))
	}
	return k, nil
}

// LoadOrCreateAuditKey reads the audit key, generating one (32 random
// bytes, hex, mode 0600) when the file does not exist.
func LoadOrCreateAuditKey(path string) (key []byte, created bool, err error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, false, err
		}
		if err := atomicfile.Write(path, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
			return nil, false, fmt.Errorf("writing the audit key: %w", err)
		}
		created = true
	}
	key, err = LoadAuditKey(path)
	return key, created, err
}

// anchorStatement is what the desk signs for an anchor.
func anchorStatement(a store.AuditAnchor) string {
	return fmt.Sprintf("tocsin audit anchor: count=%d head=%s at=%s", a.Count, a.Head, a.At.UTC().Format(time.RFC3339))
}

// AppendAnchor signs a and appends it to the anchors file, one line:
// the statement, then " sig=" and the detached signature in base64.
func AppendAnchor(path string, key *responders.Key, a store.AuditAnchor) error {
	st := anchorStatement(a)
	sig, err := key.SignLine([]byte(st))
	if err != nil {
		return fmt.Errorf("signing the audit anchor: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening the audit anchors: %w", err)
	}
	if _, err := fmt.Fprintf(f, "%s sig=%s\n", st, sig); err != nil {
		f.Close()
		return fmt.Errorf("writing the audit anchor: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ErrNoAnchor: the anchors file is missing or holds no anchor.
var ErrNoAnchor = errors.New("no signed audit anchor")

// LatestAnchor reads the anchors file and returns its last anchor, each
// line's signature checked with key: a line that does not verify is an
// error naming it.
func LatestAnchor(path string, key *responders.Key) (*store.AuditAnchor, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoAnchor)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var last *store.AuditAnchor
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		a, err := parseAnchor(line, key)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		last = a
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if last == nil {
		return nil, fmt.Errorf("%s: %w", path, ErrNoAnchor)
	}
	return last, nil
}

func parseAnchor(line string, key *responders.Key) (*store.AuditAnchor, error) {
	st, sig, ok := strings.Cut(line, " sig=")
	if !ok {
		return nil, errors.New("not an audit anchor")
	}
	if err := key.VerifyLine([]byte(st), sig); err != nil {
		return nil, fmt.Errorf("anchor not signed by the desk key: %w", err)
	}
	var a store.AuditAnchor
	rest, ok := strings.CutPrefix(st, "tocsin audit anchor: ")
	if !ok {
		return nil, errors.New("not an audit anchor")
	}
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		var err error
		switch k {
		case "count":
			a.Count, err = strconv.Atoi(v)
		case "head":
			a.Head = v
		case "at":
			a.At, err = time.Parse(time.RFC3339, v)
		}
		if err != nil {
			return nil, fmt.Errorf("anchor field %s: %w", k, err)
		}
	}
	return &a, nil
}

// anchorAudit appends an anchor of the chain as it is now, unless it has
// not moved since the last one (last, updated).
func anchorAudit(ctx context.Context, st *store.Store, path string, key *responders.Key, now time.Time, last *store.AuditAnchor) error {
	a, err := st.AuditHead(ctx)
	if err != nil {
		return fmt.Errorf("reading the audit chain's head: %w", err)
	}
	if last.Count == a.Count && last.Head == a.Head && !last.At.IsZero() {
		return nil
	}
	a.At = now
	if err := AppendAnchor(path, key, a); err != nil {
		return err
	}
	*last = a
	return nil
}

// AnchorInterval is how often the daemon anchors the audit chain.
const AnchorInterval = time.Hour

// startAuditChain begins the keyed chain (the audit-keyed entry and the
// first anchor) when the store is due to (created empty or upgraded from
// before the key: store.KeyingDue), and never otherwise. It returns
// whether the daemon may anchor: anchors missing from a store whose chain
// began were lost or removed, with the log perhaps wiped or rewritten, so
// the start says so and vouches for nothing anew (no anchor, until the
// anchors file is back: restored, or tocsin audit reanchor).
func startAuditChain(ctx context.Context, cfg *config.Config, st *store.Store, key *responders.Key, now time.Time, log *slog.Logger) (bool, error) {
	due, err := st.KeyingDue(ctx)
	if err != nil {
		return false, fmt.Errorf("reading the audit chain: %w", err)
	}
	if due {
		if err := st.BeginKeyedChain(ctx, now); err != nil {
			return false, fmt.Errorf("starting the keyed audit chain: %w", err)
		}
		var last store.AuditAnchor
		return true, anchorAudit(ctx, st, AnchorsPath(cfg), key, now, &last)
	}
	if _, err := os.Stat(AnchorsPath(cfg)); !errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	keyed, err := st.AuditKeyed(ctx)
	if err != nil {
		return false, fmt.Errorf("reading the audit chain: %w", err)
	}
	why := "the audit anchors file is missing"
	if !keyed {
		why += ", and the audit log's last entry is not sealed with the audit key (the log was wiped or rewritten)"
	}
	log.Error(why+": nothing is anchored until it is restored; check the log against the anchors in the officers' status reports (tocsin audit verify --anchor COUNT:SEAL), then tocsin audit reanchor --anchor COUNT:SEAL", "path", AnchorsPath(cfg))
	return false, nil
}

// anchoring reports whether the daemon may anchor now: always, unless its
// start found the anchors missing (then only once the file is back).
func (b *Bot) anchoring() bool {
	if !b.anchorsLost {
		return true
	}
	_, err := os.Stat(AnchorsPath(b.cfg))
	return err == nil
}

// anchorLoop anchors the audit chain every AnchorInterval on the
// daemon's clock, until ctx ends (Run anchors once more when every loop
// has stopped: finalAnchor).
func (b *Bot) anchorLoop(ctx context.Context) {
	var last store.AuditAnchor
	for {
		if b.anchoring() {
			if err := anchorAudit(ctx, b.store, AnchorsPath(b.cfg), b.key, b.clock.Now(), &last); err != nil && ctx.Err() == nil {
				b.log.Error("anchoring the audit chain", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-b.clock.After(AnchorInterval):
		}
	}
}

// finalAnchor anchors the chain as a clean stop leaves it, so that no
// entry is left unanchored.
func (b *Bot) finalAnchor() {
	if !b.anchoring() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var last store.AuditAnchor
	if err := anchorAudit(ctx, b.store, AnchorsPath(b.cfg), b.key, b.clock.Now(), &last); err != nil {
		b.log.Error("anchoring the audit chain at stop", "err", err)
	}
}

// VerifyAudit checks the store's audit log as tocsin audit verify does:
// read-only, with the audit key (never created here), against the latest
// anchor signed by the desk key in the anchors file and against given,
// anchors read elsewhere (a status report the officers received: the
// file can be cut back, their mail cannot). It returns the entries that
// hold, the anchor checked last and the first break; ErrNoAnchor when
// there is no anchor at all (with the break the chain and the tables show
// without one, if any).
func VerifyAudit(ctx context.Context, cfg *config.Config, given ...store.AuditAnchor) (int, *store.AuditAnchor, *store.AuditBreak, error) {
	st, err := OpenStoreReadOnly(ctx, cfg)
	if err != nil {
		return 0, nil, nil, err
	}
	defer st.Close()
	key, err := LoadAuditKey(AuditKeyPath(cfg))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w (the audit key is needed to check the chain)", err)
	}
	desk, err := responders.LoadKey(KeyPath(cfg))
	if err != nil {
		return 0, nil, nil, err
	}
	anchors := given
	latest, err := LatestAnchor(AnchorsPath(cfg), desk)
	switch {
	case err == nil:
		anchors = append([]store.AuditAnchor{*latest}, given...)
	case errors.Is(err, ErrNoAnchor) && len(given) == 0:
		// Not verified without an anchor; what the chain and the
		// tables show is said too (a wiped or rewritten log).
		n, brk, verr := st.VerifyAudit(ctx, key, nil)
		if verr != nil {
			return 0, nil, nil, errors.Join(err, verr)
		}
		return n, nil, brk, err
	case len(given) == 0 || !errors.Is(err, ErrNoAnchor):
		return 0, nil, nil, err
	}
	var n int
	var brk *store.AuditBreak
	for i := range anchors {
		if n, brk, err = st.VerifyAudit(ctx, key, &anchors[i]); err != nil || brk != nil {
			return n, &anchors[i], brk, err
		}
	}
	return n, &anchors[len(anchors)-1], nil, nil
}

// ActionReanchored is the desk's entry of tocsin audit reanchor.
const ActionReanchored = "audit-reanchored"

// ErrAnchorsPresent: reanchor is for a lost anchors file only.
var ErrAnchorsPresent = errors.New("the audit anchors file is there: nothing to reanchor")

// Reanchor starts a lost anchors file again, for an operator who lost it:
// the log must first verify against the given anchors, read from the
// officers' signed status reports (at least one), so that the new anchor
// vouches for no more than they did; an entry by actor says so, then the
// head is anchored. A log that does not verify is not reanchored.
func Reanchor(ctx context.Context, cfg *config.Config, actor string, now time.Time, given []store.AuditAnchor) (store.AuditAnchor, error) {
	if _, err := os.Stat(AnchorsPath(cfg)); !errors.Is(err, fs.ErrNotExist) {
		return store.AuditAnchor{}, ErrAnchorsPresent
	}
	if len(given) == 0 {
		return store.AuditAnchor{}, errors.New("reanchoring needs an anchor from an officers' status report (--anchor COUNT:SEAL): it vouches for no more than that anchor did")
	}
	_, _, brk, err := VerifyAudit(ctx, cfg, given...)
	if err != nil {
		return store.AuditAnchor{}, err
	}
	if brk != nil {
		return store.AuditAnchor{}, fmt.Errorf("the log does not verify, not reanchored: %w", brk)
	}
	desk, err := responders.LoadKey(KeyPath(cfg))
	if err != nil {
		return store.AuditAnchor{}, err
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return store.AuditAnchor{}, err
	}
	defer st.Close()
	from := given[len(given)-1]
	detail := fmt.Sprintf(`{"vouched_by":{"count":%d,"head":%q}}`, from.Count, from.Head)
	if err := st.Tx(ctx, func(tx *store.Tx) error { return tx.Audit(0, now, actor, ActionReanchored, detail) }); err != nil {
		return store.AuditAnchor{}, err
	}
	var a store.AuditAnchor
	return a, anchorAudit(ctx, st, AnchorsPath(cfg), desk, now, &a)
}

// ParseAnchor reads an anchor as a status report shows it and tocsin
// audit verify --anchor takes it: COUNT:SEAL.
func ParseAnchor(s string) (store.AuditAnchor, error) {
	c, head, ok := strings.Cut(s, ":")
	n, err := strconv.Atoi(c)
	if _, herr := hex.DecodeString(head); !ok || err != nil || n < 0 || herr != nil || len(head) != 64 {
		return store.AuditAnchor{}, fmt.Errorf("anchor %q: want COUNT:SEAL (the entries and the 64 hex digits of the last seal, as a status report shows them)", s)
	}
	return store.AuditAnchor{Count: n, Head: head}, nil
}

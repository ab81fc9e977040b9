package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"tocsin/bot/clock"
	"tocsin/bot/intake"
	"tocsin/bot/sandbox"
	"tocsin/bot/store"
	"tocsin/bot/web"
	"tocsin/config"
	"tocsin/parsers"
	"tocsin/responders"
)

// RunOptions are the daemon's knobs that are not configuration.
type RunOptions struct {
	Log *slog.Logger
	// Out receives the startup banner (addresses, key, how to report).
	Out io.Writer
	// SandboxIMAP and SandboxSMTP are the sandbox listen addresses.
	SandboxIMAP, SandboxSMTP string
	Clock                    Clock
	// Ready, if set, is called once everything listens.
	Ready func(Addrs)
}

// Addrs are where a running daemon listens.
type Addrs struct {
	HTTP, SandboxIMAP, SandboxSMTP string
}

// Paths of the files in the data directory.
func dbPath(cfg *config.Config) string {
	if cfg.Store.DSN != "" {
		return cfg.Store.DSN
	}
	return filepath.Join(cfg.DataDir, "tocsin.db")
}

// KeyPath is where the desk key lives.
func KeyPath(cfg *config.Config) string {
	if cfg.PGP.KeyFile != "" {
		return cfg.PGP.KeyFile
	}
	return filepath.Join(cfg.DataDir, "signing-key.asc")
}

// OpenStore opens the configured store (for the CLI's read commands too),
// its audit chain sealed with the audit key (generated if missing).
func OpenStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	st, err := store.OpenSQLite(ctx, dbPath(cfg))
	if err != nil {
		return nil, err
	}
	ak, _, err := LoadOrCreateAuditKey(AuditKeyPath(cfg))
	if err == nil {
		err = st.SetAuditKey(ak)
	}
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("pgp.audit_key_file: %w", err)
	}
	return st, nil
}

// OpenStoreReadOnly opens the configured store to read only: no
// migration, no write (tocsin audit verify).
func OpenStoreReadOnly(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	return store.OpenSQLiteReadOnly(ctx, dbPath(cfg))
}

// SandboxConfig is the embedded default configuration: the sandbox alias,
// loopback servers, everything under dataDir.
func SandboxConfig(dataDir, httpAddr string) *config.Config {
	cfg, err := config.Parse("(sandbox)", []byte(fmt.Sprintf(`desk: {address: %s, name: Sandbox Security Desk}
data_dir: %q
http: {listen: %q}
trust: {authserv_ids: [sandbox.test]} # the sandbox's MX (bot/sandbox) stamps what it vouches for
people:
  - {name: Sam Officer, email: officer@sandbox.test, time_zone: Europe/Berlin, region: Global, slack_id: U0SAM, discord_id: "300000000000000001"}
  - {name: Kenji Sato, email: kenji@sandbox.test, language: ja, time_zone: Asia/Tokyo, region: APAC}
  - {name: Tara Team, email: tara@sandbox.test, time_zone: Europe/Berlin, slack_id: U0TARA, discord_id: "300000000000000002", pager: sandbox-pager, phone: "+49 30 5550101"}
  - {name: Theo Team, email: theo@sandbox.test, time_zone: America/New_York, slack_id: U0THEO, discord_id: "300000000000000003", pager: sandbox-pager, phone: "+1 212 5550102"}
  - {name: Uma Payments, email: uma@sandbox.test, slack_id: U0UMA, discord_id: "300000000000000004"}
  - {name: Ben Payments-Backup, email: ben@sandbox.test, slack_id: U0BEN, discord_id: "300000000000000005"}
  - {name: Olga Payments-Owner, email: olga@sandbox.test, slack_id: U0OLGA, discord_id: "300000000000000006"}
  - {name: Wes Web, email: wes@sandbox.test, language: de, time_zone: Europe/Berlin, slack_id: U0WES, discord_id: "300000000000000007"}
  - {name: Bea Web-Backup, email: bea@sandbox.test, slack_id: U0BEA, discord_id: "300000000000000008"}
  - {name: Otto Web-Owner, email: otto@sandbox.test, slack_id: U0OTTO, discord_id: "300000000000000009"}
  - {name: Cleo CIO, email: cio@sandbox.test, variant: non-technical}
regions:
  - {name: APAC, domains: [jp, cn, kr, au], languages: [ja, zh], security_officer: kenji@sandbox.test}
  - {name: Global, default: true, security_officer: officer@sandbox.test}
team: {members: [tara@sandbox.test, theo@sandbox.test], primary: team-primary, secondary: team-secondary}
rotations:
  - {name: team-primary, people: [tara@sandbox.test, theo@sandbox.test], handoff: daily, at: "09:00", time_zone: Europe/Berlin, start: 2026-01-01, stand_in: officer@sandbox.test}
  - {name: team-secondary, people: [theo@sandbox.test, tara@sandbox.test], handoff: daily, at: "09:00", time_zone: Europe/Berlin, start: 2026-01-01, stand_in: officer@sandbox.test}
units:
  - id: payments
    name: Payments
    contact: uma@sandbox.test
    backup: ben@sandbox.test
    owners: [olga@sandbox.test]
    assets: [{host: pay.sandbox.test}, {range: 10.20.0.0/16}, {product: PayGate}]
  - id: web
    name: Web Shop
    contact: wes@sandbox.test
    backup: bea@sandbox.test
    owners: [otto@sandbox.test]
    assets: [{host: www.sandbox.test}, {domain: shop.sandbox.test}]
officers: [officer@sandbox.test]
cio: cio@sandbox.test
contacts:
  - {id: sandbox-cert, name: Sandbox National CERT, kind: cert, email: incident@cert.sandbox.test, status_report: true, notes: gets every significant event's E+24h status report once approved}
  - {id: sandbox-isp, name: Sandbox ISP abuse desk, kind: isp, email: abuse@isp.sandbox.test, notes: "told with /notify ID sandbox-isp"}
webhooks:
  - {name: sandbox-pager, url: "http://127.0.0.1/webhook/sandbox-pager", format: ntfy} # the sandbox's stand-in
`, sandbox.Alias, dataDir, httpAddr)))
	if err != nil {
		panic("sandbox config: " + err.Error()) // a bug, not a user error
	}
	cfg.Sandbox = true
	return cfg
}

// Run runs the daemon until ctx ends. In the sandbox it first starts the
// loopback IMAP and SMTP servers and points the config at them. Run only
// wires: each part is built by its own function below, and the loops are
// the parts' own.
func Run(ctx context.Context, cfg *config.Config, o RunOptions) error {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	for _, w := range slices.Concat(cfg.Warnings, cfg.Coverage()) {
		log.Warn("config", "file", cfg.File, "line", w.Line, "field", w.Field, "why", w.Why)
	}
	unlock, err := lockDataDir(cfg.DataDir, log)
	if err != nil {
		return err
	}
	defer unlock()
	var later cleanups
	defer later.run()
	sb, info, err := startSandbox(cfg, o, log, &later)
	if err != nil {
		return err
	}
	b, err := assemble(ctx, cfg, o.Clock, log, &later)
	if err != nil {
		return err
	}
	if err := b.sandboxToken(ctx, info); err != nil {
		return err
	}
	watcher, err := b.imapWatcher()
	if err != nil {
		return err
	}
	h, metricsToken, err := b.httpHandler(info, watcher)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	goLoop := func(name string, f func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if !runGuarded(log, name, func() { f(ctx) }) {
					return // returned normally
				}
				time.Sleep(time.Second) // panicked: restart after a pause
			}
		}()
	}
	goLoop("outbox", b.out.Run)
	goLoop("engine", b.engine.Run)
	goLoop("audit-anchor", b.anchorLoop)
	for name, start := range map[string]func() (func(context.Context), error){"slack-socket": b.slackSocket, "discord-gateway": b.discordGateway} {
		loop, err := start()
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		if loop != nil {
			goLoop(name, loop)
		}
	}
	if watcher != nil {
		goLoop("imap", watcher.Run)
	}
	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(ln) }()
	if cfg.HTTP.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.HTTP.MetricsListen)
		if err != nil {
			cancel()
			srv.Close()
			wg.Wait()
			return fmt.Errorf("http.metrics_listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", web.MetricsHandler(b.metrics.Registry, metricsToken))
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { serveErr <- msrv.Serve(mln) }()
		defer msrv.Close()
	}

	addrs := Addrs{HTTP: ln.Addr().String()}
	if sb != nil {
		addrs.SandboxIMAP, addrs.SandboxSMTP = sb.IMAPAddr, sb.SMTPAddr
		// Scripts (and tocsin chat try) read where the daemon really
		// listens, ephemeral ports included.
		info.HTTPAddr, info.IMAPAddr, info.SMTPAddr = addrs.HTTP, addrs.SandboxIMAP, addrs.SandboxSMTP
		if err := info.Save(cfg.DataDir); err != nil {
			log.Warn("writing sandbox.json", "err", err)
		}
	}
	banner(o.Out, cfg, addrs, info, b.key)
	logStarted(log, cfg, addrs)
	if o.Ready != nil {
		o.Ready(addrs)
	}

	select {
	case <-ctx.Done():
		log.Info("stopping", "why", context.Cause(ctx))
	case err = <-serveErr:
		log.Info("stopping", "why", err)
		cancel()
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	srv.Shutdown(sctx)
	wg.Wait()
	b.finalAnchor()
	b.logStopped(log)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// logStarted logs one line that says what the daemon runs with.
func logStarted(log *slog.Logger, cfg *config.Config, a Addrs) {
	mailbox, relay := "none", "none"
	if cfg.IMAP != nil {
		mailbox = fmt.Sprintf("%s@%s/%s", cfg.IMAP.Username, net.JoinHostPort(cfg.IMAP.Host, strconv.Itoa(cfg.IMAP.Port)), cfg.IMAP.Mailbox)
	}
	if cfg.SMTP != nil {
		relay = net.JoinHostPort(cfg.SMTP.Host, strconv.Itoa(cfg.SMTP.Port))
	}
	var playbooks, chat []string
	for _, p := range cfg.Playbooks {
		playbooks = append(playbooks, p.Name)
	}
	if cfg.Slack != nil {
		chat = append(chat, "slack")
	}
	if cfg.Discord != nil {
		chat = append(chat, "discord")
	}
	log.Info("started", "mailbox", mailbox, "smtp", relay, "store", "sqlite "+dbPath(cfg),
		"people", len(cfg.People), "units", len(cfg.Units), "playbooks", strings.Join(playbooks, ","), "chat", strings.Join(chat, ","),
		"http", a.HTTP, "sandbox", cfg.Sandbox)
}

// logStopped logs what the stop left for the next start: items not yet
// sent stay in the outbox and go then.
func (b *Bot) logStopped(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := b.store.OutboxCounts(ctx)
	if err != nil {
		log.Info("stopped", "outbox", err)
		return
	}
	log.Info("stopped", "outbox_sent", counts["sent"], "outbox_waiting", counts["pending"]+counts["sending"], "outbox_failed", counts["failed"])
}

// cleanups run, last first, when Run returns.
type cleanups []func()

func (c *cleanups) add(f func()) { *c = append(*c, f) }

func (c *cleanups) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
}

// startSandbox starts the sandbox's loopback servers and points cfg at
// them; outside the sandbox it does nothing.
func startSandbox(cfg *config.Config, o RunOptions, log *slog.Logger, later *cleanups) (*sandbox.Servers, *sandbox.Info, error) {
	if !cfg.Sandbox {
		return nil, nil, nil
	}
	// The sandbox has no real accounts (any SMTP login, secrets in a
	// file): it must never be reachable from elsewhere.
	for what, addr := range map[string]string{"--http": cfg.HTTP.Listen, "--sandbox-imap": o.SandboxIMAP, "--sandbox-smtp": o.SandboxSMTP} {
		if host, _, err := net.SplitHostPort(addr); addr != "" && (err != nil || !config.IsLoopback(host)) {
			return nil, nil, fmt.Errorf("%s %s: the sandbox listens on loopback only (127.0.0.1, ::1 or localhost)", what, addr)
		}
	}
	info, err := sandbox.LoadOrCreateInfo(cfg.DataDir, o.SandboxIMAP, o.SandboxSMTP, cfg.HTTP.Listen)
	if err != nil {
		return nil, nil, err
	}
	sb, err := sandbox.Start(cfg.DataDir, info, o.SandboxIMAP, o.SandboxSMTP, log)
	if err != nil {
		return nil, nil, err
	}
	later.add(func() { sb.Close() })
	wireSandbox(cfg, info, sb)
	info.Responders, info.Units = sandboxRoster(cfg)
	info.Contacts = nil
	for _, k := range cfg.Contacts {
		info.Contacts = append(info.Contacts, sandbox.Contact{ID: k.ID, Name: k.Name, Email: k.Email})
	}
	return sb, info, info.Save(cfg.DataDir)
}

// assemble opens the store, the desk key and the SMTP connection, and
// builds the desk on them (New).
func assemble(ctx context.Context, cfg *config.Config, clk Clock, log *slog.Logger, later *cleanups) (*Bot, error) {
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	later.add(func() { st.Close() })
	if n, err := st.ReleaseClaims(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		log.Info("retrying sends interrupted by the last shutdown", "count", n)
	}
	key, created, err := responders.LoadOrCreateKey(KeyPath(cfg), cfg.Desk.Name, cfg.Desk.Address, cfg.PGP.KeyType)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(KeyPath(cfg)); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the desk's private key can be read by group or others: chmod 600", "path", KeyPath(cfg), "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
	if created {
		log.Info("generated desk signing key", "path", KeyPath(cfg), "fingerprint", key.Fingerprint())
	}
	var sender MailSender
	if cfg.SMTP != nil {
		s, err := responders.NewSMTP(*cfg.SMTP)
		if err != nil {
			return nil, err
		}
		later.add(func() { s.Close() })
		sender = s
	}
	if clk == nil && cfg.Sandbox {
		// The sandbox's clock can be moved forward (DESIGN.md), and keeps
		// the move, so that a restart never moves time back.
		if clk, err = clock.LoadShifted(filepath.Join(cfg.DataDir, "clock.json")); err != nil {
			return nil, err
		}
	}
	now := clk
	if now == nil {
		now = SystemClock{}
	}
	anchoring, err := startAuditChain(ctx, cfg, st, key, now.Now(), log)
	if err != nil {
		return nil, err
	}
	b, err := New(cfg, st, key, clk, log, sender)
	if b != nil {
		b.anchorsLost = !anchoring
	}
	return b, err
}

// imapWatcher is the mailbox's watcher feeding Ingest, with its metrics;
// nil without imap.
func (b *Bot) imapWatcher() (*intake.Watcher, error) {
	cfg := b.cfg
	if cfg.IMAP == nil {
		return nil, nil
	}
	spool := &intake.Spool{Dir: filepath.Join(cfg.DataDir, "spool")}
	spool.Clean()
	watcher, err := intake.NewWatcher(*cfg.IMAP, cfg.Limits.MaxMessageBytes, spool, b.store, func(ctx context.Context, source string, raw intake.Raw, received time.Time) error {
		_, err := b.IngestRaw(ctx, source, raw, received)
		return err
	}, b.log.With("component", "imap"))
	if err != nil {
		return nil, err
	}
	watcher.Fetched = func(n int) { b.metrics.IMAPFetched.Add(uint64(n)) }
	watcher.Clock = b.clock
	watcher.Quarantine = b.Quarantine
	b.metrics.Registry.GaugeFunc("tocsin_imap_connected", "1 while the IMAP session is logged in with the mailbox selected.", "", func() map[string]float64 {
		up, _ := watcher.Connected()
		return map[string]float64{"": map[bool]float64{true: 1}[up]}
	})
	b.metrics.Registry.GaugeFunc("tocsin_imap_last_success_timestamp_seconds", "When the mailbox was last looked at successfully (unix time; 0: never).", "", func() map[string]float64 {
		_, last := watcher.Connected()
		if last.IsZero() {
			return map[string]float64{"": 0}
		}
		return map[string]float64{"": float64(last.UnixNano()) / 1e9}
	})
	return watcher, nil
}

// httpHandler is the web UI, the API and the form, with the daemon's
// health and metrics; it returns the metrics token too.
func (b *Bot) httpHandler(info *sandbox.Info, watcher *intake.Watcher) (http.Handler, string, error) {
	cfg := b.cfg
	plain, tokens, users, err := httpCredentials(cfg)
	if err != nil {
		return nil, "", err
	}
	sentDir := ""
	if info != nil {
		sentDir = info.SentDir
	}
	metricsToken := ""
	if cfg.HTTP.MetricsToken != nil {
		if metricsToken, err = cfg.HTTP.MetricsToken.Resolve(); err != nil {
			return nil, "", fmt.Errorf("http.metrics_token: %w", err)
		}
	}
	health := map[string]func(time.Time) error{"outbox": b.out.Health}
	if watcher != nil {
		health["imap"] = watcher.Health
	}
	return web.New(web.Options{Config: cfg, Store: b.store, Key: b.key, Metrics: b.metrics.Registry, SentDir: sentDir,
		APITokens: plain, Tokens: tokens, DeskUsers: users, Log: b.log, Languages: b.forms.Languages(),
		Confirm: b.ConfirmFormReport, Clock: b.clock, SandboxClock: b.sandboxClock(), MoveEvent: b.moveEvent, SetUnits: b.setUnits, SetAsset: b.setAsset, Close: b.closeIncident, SetActions: b.setActions, Reply: b.apiReply, PhoneReport: b.apiPhoneReport, Chat: b.chat.Routes(),
		Health: health, MetricsToken: metricsToken, NoMetrics: cfg.HTTP.MetricsListen != "", TrustedProxies: trustedProxies(cfg),
		Ingest: func(ctx context.Context, source string, raw []byte, received time.Time) (string, error) {
			res, err := b.Ingest(ctx, source, raw, received)
			return res.Incident, err
		}}), metricsToken, nil
}

// loadKeyring reads the desk's private key (to decrypt), the known
// reporters' keys of pgp.keyring (to verify their signatures, and indexed
// by address to encrypt to them) and the roster's people's keys (to
// verify their answers: signers are each person's fingerprints), each
// file once.
func loadKeyring(cfg *config.Config, personKeyFile func(string) ([]byte, error)) (*parsers.Keyring, map[string][][]byte, map[string][]string, error) {
	desk, err := os.ReadFile(KeyPath(cfg))
	if err != nil {
		return nil, nil, nil, err
	}
	blocks := [][]byte{desk}
	var byAddress map[string][][]byte
	if cfg.PGP.Keyring != "" {
		known, err := os.ReadFile(cfg.PGP.Keyring)
		if err == nil {
			byAddress, err = responders.IndexKeys(known)
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("pgp.keyring: %w", err)
		}
		blocks = append(blocks, known)
	}
	people, signers, err := personKeys(cfg, personKeyFile)
	if err != nil {
		return nil, nil, nil, err
	}
	kr, err := parsers.ReadKeyring(append(blocks, people...)...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("keys for decryption and verification: %w", err)
	}
	return kr, byAddress, signers, nil
}

// lockDataDir takes an exclusive lock on DATA/tocsin.lock, so that two
// daemons never share one embedded store (the outbox relies on it).
func lockDataDir(dir string, log *slog.Logger) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	// It holds decrypted reports and the desk's private key.
	if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("data directory was open to group or others; made 0700", "dir", dir, "mode", fmt.Sprintf("%04o", st.Mode().Perm()))
		os.Chmod(dir, 0o700)
	}
	f, err := os.OpenFile(filepath.Join(dir, "tocsin.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another tocsin (lock %s): %w", dir, f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// runGuarded runs f, logging a panic instead of dying; it reports whether
// f panicked.
func runGuarded(log *slog.Logger, name string, f func()) (panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic; restarting loop", "loop", name, "panic", r, "stack", string(debug.Stack()))
			panicked = true
		}
	}()
	f()
	return false
}

func wireSandbox(cfg *config.Config, info *sandbox.Info, sb *sandbox.Servers) {
	ih, ip, _ := net.SplitHostPort(sb.IMAPAddr)
	sh, sp, _ := net.SplitHostPort(sb.SMTPAddr)
	iport, _ := strconv.Atoi(ip)
	sport, _ := strconv.Atoi(sp)
	idle := true
	cfg.IMAP = &config.IMAP{Server: config.Server{Host: ih, Port: iport, TLS: config.TLSNone, Username: info.IMAPUser,
		Secret: config.Secret{Password: info.IMAPPassword}}, Mailbox: "INBOX",
		Processed: config.Processed{Action: "delete", Flag: "$TocsinProcessed"}, IDLE: &idle, PollInterval: 5 * time.Second}
	cfg.SMTP = &config.SMTP{Server: config.Server{Host: sh, Port: sport, TLS: config.TLSNone}, Timeout: 30 * time.Second}
	cfg.HTTP.DeskUsers = []config.DeskUser{{Name: info.DeskUser, Secret: config.Secret{Password: info.DeskPassword}}}
	// Pagers too.
	for i := range cfg.Webhooks {
		cfg.Webhooks[i].URL = sb.ChatURL + "/webhook/" + cfg.Webhooks[i].Name
	}
	// Cards go to the local stand-ins and are kept as DATA/chat/*.json.
	if cfg.Slack == nil {
		cfg.Slack = &config.Slack{Token: config.Secret{Password: "xoxb-sandbox"}, Channel: "C0SANDBOX", APIURL: sb.ChatURL + "/slack/api/"}
	}
	if cfg.Discord == nil {
		cfg.Discord = &config.Discord{Token: config.Secret{Password: "sandbox"}, ChannelID: "1000000000000000001", APIURL: sb.ChatURL + "/discord/api/v9/"}
	}
	// Requests from them are verified with the secrets in sandbox.json.
	if cfg.Slack.SigningSecret == nil {
		cfg.Slack.SigningSecret = &config.Secret{Password: info.SlackSigningSecret}
	}
	if cfg.Discord.PublicKey == "" {
		cfg.Discord.PublicKey = info.DiscordPublicKey
	}
	if cfg.Discord.ApplicationID == "" {
		cfg.Discord.ApplicationID = sandbox.DiscordApplicationID
	}
	info.ChatURL = sb.ChatURL
}

func trustedProxies(cfg *config.Config) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range cfg.HTTP.TrustedProxies {
		if pr, err := netip.ParsePrefix(p); err == nil { // checked by config
			out = append(out, pr)
		}
	}
	return out
}

// httpCredentials resolves the config's API tokens (those naming no
// owner apart: they may only read and report) and desk logins.
func httpCredentials(cfg *config.Config) (plain []string, tokens []web.Token, users map[string]string, err error) {
	for i, t := range cfg.HTTP.APITokens {
		v, err := t.Resolve()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("http.api_tokens[%d]: %w", i, err)
		}
		if v == "" {
			return nil, nil, nil, fmt.Errorf("http.api_tokens[%d] is empty: an empty secret is no secret", i)
		}
		if !t.Owned() {
			plain = append(plain, v)
			continue
		}
		tokens = append(tokens, web.Token{Secret: v, Caller: web.Caller{Person: strings.ToLower(t.Person), Integration: t.Integration, Scopes: t.Scopes}})
	}
	users = map[string]string{}
	for _, u := range cfg.HTTP.DeskUsers {
		v, err := u.Resolve()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("http.desk_users %s: %w", u.Name, err)
		}
		if v == "" {
			return nil, nil, nil, fmt.Errorf("http.desk_users %s: the password is empty: an empty secret is no secret", u.Name)
		}
		users[u.Name] = v
	}
	return plain, tokens, users, nil
}

// sandboxToken keeps the sandbox's api_token (DATA/sandbox.json) in the
// store as the demo officer's, with every scope (DESIGN.md: the sandbox's
// token is the officer's); revoked, it stays revoked. Outside the sandbox
// it does nothing.
func (b *Bot) sandboxToken(ctx context.Context, info *sandbox.Info) error {
	if info == nil || info.APIToken == "" || len(b.cfg.Officers) == 0 {
		return nil
	}
	tok := store.APIToken{Person: strings.ToLower(b.cfg.Officers[0]), Scopes: config.APIScopes}
	if _, err := b.store.EnsureAPIToken(ctx, tok, info.APIToken, "system", b.clock.Now()); err != nil {
		return fmt.Errorf("the sandbox's API token: %w", err)
	}
	return nil
}

func banner(w io.Writer, cfg *config.Config, a Addrs, info *sandbox.Info, key *responders.Key) {
	fmt.Fprintf(w, "Tocsin is running.\n")
	login := "desk_users in the config"
	if info != nil {
		login = "desk_user/desk_password in " + filepath.Join(cfg.DataDir, "sandbox.json")
	}
	fmt.Fprintf(w, "  web UI        http://%s/   (login: %s)\n", a.HTTP, login)
	fmt.Fprintf(w, "  report form   http://%s/report\n", a.HTTP)
	fmt.Fprintf(w, "  API           http://%s/api/v1/incidents   (Authorization: Bearer TOKEN)\n", a.HTTP)
	fmt.Fprintf(w, "  health        http://%s/healthz   metrics http://%s/metrics\n", a.HTTP, a.HTTP)
	fmt.Fprintf(w, "  desk key      %s   fingerprint %s   (http://%s/pgp-key.asc)\n", KeyPath(cfg), key.Fingerprint(), a.HTTP)
	fmt.Fprintf(w, "  store         %s\n", dbPath(cfg))
	if info == nil {
		if cfg.IMAP != nil {
			fmt.Fprintf(w, "  mailbox       %s on %s:%d, folder %s\n", cfg.IMAP.Username, cfg.IMAP.Host, cfg.IMAP.Port, cfg.IMAP.Mailbox)
		} else {
			fmt.Fprintf(w, "  mailbox       none configured: reports come from the form and the API only\n")
		}
		if cfg.SMTP == nil {
			fmt.Fprintf(w, "  WARNING       no smtp configured: answers wait in the outbox\n")
		}
		return
	}
	fmt.Fprintf(w, "Sandbox (loopback only, no accounts needed):\n")
	fmt.Fprintf(w, "  IMAP          %s   user %s, password in %s\n", a.SandboxIMAP, info.IMAPUser, filepath.Join(cfg.DataDir, "sandbox.json"))
	fmt.Fprintf(w, "  SMTP          %s   mail to %s lands in the mailbox; all other mail is kept in %s\n", a.SandboxSMTP, sandbox.Alias, info.SentDir)
	fmt.Fprintf(w, "                log in (AUTH PLAIN/LOGIN) as your From address with smtp_password from sandbox.json: the MX stamps dmarc=pass, so a key you attach is used\n")
	fmt.Fprintf(w, "  Slack/Discord incident cards are kept in %s (what their APIs would have received)\n", filepath.Join(cfg.DataDir, "chat"))
	host, port, _ := net.SplitHostPort(a.SandboxSMTP)
	fmt.Fprintf(w, "Send a first report:\n")
	fmt.Fprintf(w, "  swaks --server %s:%s --from you@example.org --to %s --header 'Subject: XSS in login page' --body 'Steps: ...'\n", host, port, sandbox.Alias)
	fmt.Fprintf(w, "  or fill in the form at http://%s/report\n", a.HTTP)
	fmt.Fprintf(w, "Call trees (demo roster and playbooks: tocsin roster --data %s):\n", cfg.DataDir)
	fmt.Fprintf(w, "  a P1 report naming pay.sandbox.test or www.sandbox.test pages the team on call (mail in %s, chat DMs and pagers in %s)\n",
		info.SentDir, filepath.Join(cfg.DataDir, "chat"))
	fmt.Fprintf(w, "  move time on: curl -H \"Authorization: Bearer $API_TOKEN\" -d '{\"advance\":\"1h\"}' http://%s/api/v1/sandbox/clock\n", a.HTTP)
	fmt.Fprintf(w, "  answer as a roster person: reply \"ack\" or \"done\" from their address quoting the Answer reference of their alert,\n")
	fmt.Fprintf(w, "  or in chat: tocsin chat try slack|discord --as tara \"/ack SEC-...\" --data %s\n", cfg.DataDir)
	fmt.Fprintf(w, "Then: tocsin incidents list --data %s ; the signed acknowledgement is in %s\n", cfg.DataDir, info.SentDir)
}

// sandboxRoster is the demo roster as DATA/sandbox.json lists it.
func sandboxRoster(cfg *config.Config) ([]sandbox.Responder, []sandbox.Unit) {
	role, unit := map[string]string{}, map[string]string{}
	set := func(addr, r, u string) {
		if _, ok := role[addr]; !ok {
			role[addr], unit[addr] = r, u
		}
	}
	for _, m := range cfg.Team.Members {
		set(m, "team", "")
	}
	var units []sandbox.Unit
	for _, u := range cfg.Units {
		set(u.Contact, "unit_contact", u.ID)
		set(u.Backup, "unit_backup", u.ID)
		for _, o := range u.Owners {
			set(o, "owner", u.ID)
		}
		su := sandbox.Unit{ID: u.ID, Name: u.Name}
		for _, a := range u.Assets {
			if a.Host != "" {
				su.Assets = append(su.Assets, a.Host)
			}
			if a.Domain != "" {
				su.Assets = append(su.Assets, a.Domain)
			}
		}
		units = append(units, su)
	}
	for _, o := range cfg.Officers {
		set(o, "officer", "")
	}
	for _, r := range cfg.Regions {
		set(r.SecurityOfficer, "officer", "")
	}
	set(cfg.CIO, "cio", "")
	var out []sandbox.Responder
	for _, p := range cfg.People {
		if r, ok := role[p.Email]; ok {
			out = append(out, sandbox.Responder{Name: p.Name, Email: p.Email, Role: r, Unit: unit[p.Email], SlackUserID: p.SlackID, DiscordUserID: p.DiscordID})
		}
	}
	return out, units
}

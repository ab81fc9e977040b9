// Command tocsin is the Tocsin security-desk daemon and its tools. It only
// parses flags and wires packages together; the work is in bot, parsers,
// responders and config.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"tocsin/bot"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/internal/printable"
	"tocsin/parsers"
	"tocsin/responders"
	"tocsin/templates"
)

// version is set with -ldflags "-X main.version=..."; else the module's.
var version = ""

const usage = `tocsin — turns a security@ alias into an incident-response desk

Usage:
  tocsin run [--config FILE] [--data DIR] [--http ADDR] [--sandbox-imap ADDR] [--sandbox-smtp ADDR]
  tocsin check --config FILE [--connect]
  tocsin init [--config FILE]
  tocsin keys export [--config FILE | --data DIR]
  tocsin keys list [--json] [--config FILE | --data DIR]
  tocsin keys settle ADDRESS FINGERPRINT [--config FILE | --data DIR]
  tocsin parse [--json] [--key KEYFILE] FILE
  tocsin incidents list [--json] [--automatic] [--limit N | --all] [--since DATE] [--config FILE | --data DIR]
  tocsin incidents show ID [--json] [--config FILE | --data DIR]
  tocsin incidents reply ID request-info|status-update|closure [--text T] [--dry-run] [--url URL] [--token T] [--data DIR]
  tocsin report --phone --caller "name, organisation, phone[, address]" TEXT [--url URL] [--token T] [--data DIR]
  tocsin roster [--config FILE | --data DIR]
  tocsin roster who [--at TIME] [--unit ID] [--config FILE | --data DIR]
  tocsin audit verify [--anchor COUNT:SEAL] [--config FILE | --data DIR]
  tocsin audit reanchor --anchor COUNT:SEAL [--config FILE | --data DIR]
  tocsin tokens create --person ADDRESS | --integration NAME --scopes read,report,act,officer [--config FILE | --data DIR]
  tocsin tokens list [--json] [--config FILE | --data DIR]
  tocsin tokens revoke ID [--config FILE | --data DIR]
  tocsin chat try slack|discord --as PERSON ["/ack ID" | --button ack:ID] [--data DIR]
  tocsin chat manifest slack [--config FILE | --data DIR]
  tocsin chat register [--config FILE | --data DIR]
  tocsin templates check [--config FILE | --dir DIR]
  tocsin templates show FORM [--lang LANG] [--variant technical|non-technical] [--config FILE | --dir DIR]
  tocsin version

Without --config, run starts the sandbox: loopback IMAP and SMTP servers,
SQLite and a generated key under --data (default ./data). Each command has --help.
`

func main() {
	os.Exit(exitStatus(dispatch(os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

// exitStatus is the process status for what a command returned: 0 for
// success and for --help, the status of an exitError, else 1 with the
// one-line reason on stderr.
func exitStatus(err error, stderr io.Writer) int {
	var ex exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ex):
		return int(ex)
	}
	fmt.Fprintln(stderr, "tocsin:", printable.Inert(err.Error())) // it may quote a server or a file
	return 1
}

// exitError exits with a status after the command printed its own reason.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func dispatch(args []string, stdout, stderr io.Writer) error {
	// Every command writes for a terminal, and many print what others
	// wrote (a subject, a recipient, a remote server's error): all of it
	// passes printable's terminal guard, whichever field a command forgot.
	out, errOut := printable.NewWriter(stdout), printable.NewWriter(stderr)
	defer errOut.Flush()
	defer out.Flush()
	stdout, stderr = out, errOut
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError(2)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(rest, stdout, stderr)
	case "check":
		return cmdCheck(rest, stdout, stderr)
	case "init":
		return cmdInit(rest, stdout, stderr)
	case "keys":
		if isHelp(rest) {
			fmt.Fprint(stdout, groupUsage("keys"))
			return nil
		}
		switch {
		case len(rest) > 0 && rest[0] == "export":
			return cmdKeysExport(rest[1:], stdout, stderr)
		case len(rest) > 0 && rest[0] == "list":
			return cmdKeysList(rest[1:], stdout, stderr)
		case len(rest) > 0 && rest[0] == "settle":
			return cmdKeysSettle(rest[1:], stdout, stderr)
		}
		return errors.New("usage: tocsin keys export|list|settle (see tocsin keys --help)")
	case "parse":
		return cmdParse(rest, stdout, stderr)
	case "report":
		return cmdReport(rest, stdout, stderr)
	case "incidents":
		if isHelp(rest) {
			fmt.Fprint(stdout, groupUsage("incidents"))
			return nil
		}
		if len(rest) == 0 {
			return errors.New("usage: tocsin incidents list|show")
		}
		switch rest[0] {
		case "list":
			return cmdIncidentsList(rest[1:], stdout, stderr)
		case "show":
			return cmdIncidentsShow(rest[1:], stdout, stderr)
		case "reply":
			return cmdIncidentsReply(rest[1:], stdout, stderr)
		}
		return fmt.Errorf("unknown incidents command %q (list, show)", rest[0])
	case "chat":
		if isHelp(rest) {
			fmt.Fprint(stdout, groupUsage("chat"))
			return nil
		}
		switch {
		case len(rest) > 0 && rest[0] == "try":
			return cmdChatTry(rest[1:], stdout, stderr)
		case len(rest) > 0 && rest[0] == "manifest":
			return cmdChatManifest(rest[1:], stdout, stderr)
		case len(rest) > 0 && rest[0] == "register":
			return cmdChatRegister(rest[1:], stdout, stderr)
		}
		return errors.New("usage: tocsin chat try|manifest|register (see tocsin chat --help)")
	case "audit":
		if isHelp(rest) {
			fmt.Fprint(stdout, groupUsage("audit"))
			return nil
		}
		switch {
		case len(rest) > 0 && rest[0] == "verify":
			return cmdAuditVerify(rest[1:], stdout, stderr)
		case len(rest) > 0 && rest[0] == "reanchor":
			return cmdAuditReanchor(rest[1:], stdout, stderr)
		}
		return errAuditUsage
	case "tokens":
		return cmdTokens(rest, stdout, stderr)
	case "roster":
		if isHelp(rest) {
			fmt.Fprint(stdout, groupUsage("roster"))
			return nil
		}
		return cmdRoster(rest, stdout, stderr)
	case "templates":
		if isHelp(rest) {
			fmt.Fprint(stdout, groupUsage("templates"))
			return nil
		}
		if len(rest) == 0 {
			return errors.New("usage: tocsin templates check|show")
		}
		switch rest[0] {
		case "check":
			return cmdTemplatesCheck(rest[1:], stdout, stderr)
		case "show":
			return cmdTemplatesShow(rest[1:], stdout, stderr)
		}
		return fmt.Errorf("unknown templates command %q (check, show)", rest[0])
	case "version", "--version":
		if isHelp(rest) {
			fmt.Fprint(stdout, "Usage: tocsin version\nPrints the version.\n")
			return nil
		}
		fmt.Fprintln(stdout, "tocsin", buildVersion())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// isHelp reports whether a command group was asked for help.
func isHelp(rest []string) bool {
	return len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help" || rest[0] == "-help" || rest[0] == "help")
}

// groupUsage is the usage lines of one command group ("incidents").
func groupUsage(group string) string {
	var b strings.Builder
	b.WriteString("Usage:\n")
	for _, l := range strings.Split(usage, "\n") {
		if strings.HasPrefix(l, "  tocsin "+group+" ") {
			b.WriteString(l + "\n")
		}
	}
	b.WriteString("Each subcommand has --help.\n")
	return b.String()
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// parseFlags parses flags wherever they stand among the arguments, as users
// type both "parse --json FILE" and "parse FILE --json".
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// storeFlags are --config and --data for commands that read the store.
type storeFlags struct{ config, data string }

func (sf *storeFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&sf.config, "config", "", "config file (default: the sandbox in --data)")
	fs.StringVar(&sf.data, "data", "data", "data directory")
}

func (sf *storeFlags) load() (*config.Config, error) {
	if sf.config == "" {
		return bot.SandboxConfig(sf.data, "127.0.0.1:8080"), nil
	}
	cfg, err := config.Load(sf.config)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "tocsin run [--config FILE] [--data DIR] [--http ADDR] [--sandbox-imap ADDR] [--sandbox-smtp ADDR]", stderr)
	cfgPath := fs.String("config", "", "config file; without it the sandbox runs")
	data := fs.String("data", "", "data directory (default: data_dir of the config, or ./data)")
	httpAddr := fs.String("http", "", "HTTP listen address (default 127.0.0.1:8080)")
	simap := fs.String("sandbox-imap", "127.0.0.1:1143", "sandbox IMAP listen address")
	ssmtp := fs.String("sandbox-smtp", "127.0.0.1:1025", "sandbox SMTP listen address")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	var cfg *config.Config
	if *cfgPath == "" {
		dir := *data
		if dir == "" {
			dir = "data"
		}
		addr := *httpAddr
		if addr == "" {
			addr = "127.0.0.1:8080"
		}
		cfg = bot.SandboxConfig(dir, addr)
	} else {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			fmt.Fprintln(stderr, err)
			return exitError(1)
		}
		if *data != "" {
			cfg.DataDir = *data
		}
		if *httpAddr != "" {
			cfg.HTTP.Listen = *httpAddr
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Everything the daemon creates (the store with decrypted reports, raw
	// mail, keys, sent mail) is for the daemon's user alone.
	syscall.Umask(0o077)
	return bot.Run(ctx, cfg, bot.RunOptions{Log: log, Out: stdout, SandboxIMAP: *simap, SandboxSMTP: *ssmtp})
}

func cmdCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", "tocsin check --config FILE [--connect]", stderr)
	cfgPath := fs.String("config", "", "config file to check")
	connect := fs.Bool("connect", false, "also try the IMAP login and mailbox, the SMTP relay (EHLO, STARTTLS, AUTH; nothing sent), the chat tokens and every key file")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *cfgPath == "" && len(pos) == 1 {
		*cfgPath = pos[0]
	}
	if *cfgPath == "" {
		return errors.New("check needs --config FILE")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError(1)
	}
	if cfg.Templates.Dir != "" {
		set, err := templates.Load(cfg.Templates.Dir)
		if err == nil {
			err = set.Check()
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: templates.dir:\n%v\n", *cfgPath, err)
			return exitError(1)
		}
	}
	// What would page nobody, and what is still the starter's example.
	data, _ := os.ReadFile(*cfgPath)
	warnings := slices.Concat(cfg.Warnings, cfg.Coverage(), config.StarterLeftovers(data))
	sort.SliceStable(warnings, func(i, j int) bool { return warnings[i].Line < warnings[j].Line })
	for _, w := range warnings {
		fmt.Fprintf(stdout, "%s:%d: %s: %s\n", *cfgPath, w.Line, w.Field, w.Why)
	}
	// Nobody on call is never a silent drop, but it should be a surprise
	// to nobody either.
	gaps := cfg.Gaps(time.Now(), 14*24*time.Hour)
	for _, g := range gaps {
		fmt.Fprintf(stdout, "%s: rotations %s: nobody on call from %s to %s (%s); escalations go to the officers. Give it a stand_in or an override.\n",
			*cfgPath, g.Rotation, g.From.UTC().Format("2006-01-02 15:04 UTC"), g.To.UTC().Format("2006-01-02 15:04 UTC"), g.Why)
	}
	if *connect {
		failed := 0
		for _, p := range bot.Connect(context.Background(), cfg, 15*time.Second) {
			if p.OK {
				fmt.Fprintf(stdout, "%s: %s: connected: %s\n", *cfgPath, p.What, printable.Line(p.Detail))
				continue
			}
			failed++
			fmt.Fprintf(stdout, "%s: %s: FAILED: %s\n", *cfgPath, p.What, printable.Line(p.Detail))
		}
		if failed > 0 {
			fmt.Fprintf(stdout, "%s: %d connection(s) failed: tocsin run would retry them forever\n", *cfgPath, failed)
			return exitError(1)
		}
	}
	if n := len(warnings) + len(gaps); n > 0 {
		fmt.Fprintf(stdout, "%s: ok, with %d warning(s)\n", *cfgPath, n)
		return nil
	}
	fmt.Fprintf(stdout, "%s: ok\n", *cfgPath)
	return nil
}

// templateFlags choose the form set: the embedded one, with the overrides
// of --dir or of the config's templates.dir.
type templateFlags struct{ config, dir string }

func (tf *templateFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&tf.config, "config", "", "config file whose templates.dir to use")
	fs.StringVar(&tf.dir, "dir", "", "directory of form overrides (DIR/LANG/FORM.tmpl)")
}

func (tf *templateFlags) load() (*templates.Set, error) {
	dir := tf.dir
	if tf.config != "" {
		cfg, err := config.Load(tf.config)
		if err != nil {
			return nil, err
		}
		dir = cfg.Templates.Dir
	}
	return templates.Load(dir)
}

func cmdTemplatesCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("templates check", "tocsin templates check [--config FILE | --dir DIR]", stderr)
	var tf templateFlags
	tf.add(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	set, err := tf.load()
	if err == nil {
		err = set.Check()
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError(1)
	}
	fmt.Fprintf(stdout, "%d forms in %d languages (%s), both variants: ok\n", len(templates.Forms), len(set.Languages()), strings.Join(set.Languages(), ", "))
	return nil
}

func cmdTemplatesShow(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("templates show", "tocsin templates show FORM [--lang LANG] [--variant technical|non-technical]", stderr)
	var tf templateFlags
	tf.add(fs)
	lang := fs.String("lang", "en", "language")
	variant := fs.String("variant", "technical", "technical or non-technical")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("templates show needs one form: %s", strings.Join(templates.Forms, ", "))
	}
	set, err := tf.load()
	if err != nil {
		return err
	}
	data := templates.Sample(pos[0])
	data.Variant = templates.Variant(*variant)
	m, err := set.Render(pos[0], data, *lang)
	if err != nil {
		return err
	}
	if m.Lang != *lang {
		fmt.Fprintf(stderr, "no %s form in %q; showing %s\n", pos[0], *lang, m.Lang)
	}
	_, err = fmt.Fprintf(stdout, "Subject: %s\n\n%s", m.Subject, m.Body)
	return err
}

func cmdInit(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("init", "tocsin init [--config FILE]   (FILE - writes to standard output)", stderr)
	path := fs.String("config", "tocsin.yaml", "where to write the starter config")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "-" {
		_, err := io.WriteString(stdout, config.Starter)
		return err
	}
	f, err := os.OpenFile(*path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing starter config: %w (not overwritten)", err)
	}
	if _, err := io.WriteString(f, config.Starter); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s; edit it, then: tocsin check --config %s\n", *path, *path)
	return nil
}

func cmdKeysExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys export", "tocsin keys export [--config FILE | --data DIR]", stderr)
	var sf storeFlags
	sf.add(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := sf.load()
	if err != nil {
		return err
	}
	key, _, err := responders.LoadOrCreateKey(bot.KeyPath(cfg), cfg.Desk.Name, cfg.Desk.Address, cfg.PGP.KeyType)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, key.ArmoredPublicKey())
	return err
}

// cmdKeysList lists the keys senders offered: pinned (in use), conflict
// (a different key, waiting for a person) and replaced.
func cmdKeysList(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys list", "tocsin keys list [--json] [--config FILE | --data DIR]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	var sf storeFlags
	_, st, err := storeArgs(fs, &sf, args, 0, "keys list takes no arguments")
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.ListReporterKeys(context.Background(), "")
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, keys)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tFINGERPRINT\tSTATE\tFIRST SEEN (UTC)")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", term(k.Address), k.Fingerprint, k.State, k.FirstSeen.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

// cmdKeysSettle settles a key change: the given key, offered by the
// address, becomes the one pinned and used.
func cmdKeysSettle(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys settle", "tocsin keys settle ADDRESS FINGERPRINT [--config FILE | --data DIR]", stderr)
	var sf storeFlags
	pos, st, err := storeArgs(fs, &sf, args, 2, "settle needs ADDRESS and FINGERPRINT (see tocsin keys list)")
	if err != nil {
		return err
	}
	defer st.Close()
	addr, fpr := strings.ToLower(pos[0]), strings.ToUpper(strings.ReplaceAll(pos[1], " ", ""))
	// The entry names who settled it as the machine knows them.
	if err := st.SettleReporterKey(context.Background(), addr, fpr, cliActor(), time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: key %s is now pinned\n", addr, fpr)
	return nil
}

func cmdParse(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("parse", "tocsin parse [--json] [--key KEYFILE] FILE   (FILE - reads standard input)", stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	keyFile := fs.String("key", "", "armored OpenPGP keys: private ones decrypt, public ones verify")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("parse needs exactly one FILE")
	}
	var keys *parsers.Keyring
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return err
		}
		if keys, err = parsers.ReadKeyring(b); err != nil {
			return fmt.Errorf("--key %s: %w", *keyFile, err)
		}
	}
	var raw []byte
	if pos[0] == "-" {
		raw, err = io.ReadAll(os.Stdin)
	} else {
		raw, err = os.ReadFile(pos[0])
	}
	if err != nil {
		return err
	}
	rep, err := parsers.ParseWith(raw, parsers.Options{Limits: parsers.DefaultLimits, Keys: keys})
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if *asJSON {
		return printJSON(stdout, rep)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, term(v))
		}
	}
	row("from", strings.TrimSpace(rep.FromName+" <"+rep.From+">"))
	row("organisation", rep.Organisation)
	row("sender class", rep.SenderClass)
	if a := rep.Authentication; a.Server != "" {
		row("authentication", fmt.Sprintf("%s: dkim=%s spf=%s dmarc=%s", a.Server, a.DKIM, a.SPF, a.DMARC))
	}
	for _, s := range rep.SpoofSigns {
		row("SENDER DOUBTFUL", s)
	}
	row("subject", rep.Subject)
	row("category", string(rep.Category))
	if rep.AutoSubmitted {
		row("auto-submitted", "yes: "+rep.AutoReason+" (never answered)")
	}
	row("language", rep.Language)
	row("priority", rep.Priority+" ("+strings.Join(rep.PriorityReasons, "; ")+")")
	row("cves", strings.Join(rep.CVEs, ", "))
	row("cwes", strings.Join(rep.CWEs, ", "))
	for _, c := range rep.CVSS {
		if c.BaseScore >= 0 {
			row("cvss", fmt.Sprintf("%s = %.1f (%s)", c.Vector, c.BaseScore, c.Severity))
		} else {
			row("cvss", c.Vector+" (not scored)")
		}
	}
	row("versions", strings.Join(rep.Versions, ", "))
	row("affected assets", strings.Join(rep.AffectedAssets, ", "))
	ind := rep.Indicators
	row("ipv4", strings.Join(ind.IPv4, ", "))
	row("ipv6", strings.Join(ind.IPv6, ", "))
	row("domains", strings.Join(ind.Domains, ", "))
	row("urls", strings.Join(ind.URLs, ", "))
	row("hashes", strings.Join(ind.Hashes, ", "))
	for _, a := range rep.Attachments {
		row("attachment", fmt.Sprintf("%s (%s, %d bytes, sha256 %s)", a.Name, a.ContentType, a.Size, a.SHA256))
	}
	if f := rep.Feedback; f != nil {
		row("abuse report", fmt.Sprintf("%s %s, source %s %s", f.Format, f.Type, f.SourceIP, f.ReportedDomain))
	}
	if d := rep.IODEF; d != nil {
		row("iodef", fmt.Sprintf("%s: %s (%s)", d.IncidentID, strings.Join(d.Description, "; "), strings.Join(d.Addresses, ", ")))
	}
	for _, f := range rep.Forwarded {
		row("forwarded", fmt.Sprintf("%s: %s", f.From, f.Subject))
	}
	row("message-id", rep.Thread.MessageID)
	row("in-reply-to", rep.Thread.InReplyTo)
	row("incident tag", rep.Thread.IncidentTag)
	if rep.PGP.Signed || rep.PGP.Encrypted {
		row("pgp", rep.PGP.Reason)
	}
	row("offered keys", strings.Join(rep.PGP.OfferedKeys, ", "))
	for _, w := range rep.Warnings {
		row("warning", w)
	}
	tw.Flush()
	if rep.Text != "" {
		fmt.Fprintf(stdout, "\n%s\n", printable.Text(rep.Text))
	}
	return nil
}

// storeArgs parses a store command's flags and positional arguments (want
// of them, else usage) and opens the store; the caller closes it.
// configArgs parses a command's flags (with --config and --data) and
// loads the config they name; it returns the positional arguments.
func configArgs(fs *flag.FlagSet, sf *storeFlags, args []string) ([]string, *config.Config, error) {
	sf.add(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := sf.load()
	return pos, cfg, err
}

func storeArgs(fs *flag.FlagSet, sf *storeFlags, args []string, want int, usage string) ([]string, *store.Store, error) {
	sf.add(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if len(pos) != want {
		return nil, nil, errors.New(usage)
	}
	st, err := openStoreRead(sf)
	return pos, st, err
}

func openStoreRead(sf *storeFlags) (*store.Store, error) {
	cfg, err := sf.load()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.DataDir); err != nil && cfg.Store.DSN == "" {
		return nil, fmt.Errorf("no data directory %s (run the daemon first, or pass --data/--config)", cfg.DataDir)
	}
	return bot.OpenStore(context.Background(), cfg)
}

func cmdIncidentsList(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("incidents list", "tocsin incidents list [--json] [--automatic] [--limit N | --all] [--since DATE] [--config FILE | --data DIR]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	automatic := fs.Bool("automatic", false, "list the automatic mail (auto-replies, bounces, receipts) that opened no incident")
	limit := fs.Int("limit", 200, "list at most this many, newest first")
	all := fs.Bool("all", false, "list them all")
	since := fs.String("since", "", "only those since DATE (2026-12-01 or RFC 3339)")
	var sf storeFlags
	_, st, err := storeArgs(fs, &sf, args, 0, "incidents list takes no arguments")
	if err != nil {
		return err
	}
	defer st.Close()
	p := store.Page{Limit: *limit}
	if *all {
		p.Limit = 0
	} else if *limit < 1 {
		return errors.New("--limit must be 1 or more (or --all)")
	}
	if *since != "" {
		t, err := time.Parse(time.RFC3339, *since)
		if err != nil {
			if t, err = time.Parse(time.DateOnly, *since); err != nil {
				return fmt.Errorf("--since %q: a date (2026-12-01) or RFC 3339", *since)
			}
		}
		p.Since = t
	}
	if *automatic {
		return listUnfiled(st, p.Limit, *asJSON, stdout, stderr)
	}
	incs, total, err := st.IncidentsPage(context.Background(), p)
	if err != nil {
		return err
	}
	// A list that stops says so, on stderr: stdout stays the list.
	defer func() {
		if len(incs) < total {
			fmt.Fprintf(stderr, "showing %d of %d incidents (newest first); --limit N or --all for more\n", len(incs), total)
		}
	}()
	if *asJSON {
		return printJSON(stdout, incs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPRIO\tSTATUS\tCATEGORY\tOPENED (UTC)\tREPORTER\tSUBJECT")
	for _, i := range incs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i.Ref, i.Priority, i.Status, i.Category, i.CreatedAt.Format("2006-01-02 15:04"), term(i.Reporter), printable.Runes(term(i.Subject), 60))
	}
	return tw.Flush()
}

func listUnfiled(st *store.Store, limit int, asJSON bool, stdout, stderr io.Writer) error {
	if limit == 0 {
		limit = -1 // SQLite: no limit
	}
	msgs, err := st.ListUnfiled(context.Background(), limit)
	if err != nil {
		return err
	}
	if total, err := st.CountUnfiled(context.Background()); err == nil && len(msgs) < total {
		defer fmt.Fprintf(stderr, "showing %d of %d automatic messages (newest first); --limit N or --all for more\n", len(msgs), total)
	}
	if asJSON {
		return printJSON(stdout, msgs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED (UTC)	CATEGORY	FROM	SUBJECT	WHY NO INCIDENT")
	for _, m := range msgs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.CreatedAt.Format("2006-01-02 15:04"), m.Category, term(m.From), printable.Runes(term(m.Subject), 50), term(m.UnfiledReason))
	}
	return tw.Flush()
}

// term makes text from mail safe for a terminal: one line, no escape
// sequence (OSC 52 would write the clipboard), control characters shown.
func term(s string) string { return printable.Line(s) }

func cmdIncidentsShow(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("incidents show", "tocsin incidents show ID [--json] [--config FILE | --data DIR]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	var sf storeFlags
	pos, st, err := storeArgs(fs, &sf, args, 1, "show needs one incident ID")
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := st.GetIncident(context.Background(), pos[0])
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no incident %s", pos[0])
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, d)
	}
	fmt.Fprintf(stdout, "%s  %s  %s  %s\n%s\nreporter: %s %s\nopened:   %s UTC\n", d.Ref, d.Priority, d.Status, d.Category, term(d.Subject),
		term(d.ReporterName), "<"+term(d.Reporter)+">", d.CreatedAt.Format("2006-01-02 15:04:05"))
	if t := d.CallTree; t != nil {
		fmt.Fprintf(stdout, "\ncall tree: %s, E = %s UTC", t.Playbook, t.EventAt.UTC().Format("2006-01-02 15:04:05"))
		if t.Closed {
			fmt.Fprint(stdout, " (closed)")
		}
		var units []string
		for _, u := range t.Units {
			if u.Removed {
				units = append(units, term(u.Unit)+" (removed: "+term(u.RemovedWhy)+")")
			} else {
				units = append(units, term(u.Unit)+" ("+term(u.Evidence)+")")
			}
		}
		fmt.Fprintf(stdout, "\naffected units: %s\n", orDash(strings.Join(units, ", ")))
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  STEP\tNEEDS\tDUE (UTC)\tSTATE\tTOLD\tACKED\tDONE\tESCALATED TO")
		for _, s := range t.Steps {
			state := s.State
			if s.Why != "" {
				state += " (" + term(s.Why) + ")"
			}
			if b := s.Blocked; b != nil {
				state += " (blocked by " + term(b.By) + " " + b.At.UTC().Format("01-02 15:04") + ": " + term(b.Text) + ")"
			}
			told := orDash(strings.Join(s.Notified, ","))
			if len(s.Away) > 0 {
				told += " (away: " + strings.Join(s.Away, ",") + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Needs, s.DueAt.UTC().Format("01-02 15:04"), state,
				term(told), term(orDash(strings.Join(s.AckedBy, ","))), term(orDash(strings.Join(s.DoneBy, ","))), term(orDash(strings.Join(s.EscalatedTo, ","))))
		}
		tw.Flush()
		if a := t.Actions; a != nil {
			fmt.Fprintf(stdout, "\nactions (version %d, by %s, %s UTC):\n", a.Version, term(a.By), a.At.UTC().Format("2006-01-02 15:04"))
			for _, l := range strings.Split(a.Text, "\n") {
				fmt.Fprintln(stdout, "  "+term(l))
			}
		}
		if len(t.Assets) > 0 {
			fmt.Fprintln(stdout, "\nassets:")
			tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  UNIT\tASSET\tSTATE\tBY\tAT (UTC)\tNOTE")
			for _, a := range t.Assets {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", term(a.Unit), term(a.Asset), a.State, term(orDash(a.By)), a.At.UTC().Format("01-02 15:04"), term(orDash(a.Note)))
			}
			tw.Flush()
		}
	}
	fmt.Fprintln(stdout, "\nmessages:")
	for _, m := range d.Messages {
		id := "(no Message-ID)"
		if m.MessageID != "" {
			id = "<" + m.MessageID + ">"
		}
		mark := ""
		if m.NewSender {
			mark = "  [NEW SENDER: had no part in this incident]"
		}
		fmt.Fprintf(stdout, "  %s %-3s %s  %s  %s%s\n", m.CreatedAt.Format("2006-01-02 15:04:05"), m.Direction, term(m.From), term(m.Subject), term(id), mark)
	}
	fmt.Fprintln(stdout, "\noutbox:")
	for _, o := range d.Outbox {
		line := fmt.Sprintf("  %-28s %-7s to %s  %s  attempts %d", term(o.IdemKey), o.Channel, term(o.Recipient), strings.ToUpper(o.State), o.Attempts)
		if o.LastError != "" {
			line += "  error: " + term(o.LastError) // a remote server's words
		}
		fmt.Fprintln(stdout, line)
	}
	if len(d.Drafts) > 0 {
		fmt.Fprintln(stdout, "\noutside (drafts to external contacts):")
		for _, x := range d.Drafts {
			line := fmt.Sprintf("  %s to %s  %s  drafted by %s %s", x.Form, term(x.Contact), strings.ToUpper(x.State), term(x.DraftedBy), x.DraftedAt.UTC().Format("2006-01-02 15:04"))
			if x.ApprovedBy != "" {
				line += fmt.Sprintf(", approved by %s %s", term(x.ApprovedBy), x.ApprovedAt.UTC().Format("2006-01-02 15:04"))
			}
			fmt.Fprintln(stdout, line)
		}
	}
	fmt.Fprintln(stdout, "\naudit:")
	for _, a := range d.Audit {
		from := ""
		if a.Platform != "" {
			from = "  [" + term(a.Platform) + " " + term(a.RequestID) + "]"
		}
		fmt.Fprintf(stdout, "  %s  %-24s %-22s %s%s\n", a.At.Format("2006-01-02 15:04:05"), term(a.Actor), term(a.Action), term(a.Detail), from)
	}
	return nil
}

// printJSON writes v to w as indented JSON, the --json output of every
// command: with what a terminal would obey escaped (printable.JSON), the
// same data to a program.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(printable.JSON(b), '\n'))
	return err
}

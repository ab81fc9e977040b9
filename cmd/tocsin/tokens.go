package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"tocsin/bot"
	"tocsin/bot/clock"
	"tocsin/bot/store"
	"tocsin/config"
)

// cmdTokens runs tocsin tokens create|list|revoke: API tokens, each a
// roster person's or a named integration's, with scopes, kept hashed.
func cmdTokens(rest []string, stdout, stderr io.Writer) error {
	if isHelp(rest) {
		fmt.Fprint(stdout, groupUsage("tokens"))
		return nil
	}
	if len(rest) > 0 {
		switch rest[0] {
		case "create":
			return cmdTokensCreate(rest[1:], stdout, stderr)
		case "list":
			return cmdTokensList(rest[1:], stdout, stderr)
		case "revoke":
			return cmdTokensRevoke(rest[1:], stdout, stderr)
		}
	}
	return errors.New("usage: tocsin tokens create|list|revoke (see tocsin tokens --help)")
}

// cliActor is who a CLI command's audit entries name (tokens, keys
// settle): the OS account that ran it.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

// cliClock is the daemon's clock as the CLI can know it: the sandbox's
// moved clock (DATA/clock.json), else the wall clock.
func cliClock(cfg *config.Config) (clock.Clock, error) {
	if cfg.Sandbox {
		return clock.LoadShifted(filepath.Join(cfg.DataDir, "clock.json"))
	}
	return clock.System{}, nil
}

// newTokenSecret is 32 random bytes, URL-safe: far beyond guessing, so
// its SHA-256 alone identifies it.
func newTokenSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "tocsin_" + base64.RawURLEncoding.EncodeToString(b), nil
}

func cmdTokensCreate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokens create", "tocsin tokens create --person ADDRESS | --integration NAME --scopes read,report,act,officer [--config FILE | --data DIR]", stderr)
	person := fs.String("person", "", "the roster address the token acts as (their roster role limits it, as in chat)")
	integration := fs.String("integration", "", "the name of the system the token belongs to (audited as integration:NAME)")
	scopes := fs.String("scopes", "", "comma-separated: read, report, act, officer")
	var sf storeFlags
	pos, cfg, err := configArgs(fs, &sf, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return errors.New("tokens create takes no arguments, only flags (see --help)")
	}
	var list []string
	for _, s := range strings.Split(*scopes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			list = append(list, s)
		}
	}
	if field, why := cfg.CheckAPIOwner(*person, *integration, list); why != "" {
		return fmt.Errorf("--%s: %s", field, why)
	}
	secret, err := newTokenSecret()
	if err != nil {
		return err
	}
	st, clk, err := tokenStore(&sf, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	tok := store.APIToken{Person: strings.ToLower(*person), Integration: *integration, Scopes: list}
	id, err := st.CreateAPIToken(context.Background(), tok, secret, cliActor(), clk.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "API token %d for %s, scopes %s. It is shown this once: the store keeps only its SHA-256.\n", id, tok.Owner(), strings.Join(list, ","))
	fmt.Fprintln(stdout, secret)
	return nil
}

// tokenStore opens the store of cfg for a token command.
func tokenStore(sf *storeFlags, cfg *config.Config) (*store.Store, clock.Clock, error) {
	clk, err := cliClock(cfg)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(cfg.DataDir); err != nil && cfg.Store.DSN == "" && sf.config == "" {
		return nil, nil, fmt.Errorf("no data directory %s (run the daemon first, or pass --data/--config)", cfg.DataDir)
	}
	st, err := bot.OpenStore(context.Background(), cfg)
	return st, clk, err
}

func cmdTokensList(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokens list", "tocsin tokens list [--json] [--config FILE | --data DIR]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	var sf storeFlags
	_, st, err := storeArgs(fs, &sf, args, 0, "tokens list takes no arguments")
	if err != nil {
		return err
	}
	defer st.Close()
	toks, err := st.ListAPITokens(context.Background())
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, toks)
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04")
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tOWNER\tSCOPES\tCREATED (UTC)\tLAST USED\tREVOKED")
	for _, t := range toks {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, term(t.Owner()), strings.Join(t.Scopes, ","), when(t.CreatedAt), when(t.LastUsedAt), when(t.RevokedAt))
	}
	return tw.Flush()
}

func cmdTokensRevoke(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokens revoke", "tocsin tokens revoke ID [--config FILE | --data DIR]", stderr)
	var sf storeFlags
	pos, cfg, err := configArgs(fs, &sf, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("revoke needs the token's ID (see tocsin tokens list)")
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a token ID (see tocsin tokens list)", pos[0])
	}
	st, clk, err := tokenStore(&sf, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.RevokeAPIToken(context.Background(), id, cliActor(), clk.Now()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "API token %d revoked\n", id)
	return nil
}

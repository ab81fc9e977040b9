package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"tocsin/bot"
	"tocsin/bot/store"
	"tocsin/config"
)

// cmdAuditVerify checks the audit log: its keyed chain, against the
// latest signed anchor, and the state of incidents, steps and drafts
// against the entries that made it. Exit 0 when it holds, else 1 naming
// the first bad entry, a truncation or a state without its entry. It
// opens the store read-only and creates no key: it changes nothing it
// checks.
func cmdAuditVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit verify", "tocsin audit verify [--anchor COUNT:SEAL ...] [--config FILE | --data DIR]", stderr)
	cfg, given, err := anchorArgs(fs, args, "audit verify", "also check against this anchor, COUNT:SEAL as a status report shows it (repeatable)")
	if err != nil {
		return err
	}
	n, anchor, brk, err := bot.VerifyAudit(context.Background(), cfg, given...)
	if errors.Is(err, bot.ErrNoAnchor) {
		// Without an anchor a cut tail cannot be seen: not intact.
		fmt.Fprintf(stderr, "audit chain not verified: %v\n", err)
		if brk != nil {
			fmt.Fprintf(stderr, "and without an anchor, after %d good entries: %v\n", n, brk)
		}
		return exitError(1)
	}
	if err != nil {
		return err
	}
	if brk != nil {
		switch brk.Kind {
		case store.BreakTruncated, store.BreakRewritten, store.BreakState:
			fmt.Fprintf(stderr, "audit chain broken: %v\n", brk)
		default:
			fmt.Fprintf(stderr, "audit chain broken after %d good entries: %v\n", n, brk)
		}
		return exitError(1)
	}
	fmt.Fprintf(stdout, "audit chain intact: %d entries, reaching every anchor checked (the last counted %d)\n", n, anchor.Count)
	return nil
}

// cmdAuditReanchor starts a lost anchors file again, vouching for no more
// than the officers' anchors given (bot.Reanchor); audited.
func cmdAuditReanchor(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit reanchor", "tocsin audit reanchor --anchor COUNT:SEAL [--config FILE | --data DIR]", stderr)
	cfg, given, err := anchorArgs(fs, args, "audit reanchor", "an anchor from an officers' status report, COUNT:SEAL (required, repeatable): the log must reach it")
	if err != nil {
		return err
	}
	clk, err := cliClock(cfg)
	if err != nil {
		return err
	}
	a, err := bot.Reanchor(context.Background(), cfg, cliActor(), clk.Now(), given)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "audit anchors started again at %d entries (vouched for up to the given anchor)\n", a.Count)
	return nil
}

// anchorArgs parses an audit command's repeatable --anchor COUNT:SEAL
// (described by usage), the store flags and no positional argument.
func anchorArgs(fs *flag.FlagSet, args []string, cmd, usage string) (*config.Config, []store.AuditAnchor, error) {
	var given []store.AuditAnchor
	fs.Func("anchor", usage, func(v string) error {
		a, err := bot.ParseAnchor(v)
		if err == nil {
			given = append(given, a)
		}
		return err
	})
	var sf storeFlags
	pos, cfg, err := configArgs(fs, &sf, args)
	if err != nil {
		return nil, nil, err
	}
	if len(pos) != 0 {
		return nil, nil, errors.New(cmd + " takes no arguments")
	}
	return cfg, given, nil
}

var errAuditUsage = errors.New("usage: tocsin audit verify|reanchor [--config FILE | --data DIR]")

package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"tocsin/bot/roster"
	"tocsin/config"
)

func cmdRoster(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "who" {
		return cmdRosterWho(args[1:], stdout, stderr)
	}
	fs := newFlags("roster", "tocsin roster [--config FILE | --data DIR]", stderr)
	var sf storeFlags
	pos, cfg, err := configArgs(fs, &sf, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unknown roster command %q (who)", pos[0])
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PERSON\tE-MAIL\tPHONE\tZONE\tLANG\tREGION\tREACHED BY")
	for _, p := range cfg.People {
		var via []string
		for _, m := range p.Contact {
			v := m.Via
			switch m.Via {
			case config.ViaSlack:
				v += " " + p.SlackID
			case config.ViaDiscord:
				v += " " + p.DiscordID
			case config.ViaPager:
				v += " " + p.Pager
			}
			if m.After > 0 {
				v += " after " + short(m.After)
			}
			via = append(via, v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", term(p.Name), p.Email, orDash(p.Phone), orDash(p.TimeZone), p.Language, orDash(p.Region), strings.Join(via, ", "))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nteam: %s (primary rotation %s, secondary %s)\n", strings.Join(cfg.Team.Members, ", "), orDash(cfg.Team.Primary), orDash(cfg.Team.Secondary))
	for _, u := range cfg.Units {
		var assets []string
		for _, a := range u.Assets {
			switch {
			case a.Host != "":
				assets = append(assets, "host "+a.Host)
			case a.Domain != "":
				assets = append(assets, "domain "+a.Domain)
			case a.Range != "":
				assets = append(assets, "range "+a.Range)
			case a.Product != "":
				assets = append(assets, "product "+a.Product)
			}
		}
		fmt.Fprintf(stdout, "unit %s (%s): contact %s, backup %s, owners %s; assets: %s\n", u.ID, term(u.Name), u.Contact, orDash(u.Backup),
			orDash(strings.Join(u.Owners, ", ")), orDash(strings.Join(assets, ", ")))
	}
	fmt.Fprintf(stdout, "officers: %s\ncio: %s\n", orDash(strings.Join(cfg.Officers, ", ")), orDash(cfg.CIO))
	for _, k := range cfg.Contacts {
		extra := ""
		if k.StatusReport {
			extra += "; the E+24h status report is drafted to them"
		}
		if k.KeyFile != "" {
			extra += "; encrypted always"
		}
		fmt.Fprintf(stdout, "external contact %s (%s, %s): %s%s\n", k.ID, term(k.Name), k.Kind, k.Email, extra)
	}
	for _, p := range cfg.Playbooks {
		var steps []string
		for _, s := range p.Steps {
			steps = append(steps, fmt.Sprintf("E+%s %s (%s, %s)", short(s.Due), s.ID, s.Audience, s.Needs))
		}
		fmt.Fprintf(stdout, "playbook %s: %s\n", p.Name, strings.Join(steps, "; "))
	}
	return nil
}

func cmdRosterWho(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("roster who", "tocsin roster who [--at TIME] [--unit ID] [--config FILE | --data DIR]", stderr)
	at := fs.String("at", "", "the instant (RFC 3339, e.g. 2026-12-24T03:00:00+01:00); default now")
	unit := fs.String("unit", "", "only this unit's slots")
	var sf storeFlags
	pos, cfg, err := configArgs(fs, &sf, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return errors.New("roster who takes no arguments")
	}
	clk, err := cliClock(cfg) // the sandbox's moved clock, as the daemon sees it
	if err != nil {
		return err
	}
	t := clk.Now()
	if *at != "" {
		if t, err = time.Parse(time.RFC3339, *at); err != nil {
			return fmt.Errorf("--at %q is not an RFC 3339 time such as 2026-12-24T03:00:00+01:00", *at)
		}
	}
	if *unit != "" {
		if _, ok := cfg.UnitByID(*unit); !ok {
			return fmt.Errorf("no unit %q", *unit)
		}
	}
	fmt.Fprintf(stdout, "on call at %s\n", t.UTC().Format("2006-01-02 15:04 UTC"))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tPERSON\tNAME\tWHY\tUNTIL (UTC)")
	for _, s := range roster.New(cfg).Who(t, *unit) {
		who, name := s.Person, ""
		if who == "" {
			who = "NOBODY"
		} else if p, ok := cfg.PersonByEmail(who); ok {
			name = p.Name
		}
		until := "-"
		if !s.Until.IsZero() {
			until = s.Until.UTC().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", term(s.Name), term(who), term(name), term(s.Why), until)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// short prints a duration without its zero units: 1h, 2h30m, 45m.
func short(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}

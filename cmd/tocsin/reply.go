package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tocsin/bot/sandbox"
)

// The CLI acts as a person through the running daemon's API, with an API
// token: the token's roster person is who acts (and is audited), through
// the same command path as chat. There is no --as: a CLI that could name
// anyone would act as anyone. Without --url the sandbox's address and
// token are read from DATA/sandbox.json (the officer's token).

// apiFlags are where the daemon's API is and the token to use.
type apiFlags struct{ url, token, data string }

func (af *apiFlags) add(fsAdd func(p *string, name, value, usage string)) {
	fsAdd(&af.url, "url", "", "the daemon's base URL (default: the sandbox's, from DATA/sandbox.json)")
	fsAdd(&af.token, "token", os.Getenv("TOCSIN_API_TOKEN"), "API token of the person who acts (default: $TOCSIN_API_TOKEN, or the sandbox's)")
	fsAdd(&af.data, "data", "data", "the sandbox's data directory")
}

// post posts body to path and decodes the answer into out; an answer
// other than 2xx is an error carrying the API's error.
func (af *apiFlags) post(path string, body, out any) error {
	base, token := strings.TrimRight(af.url, "/"), af.token
	if base == "" {
		b, err := os.ReadFile(filepath.Join(af.data, "sandbox.json"))
		if err != nil {
			return fmt.Errorf("no --url, and no sandbox in %s (run make run first): %w", af.data, err)
		}
		var info sandbox.Info
		if err := json.Unmarshal(b, &info); err != nil {
			return err
		}
		base = "http://" + info.HTTPAddr
		if token == "" {
			token = info.APIToken
		}
	}
	if token == "" {
		return errors.New("no API token: --token or TOCSIN_API_TOKEN (tocsin tokens create --person ADDRESS)")
	}
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		json.Unmarshal(b, &e)
		return fmt.Errorf("%s: %s", resp.Status, e.Error)
	}
	return json.Unmarshal(b, out)
}

// cmdIncidentsReply previews (--dry-run) or sends a form to an incident's
// reporter.
func cmdIncidentsReply(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("incidents reply", "tocsin incidents reply ID request-info|status-update|closure [--text T] [--dry-run] [--url URL] [--token T] [--data DIR]", stderr)
	var af apiFlags
	af.add(fs.StringVar)
	text := fs.String("text", "", "the team's text (request-info: one question a line)")
	dry := fs.Bool("dry-run", false, "print the rendered mail, send nothing")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return errors.New("usage: tocsin incidents reply ID request-info|status-update|closure [--text T] [--dry-run]")
	}
	var out struct {
		Incident, Form, To, Lang, Subject, Body string
		Queued                                  bool
	}
	if err := af.post("/api/v1/incidents/"+strings.ToUpper(pos[0])+"/reply", map[string]any{"form": pos[1], "text": *text, "dry_run": *dry}, &out); err != nil {
		return err
	}
	if *dry {
		fmt.Fprintf(stdout, "To: %s\nSubject: %s\n\n%s\n", out.To, out.Subject, out.Body)
		return nil
	}
	fmt.Fprintf(stdout, "%s: %s queued to %s\n", out.Incident, out.Form, out.To)
	return nil
}

// cmdReport logs a report taken by phone.
func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", `tocsin report --phone --caller "name, organisation, phone[, address]" TEXT [--url URL] [--token T] [--data DIR]`, stderr)
	var af apiFlags
	af.add(fs.StringVar)
	phone := fs.Bool("phone", false, "a report taken by phone")
	callerArg := fs.String("caller", "", `the caller: "name, organisation, phone[, address]" (mailed only with an address)`)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	parts := strings.Split(*callerArg, ",")
	if !*phone || len(parts) < 3 || len(parts) > 4 || len(pos) == 0 {
		return errors.New(`usage: tocsin report --phone --caller "name, organisation, phone[, address]" TEXT`)
	}
	caller := map[string]string{}
	for i, k := range []string{"name", "organisation", "phone", "address"} {
		if i < len(parts) {
			caller[k] = strings.TrimSpace(parts[i])
		}
	}
	var out struct {
		Incident   string `json:"incident"`
		CallerTold bool   `json:"caller_told"`
	}
	if err := af.post("/api/v1/reports", map[string]any{"source": "phone", "caller": caller, "text": strings.Join(pos, " ")}, &out); err != nil {
		return err
	}
	told := "no mail to the caller (no address)"
	if out.CallerTold {
		told = "the caller is acknowledged by mail"
	}
	fmt.Fprintf(stdout, "%s filed; %s\n", out.Incident, told)
	return nil
}

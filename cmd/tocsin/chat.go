package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tocsin/bot/chatops"
	"tocsin/bot/sandbox"
	"tocsin/internal/printable"
	"tocsin/responders"
)

// cmdChatTry signs and posts a chat request to the local sandbox daemon
// exactly as Slack or Discord would, as one of the demo responders, and
// prints the answer.
func cmdChatTry(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("chat try", `tocsin chat try slack|discord --as PERSON [--button ack:ID] ["/ack SEC-2026-0001"] [--data DIR]`, stderr)
	as := fs.String("as", "", "the demo responder (address, or the part before @)")
	button := fs.String("button", "", "press a card button instead: ack:ID or done:ID")
	data := fs.String("data", "data", "the sandbox's data directory")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || (pos[0] != "slack" && pos[0] != "discord") || *as == "" || (len(pos) < 2 && *button == "") {
		return errors.New(`usage: tocsin chat try slack|discord --as PERSON "/ack SEC-2026-0001" (or --button ack:SEC-2026-0001)`)
	}
	platform, typed := pos[0], strings.Join(pos[1:], " ")
	b, err := os.ReadFile(filepath.Join(*data, "sandbox.json"))
	if err != nil {
		return fmt.Errorf("no sandbox in %s (run make run first): %w", *data, err)
	}
	var info sandbox.Info
	if err := json.Unmarshal(b, &info); err != nil {
		return err
	}
	var who *sandbox.Responder
	for i, r := range info.Responders {
		if strings.EqualFold(r.Email, *as) || strings.EqualFold(strings.Split(r.Email, "@")[0], *as) {
			who = &info.Responders[i]
		}
	}
	if who == nil {
		return fmt.Errorf("no demo responder %q in %s (tocsin roster --data %s)", *as, filepath.Join(*data, "sandbox.json"), *data)
	}
	name, text, _ := strings.Cut(strings.TrimSpace(typed), " ")
	reqID := hex.EncodeToString(randomBytes(8))
	var body []byte
	header := http.Header{}
	path := ""
	now := time.Now()
	switch platform {
	case "slack":
		form := url.Values{"team_id": {"T0SANDBOX"}, "user_id": {who.SlackUserID}, "user_name": {strings.Split(who.Email, "@")[0]}, "trigger_id": {reqID},
			"response_url": {"http://" + info.HTTPAddr + "/slack/response"}}
		path = "/slack/commands"
		if *button != "" {
			action, value, _ := strings.Cut(*button, ":")
			payload, _ := json.Marshal(map[string]any{"type": "block_actions", "trigger_id": reqID, "user": map[string]any{"id": who.SlackUserID},
				"actions": []map[string]any{{"action_id": action, "value": value, "type": "button"}}})
			form = url.Values{"payload": {string(payload)}}
			path = "/slack/interactions"
		} else {
			form.Set("command", name)
			form.Set("text", text)
		}
		body = []byte(form.Encode())
		ts, sig := chatops.SignSlack(info.SlackSigningSecret, body, now)
		header.Set("X-Slack-Request-Timestamp", ts)
		header.Set("X-Slack-Signature", sig)
		header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "discord":
		in := map[string]any{"id": reqID, "type": 2, "member": map[string]any{"user": map[string]any{"id": who.DiscordUserID}}}
		if *button != "" {
			in["type"], in["data"] = 3, map[string]any{"custom_id": *button, "component_type": 2}
		} else {
			id, rest := "", text
			if f := strings.Fields(text); len(f) > 0 && strings.Count(f[0], "-") == 2 {
				id, rest = f[0], strings.TrimSpace(strings.TrimPrefix(text, f[0]))
			}
			opts := []map[string]any{}
			for k, v := range map[string]string{"id": id, "text": rest} {
				if v != "" {
					opts = append(opts, map[string]any{"name": k, "type": 3, "value": v})
				}
			}
			in["data"] = map[string]any{"name": strings.TrimPrefix(name, "/"), "options": opts}
		}
		body, _ = json.Marshal(in)
		seed, err := hex.DecodeString(info.DiscordPrivateKey)
		if err != nil || len(seed) != ed25519.SeedSize {
			return fmt.Errorf("sandbox.json: discord_private_key is not a 32-byte seed in hex")
		}
		ts, sig := chatops.SignDiscord(ed25519.NewKeyFromSeed(seed), body, now)
		header.Set("X-Signature-Timestamp", ts)
		header.Set("X-Signature-Ed25519", sig)
		header.Set("Content-Type", "application/json")
		path = "/discord/interactions"
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+info.HTTPAddr+path, strings.NewReader(string(body)))
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("posting to the daemon at %s (is it running?): %w", info.HTTPAddr, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	fmt.Fprintf(stdout, "%s %s as %s: HTTP %d\n%s\n", platform, path, who.Email, resp.StatusCode, strings.TrimSpace(string(answer)))
	if resp.StatusCode != http.StatusOK {
		return exitError(1)
	}
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// cmdChatManifest prints a Slack app manifest: every command, the
// interactivity URL and the scopes, so that an administrator creates the
// app in one paste (api.slack.com/apps → Create New App → From a
// manifest).
func cmdChatManifest(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("chat manifest", "tocsin chat manifest slack [--config FILE | --data DIR]", stderr)
	var sf storeFlags
	pos, cfg, err := configArgs(fs, &sf, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "slack" {
		return errors.New("usage: tocsin chat manifest slack [--config FILE | --data DIR]")
	}
	base := strings.TrimRight(cfg.Desk.PublicURL, "/")
	var commands []map[string]any
	for _, n := range append(chatops.Names, struct{ Name, Usage, What string }{"tocsin", "/tocsin CMD ...", "any of the commands, under one name"}) {
		hint := strings.TrimSpace(strings.TrimPrefix(n.Usage, "/"+n.Name))
		commands = append(commands, map[string]any{"command": "/" + n.Name, "url": base + "/slack/commands",
			"description": printable.Runes(n.What, 100), "usage_hint": hint, "should_escape": false})
	}
	manifest := map[string]any{
		"display_information": map[string]any{"name": printable.Runes(cfg.Desk.Name, 35), "description": "Security incident desk: acknowledge, confirm and follow incidents"},
		"features": map[string]any{
			"bot_user":       map[string]any{"display_name": "tocsin", "always_online": true},
			"slash_commands": commands,
		},
		"oauth_config": map[string]any{"scopes": map[string]any{
			// chat:write posts cards and direct messages; commands takes the
			// slash commands; channels:history finds a card after a crash;
			// im:write opens direct conversations for pages, im:history
			// finds a page already sent when its send is retried.
			"bot": []string{"chat:write", "commands", "channels:history", "im:write", "im:history"},
		}},
		"settings": map[string]any{
			"interactivity":          map[string]any{"is_enabled": true, "request_url": base + "/slack/interactions"},
			"org_deploy_enabled":     false,
			"socket_mode_enabled":    false,
			"token_rotation_enabled": false,
		},
	}
	return printJSON(stdout, manifest)
}

// cmdChatRegister installs the Discord application commands (every
// command of the router, and /tocsin for all of them): with --config from
// discord.token and discord.application_id; in the sandbox on its
// Discord stand-in, where the call is kept in DATA/chat.
func cmdChatRegister(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("chat register", "tocsin chat register [--config FILE | --data DIR]", stderr)
	var sf storeFlags
	sf.add(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return errors.New("usage: tocsin chat register [--config FILE | --data DIR]")
	}
	var token, apiURL, appID string
	if sf.config != "" {
		cfg, err := sf.load()
		if err != nil {
			return err
		}
		if cfg.Discord == nil || cfg.Discord.ApplicationID == "" {
			return errors.New("discord.application_id is not set in the config")
		}
		if token, err = cfg.Discord.Token.Resolve(); err != nil {
			return fmt.Errorf("discord.token: %w", err)
		}
		apiURL, appID = cfg.Discord.APIURL, cfg.Discord.ApplicationID
	} else {
		b, err := os.ReadFile(filepath.Join(sf.data, "sandbox.json"))
		if err != nil {
			return fmt.Errorf("no sandbox in %s (run make run first, or give --config): %w", sf.data, err)
		}
		var info sandbox.Info
		if err := json.Unmarshal(b, &info); err != nil || info.ChatURL == "" {
			return fmt.Errorf("%s names no chat stand-in: is the sandbox running?", filepath.Join(sf.data, "sandbox.json"))
		}
		token, apiURL, appID = "sandbox", info.ChatURL+"/discord/api/v9/", sandbox.DiscordApplicationID
	}
	d, err := responders.NewDiscord(token, apiURL)
	if err != nil {
		return err
	}
	var defs []responders.CommandDef
	for _, n := range chatops.Names {
		def := responders.CommandDef{Name: n.Name, Description: n.What, Options: []string{"id", "text"}}
		if n.Name == "help" {
			def.Options = nil
		}
		defs = append(defs, def)
	}
	defs = append(defs, responders.CommandDef{Name: "tocsin", Description: "any of the commands: /tocsin ack SEC-2026-0042", Options: []string{"text"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.RegisterCommands(ctx, appID, defs); err != nil {
		return fmt.Errorf("registering the commands: %w", err)
	}
	fmt.Fprintf(stdout, "registered %d Discord commands for application %s\n", len(defs), appID)
	return nil
}

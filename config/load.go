package config

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"tocsin/templates"
)

// Problem is one mistake in a config file.
type Problem struct {
	Line  int    // 0 when the field is absent from the file
	Field string // dotted path, e.g. imap.port
	Why   string
}

// Problems is every mistake found in one file. Its Error prints one
// "FILE:LINE: field: why" line per problem.
type Problems struct {
	File string
	List []Problem
}

func (p *Problems) Error() string {
	var b strings.Builder
	for i, pr := range p.List {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s:%d: %s: %s", p.File, pr.Line, pr.Field, pr.Why)
	}
	return b.String()
}

// maxConfigBytes bounds a config file: a real one is a few kilobytes, and
// `check --config /dev/zero` must not eat the machine.
const maxConfigBytes = 1 << 20

// Load reads, defaults and validates the config at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("reading config %s: larger than %d bytes: not a config file", path, maxConfigBytes)
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, fmt.Errorf("reading config %s: it contains NUL bytes: not a YAML text file", path)
	}
	return Parse(path, data)
}

// Parse decodes data (named file in messages), applies defaults and
// validates. A returned error is a *Problems when the file was readable.
func Parse(file string, data []byte) (*Config, error) {
	probs := &Problems{File: file}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		probs.List = append(probs.List, Problem{Line: yamlErrLine(err.Error()), Field: "(file)", Why: strings.TrimPrefix(err.Error(), "yaml: ")})
		return nil, probs
	}
	cfg := &Config{File: file}
	lines := map[string]int{}
	if len(root.Content) > 0 {
		checkKeys(root.Content[0], reflect.TypeOf(cfg).Elem(), "", lines, probs)
		if err := root.Content[0].Decode(cfg); err != nil {
			if te, ok := err.(*yaml.TypeError); ok {
				for _, msg := range te.Errors {
					line := yamlErrLine(msg)
					probs.List = append(probs.List, Problem{Line: line, Field: fieldAtLine(lines, line), Why: cleanYAMLErr(msg)})
				}
			} else {
				probs.List = append(probs.List, Problem{Field: "(file)", Why: err.Error()})
			}
		}
	}
	cfg.File = file
	cfg.lines = lines
	cfg.applyDefaults()
	decodeErr := map[string]bool{}
	for _, pr := range probs.List {
		decodeErr[pr.Field] = true
	}
	for _, pr := range cfg.Validate() {
		if decodeErr[pr.Field] {
			continue // one problem per field: the decode error says it
		}
		pr.Line = lineOf(lines, pr.Field)
		probs.List = append(probs.List, pr)
	}
	if len(probs.List) > 0 {
		sort.SliceStable(probs.List, func(i, j int) bool { return probs.List[i].Line < probs.List[j].Line })
		return nil, probs
	}
	for _, w := range slices.Concat(cfg.secretWarnings(), cfg.modeWarnings(), cfg.apiTokenWarnings(), cfg.smtpWarnings()) {
		w.Line = lineOf(lines, w.Field)
		cfg.Warnings = append(cfg.Warnings, w)
	}
	sort.SliceStable(cfg.Warnings, func(i, j int) bool { return cfg.Warnings[i].Line < cfg.Warnings[j].Line })
	return cfg, nil
}

// minSecretLen is the shortest token or password not warned about.
const minSecretLen = 16

// secrets lists every secret of the config with its field path.
func (c *Config) secrets() map[string]Secret {
	out := map[string]Secret{}
	if c.IMAP != nil && c.IMAP.OAuth2 == nil && c.IMAP.set() > 0 {
		out["imap"] = c.IMAP.Secret
	}
	if c.SMTP != nil && c.SMTP.OAuth2 == nil && c.SMTP.set() > 0 {
		out["smtp"] = c.SMTP.Secret
	}
	for i, t := range c.HTTP.APITokens {
		out[fmt.Sprintf("http.api_tokens.%d", i)] = t.Secret
	}
	for i, u := range c.HTTP.DeskUsers {
		out[fmt.Sprintf("http.desk_users.%d", i)] = u.Secret
	}
	if c.HTTP.MetricsToken != nil {
		out["http.metrics_token"] = *c.HTTP.MetricsToken
	}
	if c.Slack != nil {
		out["slack.token"] = c.Slack.Token
		if c.Slack.SigningSecret != nil {
			out["slack.signing_secret"] = *c.Slack.SigningSecret
		}
		if c.Slack.AppToken != nil {
			out["slack.app_token"] = *c.Slack.AppToken
		}
	}
	if c.Discord != nil {
		out["discord.token"] = c.Discord.Token
	}
	for i, w := range c.Webhooks {
		if w.Secret.set() > 0 {
			out[fmt.Sprintf("webhooks.%d.secret", i)] = w.Secret
		}
	}
	return out
}

// modeWarnings says when the data directory (decrypted reports) or the
// desk's private key can be read by group or others.
func (c *Config) modeWarnings() []Problem {
	var ws []Problem
	check := func(field, path string) {
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
			ws = append(ws, Problem{Field: field, Why: fmt.Sprintf("warning: %s can be read by group or others (mode %04o): chmod %s %s",
				path, st.Mode().Perm(), map[bool]string{true: "700", false: "600"}[st.IsDir()], path)})
		}
	}
	if c.DataDir != "" {
		check("data_dir", c.DataDir)
	}
	if c.PGP.KeyFile != "" {
		check("pgp.key_file", c.PGP.KeyFile)
	} else if c.DataDir != "" {
		check("data_dir", filepath.Join(c.DataDir, "signing-key.asc"))
	}
	if c.PGP.AuditKeyFile != "" {
		check("pgp.audit_key_file", c.PGP.AuditKeyFile)
	} else if c.DataDir != "" {
		check("data_dir", filepath.Join(c.DataDir, "audit.key"))
	}
	return ws
}

// secretWarnings says which secrets are kept or chosen unwisely: written
// inline in the file, in a file that group or others can read, or short.
func (c *Config) secretWarnings() []Problem {
	var ws []Problem
	warn := func(field, format string, args ...any) {
		ws = append(ws, Problem{Field: field, Why: "warning: " + fmt.Sprintf(format, args...)})
	}
	for _, field := range slices.Sorted(maps.Keys(c.secrets())) {
		s := c.secrets()[field]
		switch {
		case s.Password != "":
			warn(field+".password", "secret written inline: anyone who reads this file has it; use password_file (mode 0600) or password_env")
		case s.PasswordFile != "":
			if st, err := os.Stat(s.PasswordFile); err == nil && st.Mode().Perm()&0o077 != 0 {
				warn(field+".password_file", "%s can be read by group or others (mode %04o): chmod 600 %s", s.PasswordFile, st.Mode().Perm(), s.PasswordFile)
			}
		}
		if v, err := s.Resolve(); err == nil && v != "" && utf8.RuneCountInString(v) < minSecretLen {
			warn(field+"."+s.source(), "the secret is %d characters long: use at least %d random characters", utf8.RuneCountInString(v), minSecretLen)
		}
	}
	return ws
}

var (
	lineRE       = regexp.MustCompile(`line (\d+)`)
	linePrefixRE = regexp.MustCompile(`^line \d+: `)
	prefixRE     = regexp.MustCompile(`^[A-Z][A-Z0-9]{0,15}$`)
	languageRE   = regexp.MustCompile(`^[a-z]{2}$`)
)

func yamlErrLine(msg string) int {
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

func cleanYAMLErr(msg string) string {
	msg = linePrefixRE.ReplaceAllString(msg, "")
	msg = strings.ReplaceAll(msg, "!!str", "text")
	msg = strings.ReplaceAll(msg, "!!int", "number")
	msg = strings.ReplaceAll(msg, "!!seq", "list")
	msg = strings.ReplaceAll(msg, "!!map", "mapping")
	return msg
}

// checkKeys walks a mapping node against the struct type t, reporting keys
// the struct does not have and recording the line of every field path.
func checkKeys(n *yaml.Node, t reflect.Type, prefix string, lines map[string]int, probs *Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && t != reflect.TypeOf(time.Time{}):
		if n.Kind != yaml.MappingNode {
			if n.Kind != yaml.ScalarNode || n.Tag != "!!null" {
				probs.List = append(probs.List, Problem{Line: n.Line, Field: strings.TrimSuffix(prefix, "."), Why: "expected a mapping of fields"})
			}
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := prefix + k.Value
			ft, ok := fields[k.Value]
			if !ok {
				probs.List = append(probs.List, Problem{Line: k.Line, Field: path, Why: "unknown field" + suggest(k.Value, fields)})
				continue
			}
			lines[path] = k.Line
			checkKeys(v, ft, path+".", lines, probs)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			path := fmt.Sprintf("%s%d", prefix, i)
			lines[path] = item.Line
			checkKeys(item, t.Elem(), path+".", lines, probs)
		}
	}
}

// yamlFields maps the YAML keys of struct t (inline structs flattened) to
// their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if opts == "inline" {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	for f := range fields {
		if d := editDistance(key, f); d < bestD || d == bestD && f < best {
			best, bestD = f, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// lineOf finds the line of field, or of its nearest parent in the file.
func lineOf(lines map[string]int, field string) int {
	for f := field; f != ""; {
		if l, ok := lines[f]; ok {
			return l
		}
		i := strings.LastIndexByte(f, '.')
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return 0
}

func fieldAtLine(lines map[string]int, line int) string {
	best := ""
	for f, l := range lines {
		if l == line && (best == "" || len(f) > len(best)) {
			best = f
		}
	}
	if best == "" {
		return "(file)"
	}
	return best
}

// applyDefaults fills every unset field; defaults live here, in code.
func (c *Config) applyDefaults() {
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	if c.Desk.Name == "" {
		c.Desk.Name = "Security Team"
	}
	if c.Desk.IncidentPrefix == "" {
		c.Desk.IncidentPrefix = "SEC"
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = "127.0.0.1:8080"
	}
	if c.Desk.PublicURL == "" {
		c.Desk.PublicURL = "http://" + c.HTTP.Listen
	}
	if c.Store.Driver == "" {
		c.Store.Driver = "sqlite"
	}
	if c.Replies.PerSender == 0 {
		c.Replies.PerSender = 3
	}
	if c.Replies.Window == 0 {
		c.Replies.Window = time.Hour
	}
	if c.Replies.Encrypt == "" {
		c.Replies.Encrypt = EncryptWhenKeyKnown
	}
	if c.PGP.KeyType == "" {
		c.PGP.KeyType = "ed25519"
	}
	for i := range c.People {
		p := &c.People[i]
		if p.Language == "" {
			p.Language = "en"
		}
		if p.Variant == "" {
			p.Variant = "technical"
		}
		if p.Encrypt == "" {
			p.Encrypt = c.Replies.Encrypt
		}
	}
	c.rosterDefaults()
	c.contactDefaults()
	if c.Slack != nil && c.Slack.APIURL == "" {
		c.Slack.APIURL = "https://slack.com/api/"
	}

	if c.Limits.MaxMessageBytes == 0 {
		c.Limits.MaxMessageBytes = 100 << 20
	}
	if c.Limits.MaxAttachmentBytes == 0 {
		c.Limits.MaxAttachmentBytes = 25 << 20
	}
	if c.Limits.MaxDecodedBytes == 0 {
		c.Limits.MaxDecodedBytes = 256 << 20
	}
	if c.Limits.MaxParts == 0 {
		c.Limits.MaxParts = 500
	}
	if c.Limits.MaxDepth == 0 {
		c.Limits.MaxDepth = 20
	}
	if len(c.Priorities.Definitions) == 0 {
		c.Priorities.Definitions = DefaultPriorityDefinitions
	}
	if len(c.Trust.OwnDomains) == 0 && strings.Contains(c.Desk.Address, "@") {
		c.Trust.OwnDomains = []string{c.Desk.Address[strings.LastIndexByte(c.Desk.Address, '@')+1:]}
	}
	if m := c.IMAP; m != nil {
		if m.TLS == "" {
			m.TLS = TLSImplicit
		}
		if m.Port == 0 {
			m.Port = map[string]int{TLSImplicit: 993, TLSStartTLS: 143, TLSNone: 143}[m.TLS]
		}
		if m.Mailbox == "" {
			m.Mailbox = "INBOX"
		}
		if m.Processed.Action == "" {
			m.Processed.Action = "flag"
		}
		if m.Processed.Flag == "" {
			m.Processed.Flag = "$TocsinProcessed"
		}
		if m.Processed.Folder == "" {
			m.Processed.Folder = "Tocsin/Processed"
		}
		if m.IDLE == nil {
			t := true
			m.IDLE = &t
		}
		if m.PollInterval == 0 {
			m.PollInterval = time.Minute
		}
		if m.OAuth2 != nil {
			m.OAuth2.defaults()
		}
	}
	if s := c.SMTP; s != nil {
		if s.TLS == "" {
			s.TLS = TLSStartTLS
		}
		if s.Port == 0 {
			s.Port = map[string]int{TLSImplicit: 465, TLSStartTLS: 587, TLSNone: 25}[s.TLS]
		}
		if s.Timeout == 0 {
			s.Timeout = 30 * time.Second
		}
		if s.OAuth2 != nil {
			s.OAuth2.defaults()
		}
	}
}

func (o *OAuth2) defaults() {
	if o.Mechanism == "" {
		o.Mechanism = "xoauth2"
	}
	if o.Lifetime == 0 {
		o.Lifetime = 5 * time.Minute
	}
}

// Validate returns every problem in a defaulted config. Lines are filled
// in by Parse.
func (c *Config) Validate() []Problem {
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Why: fmt.Sprintf(format, args...)})
	}
	if c.Desk.Address == "" {
		bad("desk.address", "required: the security alias, e.g. security@example.com")
	} else if a, err := mail.ParseAddress(c.Desk.Address); err != nil || a.Address != c.Desk.Address {
		bad("desk.address", "%q is not a bare e-mail address", c.Desk.Address)
	}
	if !prefixRE.MatchString(c.Desk.IncidentPrefix) {
		bad("desk.incident_prefix", "%q must be 1-16 upper-case letters or digits, starting with a letter", c.Desk.IncidentPrefix)
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		bad("http.listen", "%q is not host:port", c.HTTP.Listen)
	}
	for i, p := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad(fmt.Sprintf("http.trusted_proxies.%d", i), "%q is not an address range such as 10.0.0.0/8 or ::1/128", p)
		}
	}
	c.checkAPITokens(bad)
	for i, u := range c.HTTP.DeskUsers {
		if u.Name == "" {
			bad(fmt.Sprintf("http.desk_users.%d.name", i), "required")
		}
		checkSecret(fmt.Sprintf("http.desk_users.%d", i), u.Secret, true, bad)
	}
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		bad("store.driver", "postgres is not implemented yet; use sqlite")
	default:
		bad("store.driver", "%q is not one of sqlite, postgres", c.Store.Driver)
	}
	if c.Replies.PerSender < 0 {
		bad("replies.per_sender", "must not be negative")
	}
	if c.Replies.Window < 0 {
		bad("replies.window", "must not be negative")
	}
	if c.Limits.MaxMessageBytes < 1024 {
		bad("limits.max_message_bytes", "must be at least 1024")
	}
	if c.Limits.MaxAttachmentBytes < 0 || c.Limits.MaxParts < 0 || c.Limits.MaxDepth < 0 || c.Limits.MaxDecodedBytes < 0 {
		bad("limits", "limits must not be negative")
	}
	if m := c.IMAP; m != nil {
		checkServer("imap", m.Server, true, bad)
		switch m.Processed.Action {
		case "flag", "move", "delete":
		default:
			bad("imap.processed.action", "%q is not one of flag, move, delete", m.Processed.Action)
		}
		if strings.ContainsAny(m.Processed.Flag, " ()[]{}%*\"\\") && m.Processed.Flag != "\\Seen" {
			bad("imap.processed.flag", "%q is not a valid IMAP keyword", m.Processed.Flag)
		}
		if m.PollInterval < time.Second {
			bad("imap.poll_interval", "%v is shorter than 1s", m.PollInterval)
		}
	}
	if s := c.SMTP; s != nil {
		// Without a login is a stated choice: the error for a missing
		// password says how to make it.
		smtpBad := func(field, format string, args ...any) {
			if field == "smtp.password_file" && strings.HasPrefix(format, "required") {
				format, args = "required with username %s (or password_env, password, or oauth2); for a relay that takes mail from this host without a login, remove username and write auth: none", []any{s.Username}
			}
			bad(field, format, args...)
		}
		switch s.Auth {
		case "":
			if s.Username == "" && s.OAuth2 == nil && s.Secret.set() == 0 && s.Host != "" && !IsLoopback(s.Host) {
				bad("smtp.auth", "no login given for %s: give username and password_file (or password_env, or oauth2), or write auth: none for a relay that takes mail from this host without a login", s.Host)
			}
		case AuthNone:
			if s.Username != "" || s.Secret.set() > 0 || s.OAuth2 != nil {
				bad("smtp.auth", "none sends no login: remove username, the password and oauth2 (or remove auth: none to log in)")
			}
		default:
			bad("smtp.auth", "%q is not none (leave auth out to log in with username and password)", s.Auth)
		}
		srv := s.Server
		if s.Auth == AuthNone {
			srv.Username = "" // said above: no second problem for its password
		}
		checkServer("smtp", srv, false, smtpBad)
		if s.OAuth2 != nil && s.OAuth2.Mechanism != "xoauth2" {
			bad("smtp.oauth2.mechanism", "SMTP supports xoauth2 only")
		}
	}
	seen := map[string]bool{}
	for i, d := range c.Priorities.Definitions {
		f := fmt.Sprintf("priorities.definitions.%d", i)
		switch {
		case !validLevel(d.Level):
			bad(f+".level", "%q is not one of P1, P2, P3, P4", d.Level)
		case seen[d.Level]:
			bad(f+".level", "%s is defined twice", d.Level)
		case d.Definition == "":
			bad(f+".definition", "required: it is published")
		case d.Respond <= 0:
			bad(f+".respond", "required: when the next update is due")
		}
		for lang, t := range d.Translations {
			if !langCode.MatchString(lang) {
				bad(f+".translations."+lang, "%q is not an ISO 639-1 language code (two lower-case letters)", lang)
			} else if strings.TrimSpace(t) == "" {
				bad(f+".translations."+lang, "empty translation")
			}
		}
		seen[d.Level] = true
	}
	if len(seen) != 4 {
		bad("priorities.definitions", "define each of P1, P2, P3 and P4 once")
	}
	categories := map[string]bool{"vulnerability": true, "incident": true, "abuse": true, "advisory": true, "auto-reply": true, "bounce": true, "other": true}
	for i, r := range c.Priorities.Rules {
		f := fmt.Sprintf("priorities.rules.%d", i)
		if r.Name == "" {
			bad(f+".name", "required: it is recorded as the reason")
		}
		if !validLevel(r.Priority) {
			bad(f+".priority", "%q is not one of P1, P2, P3, P4", r.Priority)
		}
		for _, cat := range r.Categories {
			if !categories[cat] {
				bad(f+".categories", "%q is not a report category (vulnerability, incident, abuse, advisory, auto-reply, bounce, other)", cat)
			}
		}
		if r.CVSSAtLeast < 0 || r.CVSSAtLeast > 10 {
			bad(f+".cvss_at_least", "%v is not a CVSS score (0-10)", r.CVSSAtLeast)
		}
		for _, class := range r.SenderClass {
			if _, ok := c.Priorities.Senders[class]; !ok {
				bad(f+".sender_class", "no sender class %q under priorities.senders", class)
			}
		}
	}
	if c.PGP.Keyring != "" {
		if _, err := os.Stat(c.PGP.Keyring); err != nil {
			bad("pgp.keyring", "%v", err)
		}
	}
	if c.PGP.AuditKeyFile != "" {
		// Missing is fine (generated on first start); present, it must
		// be a key.
		if b, err := os.ReadFile(c.PGP.AuditKeyFile); err == nil && len(strings.TrimSpace(string(b))) < 32 {
			bad("pgp.audit_key_file", "%s holds %d bytes: an audit key has at least 32 (openssl rand -hex 32)", c.PGP.AuditKeyFile, len(strings.TrimSpace(string(b))))
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			bad("pgp.audit_key_file", "%v", err)
		}
	}
	switch c.PGP.KeyType {
	case "ed25519", "rsa3072", "rsa4096":
	default:
		bad("pgp.key_type", "%q is not one of ed25519, rsa3072, rsa4096", c.PGP.KeyType)
	}
	if !validEncrypt(c.Replies.Encrypt) {
		bad("replies.encrypt", "%q is not one of always, when-key-known, never", c.Replies.Encrypt)
	}
	if c.Templates.Dir != "" {
		if st, err := os.Stat(c.Templates.Dir); err != nil {
			bad("templates.dir", "%v", err)
		} else if !st.IsDir() {
			bad("templates.dir", "%s is not a directory", c.Templates.Dir)
		}
	}
	emails := map[string]bool{}
	for i, p := range c.People {
		f := fmt.Sprintf("people.%d", i)
		if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email {
			bad(f+".email", "%q is not a bare e-mail address", p.Email)
		} else if emails[strings.ToLower(p.Email)] {
			bad(f+".email", "%s is listed twice", p.Email)
		}
		emails[strings.ToLower(p.Email)] = true
		if !languageRE.MatchString(p.Language) {
			bad(f+".language", "%q is not an ISO 639-1 code such as en, de, fr, es, ja", p.Language)
		}
		if p.TimeZone != "" {
			if _, err := time.LoadLocation(p.TimeZone); err != nil {
				bad(f+".time_zone", "%q is not a time zone name such as Europe/Berlin", p.TimeZone)
			}
		}
		if p.Variant != "technical" && p.Variant != "non-technical" {
			bad(f+".variant", "%q is not one of technical, non-technical", p.Variant)
		}
		if !validEncrypt(p.Encrypt) && p.Encrypt != c.Replies.Encrypt { // an inherited mistake is reported once
			bad(f+".encrypt", "%q is not one of always, when-key-known, never", p.Encrypt)
		}
		if p.KeyFile != "" {
			if _, err := os.Stat(p.KeyFile); err != nil {
				bad(f+".key_file", "%v", err)
			}
		}
	}
	defaults := 0
	for i, r := range c.Regions {
		f := fmt.Sprintf("regions.%d", i)
		if r.Name == "" {
			bad(f+".name", "required: it is shown on the form")
		}
		for field, addr := range map[string]string{"security_officer": r.SecurityOfficer, "account_manager": r.AccountManager, "stand_in": r.StandIn} {
			if a, err := mail.ParseAddress(addr); addr != "" && (err != nil || a.Address != addr) {
				bad(f+"."+field, "%q is not a bare e-mail address", addr)
			}
		}
		if r.SecurityOfficer == "" && r.AccountManager == "" && r.StandIn == "" {
			bad(f, "name a security_officer, an account_manager or a stand_in")
		}
		if r.Default {
			defaults++
		}
	}
	if defaults > 1 {
		bad("regions", "%d regions are the default; at most one may be", defaults)
	}
	if s := c.Slack; s != nil {
		checkSecret("slack.token", s.Token, true, bad)
		if s.Channel == "" {
			bad("slack.channel", "required: the channel id cards go to")
		}
		if u, err := url.Parse(s.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			bad("slack.api_url", "%q is not an http(s) URL", s.APIURL)
		}
	}
	if d := c.Discord; d != nil {
		checkSecret("discord.token", d.Token, true, bad)
		if d.ChannelID == "" {
			bad("discord.channel_id", "required: the channel cards go to")
		}
		if u, err := url.Parse(d.APIURL); d.APIURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http")) {
			bad("discord.api_url", "%q is not an http(s) URL", d.APIURL)
		}
		if k, err := hex.DecodeString(d.PublicKey); d.PublicKey != "" && (err != nil || len(k) != 32) {
			bad("discord.public_key", "not a 32-byte ed25519 public key in hex (64 characters), as the developer portal shows it")
		}
	}
	if c.IMAP != nil && c.SMTP == nil {
		bad("smtp", "required when imap is set: acknowledgements need a way out")
	}
	c.validateRoster(templates.Forms, bad)
	c.validateContacts(bad)
	return ps
}

// checkServer checks a server section; needLogin says the username (and so
// a secret) is required, as for IMAP; for SMTP a username asks for AUTH.
func validEncrypt(p string) bool {
	return p == EncryptAlways || p == EncryptWhenKeyKnown || p == EncryptNever
}

var langCode = regexp.MustCompile(`^[a-z]{2}$`)

func validLevel(l string) bool { return l == "P1" || l == "P2" || l == "P3" || l == "P4" }

func checkServer(sect string, s Server, needLogin bool, bad func(string, string, ...any)) {
	if s.Host == "" {
		bad(sect+".host", "required")
	}
	if s.Port < 1 || s.Port > 65535 {
		bad(sect+".port", "%d is not a TCP port", s.Port)
	}
	switch s.TLS {
	case TLSImplicit, TLSStartTLS:
	case TLSNone:
		// Without TLS the login and every report cross the network in
		// clear: only to this machine.
		if s.Host != "" && !IsLoopback(s.Host) {
			bad(sect+".tls", "none is allowed only for a server on this machine (loopback), not %s: use tls or starttls", s.Host)
		}
	default:
		bad(sect+".tls", "%q is not one of tls, starttls, none", s.TLS)
	}
	if needLogin && s.Username == "" {
		bad(sect+".username", "required")
	}
	checkAuth(sect, s.Secret, s.OAuth2, needLogin || s.Username != "", bad)
}

// AuthNone is smtp.auth for a relay that takes mail without a login.
const AuthNone = "none"

// smtpWarnings says when mail goes to a relay off this machine without a
// login: whoever can reach that relay from here can send as the desk.
func (c *Config) smtpWarnings() []Problem {
	if s := c.SMTP; s != nil && s.Auth == AuthNone && !IsLoopback(s.Host) {
		return []Problem{{Field: "smtp.auth", Why: fmt.Sprintf("warning: none: mail goes to %s without a login; make sure that relay takes mail only from this host (and use tls or starttls)", s.Host)}}
	}
	return nil
}

// IsLoopback reports whether host (a name or an address) is this machine:
// localhost, or an address in 127.0.0.0/8 or ::1.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

func checkAuth(sect string, s Secret, o *OAuth2, required bool, bad func(string, string, ...any)) {
	if o != nil {
		if s.set() > 0 {
			bad(sect+".oauth2", "give a password or oauth2, not both")
		}
		switch o.Mechanism {
		case "xoauth2", "oauthbearer":
		default:
			bad(sect+".oauth2.mechanism", "%q is not one of xoauth2, oauthbearer", o.Mechanism)
		}
		if (o.TokenFile == "") == (o.TokenCommand == "") {
			bad(sect+".oauth2", "set exactly one of token_file, token_command")
		}
		return
	}
	checkSecret(sect, s, required, bad)
}

func checkSecret(field string, s Secret, required bool, bad func(string, string, ...any)) {
	switch n := s.set(); {
	case n > 1:
		bad(field+".password", "set only one of password, password_file, password_env")
	case n == 0 && required:
		bad(field+".password_file", "required (or password_env, or password)")
	case s.PasswordFile != "":
		if v, err := s.Resolve(); err != nil {
			bad(field+".password_file", "%v", err)
		} else if strings.TrimSpace(v) == "" {
			bad(field+".password_file", "%s is empty: an empty secret is no secret", s.PasswordFile)
		}
	case s.PasswordEnv != "":
		if v, ok := os.LookupEnv(s.PasswordEnv); !ok {
			bad(field+".password_env", "environment variable %s is not set", s.PasswordEnv)
		} else if strings.TrimSpace(v) == "" {
			bad(field+".password_env", "environment variable %s is empty: an empty secret is no secret", s.PasswordEnv)
		}
	}
}

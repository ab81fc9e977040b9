// Package config loads, defaults and validates Tocsin's YAML configuration.
//
// One typed Config; unknown keys are rejected; defaults live in code
// (Defaults); secrets come from *_file or *_env fields rather than the file
// itself; every problem is reported as "FILE:LINE: field: why", all of them
// at once, so that `tocsin check` is useful on the first run.
package config

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // people.time_zone must load on a machine without zoneinfo
)

// Config is the whole configuration of one Tocsin instance.
type Config struct {
	// Desk is who Tocsin answers as.
	Desk Desk `yaml:"desk"`
	// DataDir holds the SQLite store, the raw messages, the signing key
	// and, in the sandbox, the mailbox and the sent mail.
	DataDir string `yaml:"data_dir"`
	// IMAP is the mailbox that receives reports (the security@ alias).
	// Without it only the web form and the API take reports.
	IMAP *IMAP `yaml:"imap"`
	// SMTP is the server replies are submitted to.
	SMTP *SMTP `yaml:"smtp"`
	// HTTP is the web UI, the API and the chat endpoints.
	HTTP HTTP `yaml:"http"`
	// Store selects the database.
	Store Store `yaml:"store"`
	// PGP is the desk's OpenPGP key, used to sign every mail.
	PGP PGP `yaml:"pgp"`
	// Replies limits automatic answers.
	Replies Replies `yaml:"replies"`
	// Limits bound what is read from untrusted mail.
	Limits Limits `yaml:"limits"`
	// Trust says whose word about a sender counts.
	Trust Trust `yaml:"trust"`
	// Priorities is the published priority policy.
	Priorities Priorities `yaml:"priorities"`
	// Templates are the notification forms.
	Templates Templates `yaml:"templates"`
	// People are the people the desk writes to by name (officers, the
	// CIO, operating-unit contacts), with how each wants to be written to.
	// A reporter not listed here gets the defaults.
	People []Person `yaml:"people"`
	// Regions are the geo-based points of contact named on every form.
	Regions []Region `yaml:"regions"`
	// Team is the incident response team (the CIRT), staffed 24x7.
	Team Team `yaml:"team"`
	// Units are the operating units: their contacts, owners and assets.
	Units []Unit `yaml:"units"`
	// Officers are the security officers' addresses (the programme
	// managers of the significant-event process): the top of every
	// escalation.
	Officers []string `yaml:"officers"`
	// CIO gets the E+24h status report.
	CIO string `yaml:"cio"`
	// Contacts is the external contacts directory (CERTs, CSIRTs, FIRST,
	// ISPs, law enforcement, vendors, media): written to only after a
	// second person's approval.
	Contacts []Contact `yaml:"contacts"`
	// Rotations are the on-call schedules of the slots that have one.
	Rotations []Rotation `yaml:"rotations"`
	// Overrides replace whoever a rotation names for a while (holidays,
	// swaps); an override without a person leaves the slot to its
	// stand-in.
	Overrides []Override `yaml:"overrides"`
	// Webhooks are the pagers and other HTTP endpoints told of alerts.
	Webhooks []Webhook `yaml:"webhooks"`
	// Playbooks are the call trees; empty: the shipped significant-event
	// and vulnerability-report.
	Playbooks []Playbook `yaml:"playbooks"`
	// Slack receives incident cards when set.
	Slack *Slack `yaml:"slack"`
	// Discord receives incident cards when set.
	Discord *Discord `yaml:"discord"`

	// Sandbox is set by the program, never by a file: the embedded
	// loopback-only mode of `tocsin run` without --config.
	Sandbox bool `yaml:"-"`
	// File is the path the config was read from ("" for the sandbox).
	File string `yaml:"-"`
	// Warnings are what is allowed but unwise (a secret written inline, a
	// secret file others can read, a short token), with their lines.
	Warnings []Problem `yaml:"-"`
	// lines are the file's line of each field path, for later warnings.
	lines map[string]int `yaml:"-"`

	people personIndex `yaml:"-"`
}

// personIndex finds people by address.
type personIndex struct {
	sync.Mutex
	byEmail map[string]int
	n       int
	first   *Person
}

// Desk identifies the security desk.
type Desk struct {
	// Address is the security alias reports are sent to and answers come from.
	Address string `yaml:"address"`
	// Name is the display name on outgoing mail.
	Name string `yaml:"name"`
	// IncidentPrefix starts every incident id: PREFIX-YEAR-NNNN.
	IncidentPrefix string `yaml:"incident_prefix"`
	// PublicURL is where the desk's web pages are reachable, used in mail.
	PublicURL string `yaml:"public_url"`
}

// Secret is a credential given inline (discouraged), in a file, or in an
// environment variable. At most one of the three may be set.
type Secret struct {
	// Password is the secret itself. Prefer password_file or password_env.
	Password string `yaml:"password"`
	// PasswordFile is a file holding the secret (trailing newline ignored).
	PasswordFile string `yaml:"password_file"`
	// PasswordEnv is an environment variable holding the secret.
	PasswordEnv string `yaml:"password_env"`
}

// source names the field the secret is given in.
func (s Secret) source() string {
	switch {
	case s.PasswordFile != "":
		return "password_file"
	case s.PasswordEnv != "":
		return "password_env"
	}
	return "password"
}

// Resolve returns the secret's value.
func (s Secret) Resolve() (string, error) {
	switch {
	case s.PasswordFile != "":
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("reading password file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case s.PasswordEnv != "":
		v, ok := os.LookupEnv(s.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", s.PasswordEnv)
		}
		return v, nil
	}
	return s.Password, nil
}

func (s Secret) set() int {
	n := 0
	for _, v := range []string{s.Password, s.PasswordFile, s.PasswordEnv} {
		if v != "" {
			n++
		}
	}
	return n
}

// OAuth2 supplies an access token for SASL XOAUTH2 or OAUTHBEARER
// (Microsoft 365, Gmail). Tocsin does not run the OAuth flow itself: a file
// kept fresh by another tool, or a command that prints a token, does.
type OAuth2 struct {
	// Mechanism is xoauth2 (Gmail, Microsoft 365) or oauthbearer (RFC 7628).
	Mechanism string `yaml:"mechanism"`
	// TokenFile is re-read whenever a token is needed.
	TokenFile string `yaml:"token_file"`
	// TokenCommand is run with sh -c; it prints a bare token, or JSON with
	// access_token and expires_in (seconds) or expiry (RFC 3339).
	TokenCommand string `yaml:"token_command"`
	// Lifetime is how long a token without an expiry is trusted.
	Lifetime time.Duration `yaml:"lifetime"`
}

// Transport security modes for IMAP and SMTP.
const (
	TLSImplicit = "tls"      // TLS from the first byte (IMAPS 993, SMTPS 465)
	TLSStartTLS = "starttls" // plain connect, then STARTTLS (IMAP 143, submission 587)
	TLSNone     = "none"     // no TLS: loopback and tests only
)

// Server is a mail server and the account on it, as IMAP and SMTP share.
type Server struct {
	// Host and Port of the server.
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// TLS is tls, starttls or none.
	TLS string `yaml:"tls"`
	// InsecureSkipVerify accepts any server certificate (testing only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// Username to log in as.
	Username string `yaml:"username"`
	// Secret is the password, unless OAuth2 is set.
	Secret `yaml:",inline"`
	// OAuth2 replaces the password with a bearer token.
	OAuth2 *OAuth2 `yaml:"oauth2"`
}

// IMAP is the mailbox Tocsin watches.
type IMAP struct {
	// Server is the host and the login.
	Server `yaml:",inline"`
	// Mailbox to watch.
	Mailbox string `yaml:"mailbox"`
	// Processed says what happens to a message once its incident is
	// committed: "flag" adds \Seen and Flag; "move" moves it to Folder;
	// "delete" flags it and expunges it (Tocsin keeps the raw message
	// under DATA/raw).
	Processed Processed `yaml:"processed"`
	// IDLE waits for new mail with IMAP IDLE (RFC 2177) when the server
	// has it; otherwise, or when false, the mailbox is polled.
	IDLE *bool `yaml:"idle"`
	// PollInterval is the polling period, and the longest IDLE wait
	// before a safety re-scan.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Processed is how a handled message is marked in the mailbox.
type Processed struct {
	// Action is flag, move or delete.
	Action string `yaml:"action"`
	// Flag is the keyword added with action flag.
	Flag string `yaml:"flag"`
	// Folder receives messages with action move; created if missing.
	Folder string `yaml:"folder"`
}

// SMTP is the submission server for outgoing mail.
type SMTP struct {
	// Server is the host and the login.
	Server `yaml:",inline"`
	// Auth is "" (log in: username with a password or oauth2) or none: no
	// login, for a relay that takes mail from this host without one
	// (allowed without a warning only on loopback). A relay on loopback
	// with no username given is taken as none.
	Auth string `yaml:"auth"`
	// Timeout bounds one delivery attempt.
	Timeout time.Duration `yaml:"timeout"`
}

// HTTP is the one listener for the UI, API and chat endpoints.
type HTTP struct {
	// Listen is host:port.
	Listen string `yaml:"listen"`
	// APITokens are accepted as "Authorization: Bearer TOKEN", each as
	// its person or integration and within its scopes (tokens from
	// `tocsin tokens create` live in the store).
	APITokens []APIToken `yaml:"api_tokens"`
	// DeskUsers may log in to the web UI (HTTP basic authentication).
	DeskUsers []DeskUser `yaml:"desk_users"`
	// MetricsToken, if set, must be sent as "Authorization: Bearer TOKEN"
	// to read /metrics.
	MetricsToken *Secret `yaml:"metrics_token"`
	// MetricsListen, if set (host:port), serves /metrics on its own
	// listener only, for a scraper on another network than the desk's.
	MetricsListen string `yaml:"metrics_listen"`
	// TrustedProxies are the address ranges (CIDR) of reverse proxies in
	// front of Tocsin: from them, X-Forwarded-For names the client that
	// the report form's limits count. Empty: the connection's address.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// DeskUser is a login for the web UI.
type DeskUser struct {
	// Name is the login name.
	Name string `yaml:"name"`
	// Secret is the login password.
	Secret `yaml:",inline"`
}

// Store selects the database.
type Store struct {
	// Driver is sqlite (embedded, the default) or postgres.
	Driver string `yaml:"driver"`
	// DSN is the database address; for sqlite a file path, default
	// DATA/tocsin.db.
	DSN string `yaml:"dsn"`
}

// PGP is the desk key.
type PGP struct {
	// KeyFile is the armored private key; generated (Ed25519, OpenPGP v4)
	// on first start if missing. Default DATA/signing-key.asc.
	KeyFile string `yaml:"key_file"`
	// AuditKeyFile holds the key that seals the audit log (at least 32
	// bytes, e.g. openssl rand -hex 32), kept beside the desk key and
	// outside the database: whoever can write the database but not read
	// this file cannot rewrite the log unseen. Generated on first start
	// if missing (mode 0600). Default DATA/audit.key.
	AuditKeyFile string `yaml:"audit_key_file"`
	// Keyring is a file of armored public keys of known reporters
	// (gpg --armor --export ...): signatures by them show as verified,
	// and mail to them is encrypted to them.
	Keyring string `yaml:"keyring"`
	// KeyType is the kind of key generated when KeyFile does not exist:
	// ed25519 (the default), rsa3072 or rsa4096.
	KeyType string `yaml:"key_type"`
}

// Encryption policies for outgoing mail.
const (
	EncryptAlways       = "always"         // no key is a delivery failure, never plaintext
	EncryptWhenKeyKnown = "when-key-known" // encrypt if a key is known, else sign only
	EncryptNever        = "never"          // sign only
)

// Templates are the notification forms.
type Templates struct {
	// Dir overrides the embedded forms: DIR/LANG/FORM.tmpl replaces a
	// form, DIR/LANG/common.tmpl with every form adds a language. Check
	// them with `tocsin templates check --config FILE`.
	Dir string `yaml:"dir"`
}

// Person is someone the desk writes to, with their preferences.
type Person struct {
	// Name as it appears in greetings.
	Name string `yaml:"name"`
	// Email is their address; it identifies them.
	Email string `yaml:"email"`
	// Language is the ISO 639-1 code of the forms they get (en, de, fr,
	// es, ja); it wins over the language of their mail. Default en.
	Language string `yaml:"language"`
	// TimeZone is shown next to UTC in their mail, e.g. Europe/Berlin.
	TimeZone string `yaml:"time_zone"`
	// Variant is technical (the default) or non-technical.
	Variant string `yaml:"variant"`
	// Encrypt is always, when-key-known or never; default replies.encrypt.
	// Officers should have always: a missing key then fails the delivery
	// visibly instead of sending plaintext.
	Encrypt string `yaml:"encrypt"`
	// KeyFile is their armored public key; pgp.keyring and keys they sent
	// are used too.
	KeyFile string `yaml:"key_file"`
	// SlackID and DiscordID are their chat user ids (U0123..., a
	// snowflake): pages go there as direct messages, and chat commands
	// from these ids act as this person.
	SlackID   string `yaml:"slack_id"`
	DiscordID string `yaml:"discord_id"`
	// Pager names an entry of webhooks that buzzes their phone.
	Pager string `yaml:"pager"`
	// Phone is shown on the roster and in alerts, never dialled.
	Phone string `yaml:"phone"`
	// Region names a region they belong to (as a point of contact).
	Region string `yaml:"region"`
	// Contact is how a call tree reaches them, in order, each after a
	// delay without acknowledgement: [{via: slack}, {via: email},
	// {via: pager, after: 10m}]. Default: e-mail at once, then each chat
	// id they have at once, then their pager after 10 minutes.
	Contact []ContactMethod `yaml:"contact"`
}

// Region is where a reporter is, as far as the desk can tell, and who is
// their point of contact there: the regional security officer and account
// manager, or a stand-in (the CSIRT, a hotline) when neither is set.
type Region struct {
	// Name is shown on the form: EMEA, APAC, Americas.
	Name string `yaml:"name"`
	// Domains are reporter address domains of the region; "de" covers
	// every .de address, "example.de" that domain and its subdomains.
	Domains []string `yaml:"domains"`
	// Languages are report languages (ISO 639-1) that place a reporter
	// here when the domain does not.
	Languages []string `yaml:"languages"`
	// Default makes this the region of everyone no other region matches.
	Default bool `yaml:"default"`
	// SecurityOfficer is the regional security officer's address (named
	// from people when listed there).
	SecurityOfficer string `yaml:"security_officer"`
	// AccountManager is the regional customer account manager's address.
	AccountManager string `yaml:"account_manager"`
	// StandIn is named when neither of the two is set.
	StandIn string `yaml:"stand_in"`
}

// Slack is a Slack workspace that receives incident cards.
type Slack struct {
	// Token is the bot token (xoxb-...), with chat:write.
	Token Secret `yaml:"token"`
	// Channel is the channel id cards are posted to (C0123...).
	Channel string `yaml:"channel"`
	// APIURL is the Web API base; default https://slack.com/api/.
	APIURL string `yaml:"api_url"`
	// SigningSecret verifies the requests Slack sends (slash commands,
	// buttons): without it /slack/* answers 404.
	SigningSecret *Secret `yaml:"signing_secret"`
	// AppToken (xapp-..., connections:write) takes commands and buttons
	// over Socket Mode instead, for an install with no public URL.
	AppToken *Secret `yaml:"app_token"`
}

// Discord is a Discord channel that receives incident cards.
type Discord struct {
	// Token is the bot token.
	Token Secret `yaml:"token"`
	// ChannelID is the channel cards are posted to.
	ChannelID string `yaml:"channel_id"`
	// APIURL replaces the REST base (https://discord.com/api/v9/) when set:
	// a proxy, or a local capture.
	APIURL string `yaml:"api_url"`
	// PublicKey is the application's ed25519 public key (hex, as the
	// developer portal shows it): it verifies interactions. Without it
	// /discord/interactions answers 404.
	PublicKey string `yaml:"public_key"`
	// ApplicationID is the application's id: tocsin chat register
	// installs the commands under it.
	ApplicationID string `yaml:"application_id"`
	// Gateway takes commands and buttons over Discord's gateway with the
	// bot token instead of /discord/interactions, for an install with no
	// public URL.
	Gateway bool `yaml:"gateway"`
}

// Replies limits automatic answers so that Tocsin can never flood anyone.
type Replies struct {
	// PerSender is the most answers one address gets per Window.
	PerSender int `yaml:"per_sender"`
	// Window is the rate-limit period.
	Window time.Duration `yaml:"window"`
	// Encrypt is the policy for reporters and people without their own:
	// when-key-known (the default), always or never.
	Encrypt string `yaml:"encrypt"`
}

// Trust says whose word about a sender counts.
type Trust struct {
	// AuthServIDs are the authserv-ids of your own receiving servers:
	// only their Authentication-Results headers (DKIM, SPF, DMARC) are
	// believed, since anyone can write such a header into a message.
	AuthServIDs []string `yaml:"authserv_ids"`
	// OwnDomains are the organisation's domains; a display name that names
	// one on mail from elsewhere is flagged. Default: the desk's domain.
	OwnDomains []string `yaml:"own_domains"`
}

// Limits bound what is read from untrusted mail.
type Limits struct {
	// MaxMessageBytes is the largest message downloaded whole; a larger
	// one is filed from its header and left in the mailbox.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// MaxAttachmentBytes is the most of one attachment held in memory for
	// the parser to read (keys, feedback reports, host lists); every
	// attachment is stored whole, streamed to disk.
	MaxAttachmentBytes int64 `yaml:"max_attachment_bytes"`
	// MaxDecodedBytes is the most bytes decoded from one message across
	// all its layers (transfer encodings, decompression, decryption,
	// forwarded messages): a compression bomb stops there, and says so.
	MaxDecodedBytes int64 `yaml:"max_decoded_bytes"`
	// MaxParts is the most MIME parts read from one message.
	MaxParts int `yaml:"max_parts"`
	// MaxDepth is the deepest MIME nesting followed.
	MaxDepth int `yaml:"max_depth"`
}

// Priorities is the published priority policy.
type Priorities struct {
	// Definitions are the published levels P1 (most urgent) to P4, shown on
	// /policy and in every notification form.
	Definitions []PriorityDefinition `yaml:"definitions"`
	// Rules raise a report's priority above Tocsin's own reading; the
	// highest priority of all matching rules wins, with its name recorded.
	Rules []PriorityRule `yaml:"rules"`
	// Assets is the asset and product inventory (hosts, domains, product
	// names) a report is matched against.
	Assets []string `yaml:"assets"`
	// Senders maps sender classes (cert, partner, researcher, customer...)
	// to addresses and domains; a domain matches its subdomains.
	Senders map[string][]string `yaml:"senders"`
}

// PriorityDefinition is one published priority level.
type PriorityDefinition struct {
	// Level is P1, P2, P3 or P4.
	Level string `yaml:"level"`
	// Definition is what the level means, as published (in English, or
	// the desk's first language).
	Definition string `yaml:"definition"`
	// Translations are Definition in other languages, by ISO 639-1 code
	// ("de": "kritisch: ..."): /policy and every form show the reader's.
	Translations map[string]string `yaml:"translations"`
	// Respond is when the next update is due after a report.
	Respond time.Duration `yaml:"respond"`
}

// In returns the definition in lang ("de", "de-CH"), else Definition.
func (d PriorityDefinition) In(lang string) string {
	lang = strings.ToLower(lang)
	if i := strings.IndexAny(lang, "-_"); i > 0 {
		lang = lang[:i]
	}
	if t, ok := d.Translations[lang]; ok && t != "" {
		return t
	}
	return d.Definition
}

// PriorityRule raises matching reports to Priority; all its conditions
// must hold, and an empty condition holds.
type PriorityRule struct {
	// Name is recorded among the priority reasons.
	Name string `yaml:"name"`
	// Priority is P1..P4.
	Priority string `yaml:"priority"`
	// Categories limits the rule to these report categories.
	Categories []string `yaml:"categories"`
	// CVSSAtLeast requires a CVSS base score of at least this.
	CVSSAtLeast float64 `yaml:"cvss_at_least"`
	// Keywords requires one of these words in the subject or text.
	Keywords []string `yaml:"keywords"`
	// Assets requires that an inventory asset be named.
	Assets bool `yaml:"assets"`
	// SenderClass requires the sender to be in one of these classes.
	SenderClass []string `yaml:"sender_class"`
}

// DefaultPriorityDefinitions are used when the config gives none.
var DefaultPriorityDefinitions = []PriorityDefinition{
	{"P1", "critical: active compromise or exploitation; response within 1 hour", map[string]string{
		"de": "kritisch: aktive Kompromittierung oder Ausnutzung; Reaktion innerhalb von 1 Stunde",
		"fr": "critique : compromission ou exploitation en cours ; réponse sous 1 heure",
		"es": "crítica: compromiso o explotación activos; respuesta en menos de 1 hora",
		"ja": "緊急: 侵害または悪用が進行中。1 時間以内に対応",
		"zh": "紧急：正在发生的入侵或漏洞利用；1 小时内响应",
		"ko": "긴급: 진행 중인 침해 또는 악용, 1시간 이내 대응",
	}, time.Hour},
	{"P2", "high: serious vulnerability or incident; response within 4 hours", map[string]string{
		"de": "hoch: schwerwiegende Schwachstelle oder schwerer Vorfall; Reaktion innerhalb von 4 Stunden",
		"fr": "élevée : vulnérabilité ou incident grave ; réponse sous 4 heures",
		"es": "alta: vulnerabilidad o incidente grave; respuesta en menos de 4 horas",
		"ja": "重要: 深刻な脆弱性またはインシデント。4 時間以内に対応",
		"zh": "高：严重漏洞或事件；4 小时内响应",
		"ko": "높음: 심각한 취약점 또는 사고, 4시간 이내 대응",
	}, 4 * time.Hour},
	{"P3", "medium: confirmed issue, limited impact; response within 1 business day", map[string]string{
		"de": "mittel: bestätigtes Problem mit begrenzter Auswirkung; Reaktion innerhalb von 1 Arbeitstag",
		"fr": "moyenne : problème confirmé, impact limité ; réponse sous 1 jour ouvré",
		"es": "media: problema confirmado de impacto limitado; respuesta en 1 día hábil",
		"ja": "中: 影響が限定的な確認済みの問題。1 営業日以内に対応",
		"zh": "中：已确认、影响有限的问题；1 个工作日内响应",
		"ko": "보통: 영향이 제한적인 확인된 문제, 1영업일 이내 대응",
	}, 24 * time.Hour},
	{"P4", "low: informational or unconfirmed; response within 5 business days", map[string]string{
		"de": "niedrig: zur Information oder unbestätigt; Reaktion innerhalb von 5 Arbeitstagen",
		"fr": "faible : pour information ou non confirmé ; réponse sous 5 jours ouvrés",
		"es": "baja: informativa o sin confirmar; respuesta en 5 días hábiles",
		"ja": "低: 情報提供または未確認。5 営業日以内に対応",
		"zh": "低：通报信息或未确认；5 个工作日内响应",
		"ko": "낮음: 참고용이거나 미확인, 5영업일 이내 대응",
	}, 5 * 24 * time.Hour},
}

// PriorityOf returns the definition of level, or a zero one.
func (c *Config) PriorityOf(level string) PriorityDefinition {
	for _, p := range c.Priorities.Definitions {
		if p.Level == level {
			return p
		}
	}
	return PriorityDefinition{}
}

// PersonByEmail returns the configured person with address, if any.
func (c *Config) PersonByEmail(address string) (Person, bool) {
	c.people.Lock()
	defer c.people.Unlock()
	// The index is rebuilt when People was replaced or grew (tests and
	// the sandbox edit it after Parse); a roster of thousands is then a
	// map look-up, not a scan per mail.
	if len(c.People) != c.people.n || (len(c.People) > 0 && &c.People[0] != c.people.first) {
		c.people.byEmail = make(map[string]int, len(c.People))
		for i := len(c.People) - 1; i >= 0; i-- {
			c.people.byEmail[strings.ToLower(c.People[i].Email)] = i
		}
		c.people.n = len(c.People)
		if len(c.People) > 0 {
			c.people.first = &c.People[0]
		}
	}
	if i, ok := c.people.byEmail[strings.ToLower(address)]; ok && strings.EqualFold(c.People[i].Email, address) {
		return c.People[i], true
	}
	return Person{}, false
}

// RegionFor returns the region of a reporter: by the domain of address
// (the longest match), else by the report's language, else the default.
func (c *Config) RegionFor(address, lang string) (Region, bool) {
	domain := strings.ToLower(address[strings.LastIndexByte(address, '@')+1:])
	best, bestLen := -1, 0
	for i, r := range c.Regions {
		for _, d := range r.Domains {
			d = strings.ToLower(strings.TrimPrefix(d, "."))
			if (domain == d || strings.HasSuffix(domain, "."+d)) && len(d) > bestLen {
				best, bestLen = i, len(d)
			}
		}
	}
	if best >= 0 {
		return c.Regions[best], true
	}
	for _, r := range c.Regions {
		for _, l := range r.Languages {
			if lang != "" && strings.EqualFold(l, lang) {
				return r, true
			}
		}
	}
	for _, r := range c.Regions {
		if r.Default {
			return r, true
		}
	}
	return Region{}, false
}

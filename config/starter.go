package config

// Starter is the commented configuration `tocsin init` writes. Every field
// of Config appears, with its default; TestStarterIsComplete keeps the two
// in step.
const Starter = `# Tocsin configuration. Check it with:  tocsin check --config THIS_FILE
# Durations are Go durations (30s, 5m, 1h). Secrets never go in this file:
# use *_file (a file holding the secret) or *_env (an environment variable).

desk:
  # The security alias: reports arrive here and answers come from here.
  address: security@example.com
  # Display name on outgoing mail.
  name: Example Security Team
  # Incident ids look like SEC-2026-0042.
  incident_prefix: SEC
  # Where the desk's web pages are reachable (used in mail).
  public_url: https://security.example.com

# Store, raw messages and the signing key live here.
data_dir: /var/lib/tocsin

imap:
  host: imap.example.com
  # 993 with tls, 143 with starttls.
  port: 993
  # tls (implicit), starttls, or none (loopback testing only).
  tls: tls
  insecure_skip_verify: false
  username: security@example.com
  # One of password_file: FILE, password_env: VARIABLE (or password: VALUE, discouraged).
  password_env: TOCSIN_IMAP_PASSWORD
  # Microsoft 365 and Gmail: replace the password with an OAuth2 token.
  # oauth2:
  #   mechanism: xoauth2          # or oauthbearer
  #   token_file: /run/tocsin/imap.token
  #   # token_command: /usr/local/bin/fetch-token imap   # prints a token or {"access_token":..,"expires_in":..}
  #   lifetime: 5m                # how long a token without expiry is reused
  mailbox: INBOX
  # What happens to a message once its incident is committed:
  # flag adds \Seen and the keyword; move moves it to the folder; delete
  # expunges it (Tocsin keeps every raw message under DATA/raw).
  processed:
    action: flag
    flag: $TocsinProcessed
    folder: Tocsin/Processed
  # Wait with IMAP IDLE when the server has it; poll otherwise.
  idle: true
  # Polling period, and the longest IDLE wait before a safety re-scan.
  poll_interval: 1m

smtp:
  host: smtp.example.com
  # 465 with tls, 587 with starttls.
  port: 587
  tls: starttls
  insecure_skip_verify: false
  username: security@example.com
  # One of password_file: FILE, password_env: VARIABLE (or password: VALUE).
  password_env: TOCSIN_SMTP_PASSWORD
  # A relay that takes mail from this host without a login: remove username
  # and the password and write auth: none (without a warning on loopback only).
  # auth: none
  # oauth2: {mechanism: xoauth2, token_file: /run/tocsin/smtp.token}
  # Bound on one delivery attempt.
  timeout: 30s

http:
  listen: 127.0.0.1:8080
  # Accepted as "Authorization: Bearer TOKEN" on /api/v1 (prefer
  # "tocsin tokens create", which keeps them hashed in the store). Each
  # entry takes password_file: FILE, password_env: VARIABLE or password:
  # VALUE; whose it is, person: ADDRESS (their roster role limits it as in
  # chat) or integration: NAME; and scopes: read, report, act, officer.
  # An entry without an owner may only read and file reports.
  api_tokens:
    - integration: ticketing
      scopes: [read, report]
      password_env: TOCSIN_API_TOKEN
  # Logins for the web UI (name plus password_file:, password_env: or password:).
  desk_users:
    - name: desk
      password_env: TOCSIN_DESK_PASSWORD
  # /metrics (Prometheus): require this bearer token to read it...
  # metrics_token: {password_env: TOCSIN_METRICS_TOKEN}
  # ...and/or serve it on its own listener only, for a scraper elsewhere.
  # metrics_listen: 127.0.0.1:9464
  # Reverse proxies in front of Tocsin (CIDR): from them, X-Forwarded-For
  # names the client the report form's limits count.
  # trusted_proxies: [127.0.0.1/32]

store:
  # sqlite (embedded). postgres is planned for several instances.
  driver: sqlite
  # Default: DATA/tocsin.db
  dsn: ""

pgp:
  # Armored private key; an Ed25519 key is generated here on first start.
  key_file: ""
  # The key that seals the audit log (32 bytes or more; generated here, mode
  # 0600, on first start). Keep it beside key_file, never in the database,
  # and back it up: tocsin audit verify needs it. Default: DATA/audit.key
  audit_key_file: ""
  # Known reporters' public keys (gpg --armor --export ...): their signatures
  # show as verified and mail to them is encrypted. Keys reporters send
  # (attached or Autocrypt) are also kept and used.
  keyring: ""
  # Kind of key generated when key_file does not exist: ed25519, rsa3072
  # or rsa4096 (for recipients whose software reads nothing newer).
  key_type: ed25519

replies:
  # At most this many automatic answers to one address per window.
  per_sender: 3
  window: 1h
  # Encrypt mail to reporters: when-key-known (a key in pgp.keyring or one
  # they sent), always (no key: the mail fails visibly, never plaintext)
  # or never. Every mail is signed whatever this says.
  encrypt: when-key-known

templates:
  # Directory of your own forms, laid out like the embedded ones
  # (DIR/de/closure.tmpl). Check them with: tocsin templates check.
  dir: ""

# People the desk writes to by address, and how each wants it.
people:
  - name: Dana Officer
    email: dana.officer@example.com
    # Forms in this language (en, de, fr, es, ja); English is the fallback.
    language: de
    # Times are shown in UTC and in this zone.
    time_zone: Europe/Berlin
    # technical or non-technical.
    variant: technical
    # always, when-key-known or never. Officers: always.
    encrypt: always
    # Their armored public key.
    key_file: ""
    # Chat user ids: call-tree pages come as direct messages, and their
    # chat commands act as them.
    slack_id: U0DANA
    discord_id: "200000000000000001"
    # A webhook (below) that buzzes their phone.
    pager: dana-phone
    # Shown on the roster and in alerts; never dialled.
    phone: "+49 30 1234567"
    # The region (below) they are a point of contact of.
    region: EMEA
    # How a call tree reaches them, in order; "after" waits that long for
    # an acknowledgement first. Default: e-mail, then each chat id, at
    # once; the pager after 10m.
    contact:
      - {via: slack}
      - {via: email}
      - {via: pager, after: 10m}
  - {name: Ravi Responder, email: ravi@example.com, time_zone: Europe/London}
  - {name: Mia Responder, email: mia@example.com, time_zone: America/New_York}
  - {name: Carla Contact, email: carla@example.com}
  - {name: Dan Backup, email: dan@example.com}
  - {name: Erin Owner, email: erin@example.com}
  - {name: Chris CIO, email: cio@example.com, variant: non-technical, encrypt: always}

# The incident response team, staffed 24x7: the rotations (below) of who
# is on call first (primary) and second (secondary, the first escalation).
team:
  members: [ravi@example.com, mia@example.com]
  primary: team-primary
  secondary: team-secondary

# On-call rotations: the people take turns, handing off daily or weekly at
# "at" in time_zone, People[0] first from start; stand_in holds the slot
# when nobody does. tocsin roster who shows who is on call.
rotations:
  - name: team-primary
    people: [ravi@example.com, mia@example.com]
    handoff: weekly
    at: "09:00"
    time_zone: Europe/Berlin
    start: 2026-11-30
    stand_in: dana.officer@example.com
  - {name: team-secondary, people: [mia@example.com, ravi@example.com], handoff: weekly, at: "09:00", time_zone: Europe/Berlin, start: 2026-11-30}

# Holidays and swaps: the slot goes to person (none: to the stand-in).
overrides:
  - {rotation: team-primary, person: mia@example.com, from: 2026-12-24T00:00:00+01:00, to: 2026-12-27T00:00:00+01:00, reason: swap}

# Operating units: the significant-event contact and backup, the system
# owners and administrators, and the assets that say a report affects them.
units:
  - id: payments
    name: Payments
    contact: carla@example.com
    backup: dan@example.com
    # Rotations holding the contact's and the backup's slots (24x7 units);
    # contact and backup stand in when a rotation has nobody.
    contact_rotation: ""
    backup_rotation: ""
    owners: [erin@example.com]
    assets:
      - {host: pay.example.com}
      - {domain: payments.example.com}
      - {range: 10.20.0.0/16}
      # Owners of one asset, instead of the unit's.
      - {product: PayGate, owners: [erin@example.com]}

# The security officers (top of every escalation) and the CIO (the E+24h
# status report).
officers: [dana.officer@example.com]
cio: cio@example.com

# External contacts (CERTs, CSIRTs, FIRST, ISPs, law enforcement, vendors,
# partners, customers, experts, media). Nothing goes to one without a
# second person: /notify ID CONTACT drafts the status report to them,
# /approve ID DRAFT by someone else sends it. status_report: the E+24h status
# report of every significant event is drafted to them. With a key_file
# they only ever get encrypted mail.
contacts:
  - id: national-cert
    name: National CERT
    # cert, csirt, first, isp, law-enforcement, vendor, partner, customer,
    # expert, media
    kind: cert
    email: incident@cert.example.net
    phone: "+49 228 99 9582 0"
    language: en
    # key_file: /etc/tocsin/keys/national-cert.asc
    status_report: true
    notes: Reportable incidents within 24 hours; they want IoCs as CSV.

# Pagers: each alert is POSTed as JSON signed with HMAC-SHA256
# (X-Tocsin-Signature: sha256=HEX), or as an ntfy publish.
webhooks:
  - name: dana-phone
    url: https://ntfy.example.com/dana-alerts
    format: ntfy
    secret: {password_env: TOCSIN_NTFY_SECRET}

# Call trees. Without this section the shipped significant-event (every P1)
# and vulnerability-report (other vulnerabilities) run. The first playbook
# whose "when" matches a new incident runs.
# playbooks:
#   - name: significant-event
#     when: {priorities: [P1]}
#     steps:
#       - id: team-alerted
#         title: Team alerted
#         # team, units (one step per affected unit), owners (per unit),
#         # region, officers, cio, reporter, authorities (drafts to the
#         # contacts marked status_report, sent once approved).
#         audience: team
#         form: action-alert
#         # The deadline, from the event time E.
#         due: 1h
#         # ack, done or none.
#         needs: ack
#         # Steps this one waits for.
#         after: []
#         # Sent this long before the deadline to whoever has not answered.
#         reminders: [30m]
#         # At the deadline: backup, contact, secondary, team, officers; the
#         # next level every "every" until someone answers.
#         escalate: [secondary, officers]
#         every: 30m
#         # Only for incidents of these priorities (none: all).
#         priorities: [P1, P2]
#         # Instead of due: this many business days (Mon-Fri, UTC) after E.
#         due_business_days: 0
#         # A step that needs nothing back may recur every this long until
#         # the incident is closed (audience reporter: their status updates).
#         repeat: 0s
#         # Still waiting for "after" at its own deadline: sent anyway, marked
#         # preliminary (the units' alert before the team's actions).
#         preliminary: false

# Geo-based points of contact, named on every notification form. A reporter
# is placed by address domain (longest match), else by report language, else
# in the default region.
regions:
  - name: EMEA
    domains: [de, fr, es, eu]
    languages: [de, fr, es]
    default: true
    security_officer: dana.officer@example.com
    account_manager: ""
    # Named when neither of the two above is set: the CSIRT, a hotline.
    stand_in: csirt@example.com

# Incident cards in chat, updated when the incident changes.
# slack:
#   token: {password_file: /etc/tocsin/slack-token}   # xoxb-..., chat:write
#   channel: C0123456789
#   api_url: https://slack.com/api/
#   signing_secret: {password_file: /etc/tocsin/slack-signing-secret}   # verifies /slack/* requests
#   app_token: {password_env: TOCSIN_SLACK_APP_TOKEN}  # xapp-...: Socket Mode, for an install with no public URL
# discord:
#   token: {password_env: TOCSIN_DISCORD_TOKEN}       # bot token
#   channel_id: "123456789012345678"
#   api_url: ""                                       # default: Discord's own
#   public_key: ""                                    # the application's ed25519 key (hex): verifies /discord/interactions
#   application_id: ""                                # tocsin chat register installs the commands under it
#   gateway: false                                    # true: interactions over the gateway, no public URL needed

trust:
  # Your own receiving servers' authserv-ids: only their Authentication-Results
  # headers (DKIM, SPF, DMARC) are believed. Empty: none is.
  authserv_ids: [mx.example.com]
  # Your domains: a display name naming one on outside mail is flagged.
  own_domains: [example.com]

priorities:
  # The published levels (on /policy and in every notification form).
  # translations: the definition in other languages (ISO 639-1 codes); each
  # reader sees their own, English otherwise. Leave definitions out to get
  # the built-in ones, translated into de, fr, es, ja, zh and ko.
  definitions:
    - level: P1
      definition: "critical: active compromise or exploitation; response within 1 hour"
      translations: {de: "kritisch: aktive Kompromittierung oder Ausnutzung; Reaktion innerhalb von 1 Stunde"}
      respond: 1h
    - {level: P2, definition: "high: serious vulnerability or incident; response within 4 hours", respond: 4h}
    - {level: P3, definition: "medium: confirmed issue, limited impact; response within 1 business day", respond: 24h}
    - {level: P4, definition: "low: informational or unconfirmed; response within 5 business days", respond: 120h}
  # Rules raise a report's priority; all conditions of a rule must hold.
  # Conditions: categories, cvss_at_least, keywords, assets (true: an
  # inventory asset is named), sender_class.
  rules:
    - name: crown jewels
      priority: P1
      categories: [vulnerability, incident]
      assets: true
    - name: reports from CERTs
      priority: P2
      sender_class: [cert]
    - name: critical score
      priority: P1
      cvss_at_least: 9.0
    - name: ransomware
      priority: P1
      keywords: [ransomware, encrypted our files]
  # Asset and product inventory: hosts, domains, product names.
  assets: [pay.example.com, vpn.example.com, ExampleBank App]
  # Sender classes: addresses and domains (a domain covers its subdomains).
  senders:
    cert: [cert.example, first.org]
    partner: [partner.example]
    researcher: []
    customer: []

limits:
  # Larger messages are filed from their header and left in the mailbox.
  # Messages stream to disk, so memory does not follow this limit.
  max_message_bytes: 104857600
  # Attachments are stored whole, whatever their size; this bounds the
  # part the parser holds in memory to read it (keys, reports, host lists).
  max_attachment_bytes: 26214400
  # Bytes decoded from one message across all its layers (base64,
  # compression, decryption, forwarded messages): bounds compression bombs.
  max_decoded_bytes: 268435456
  max_parts: 500
  max_depth: 20
`

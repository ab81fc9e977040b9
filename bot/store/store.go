// Package store keeps Tocsin's durable state: incidents, the messages filed
// on them (in and out), the audit log, the transactional outbox and the
// IMAP intake position. Every state change and the external effects it
// causes are written in one transaction (Store.Tx), so a crash can never
// leave an incident without its acknowledgement queued, or the other way
// round.
//
// SQLite (pure Go, WAL) is the embedded store. The SQL is kept to what
// PostgreSQL also speaks, so the planned PostgreSQL backend for several
// instances differs only in the driver and placeholder style.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Store is the database. It is safe for concurrent use.
type Store struct {
	w *sql.DB // one connection: SQLite has one writer, and BEGIN IMMEDIATE avoids upgrade deadlocks
	r *sql.DB // readers, concurrent under WAL
	// readStmts are the readers' hot statements, prepared once.
	readStmts sync.Map // query -> *sql.Stmt
	dialect   dialect
	// auditKey seals the audit chain (SetAuditKey); kept outside the
	// database.
	auditKey []byte
}

// read is a prepared statement on the readers for a hot query.
func (s *Store) read(query string) (*sql.Stmt, error) {
	if st, ok := s.readStmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.r.Prepare(query)
	if err != nil {
		return nil, err
	}
	if old, loaded := s.readStmts.LoadOrStore(query, st); loaded {
		st.Close()
		return old.(*sql.Stmt), nil
	}
	return st, nil
}

// OpenSQLite opens (creating if needed) the database at path and brings its
// schema up to date.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating store directory: %w", err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	// synchronous=FULL: a commit survives power loss, not only a crash.
	// Intake flags the IMAP message right after the commit, so a commit
	// that could roll back (WAL with NORMAL) could lose a report.
	w, err := sql.Open("sqlite", dsn+"&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	s := &Store{w: w, dialect: sqliteDialect, auditKey: randomAuditKey()}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrating %s: %w", path, err)
	}
	// The store holds decrypted reports: for the daemon's user alone,
	// whatever the umask (the WAL and shared-memory files too).
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		os.Chmod(f, 0o600)
	}
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	s.r = r
	return s, nil
}

// ErrSchemaOld: a store opened read-only has a schema older than this
// tocsin's (the daemon upgrades it on its next start).
var ErrSchemaOld = errors.New("the store's schema is older than this tocsin's: start the daemon once to upgrade it")

// OpenSQLiteReadOnly opens the database at path to read only: no
// migration, no write, the file left as it was (tocsin audit verify must
// not change what it checks). A schema older or newer than this tocsin's
// is an error.
func OpenSQLiteReadOnly(ctx context.Context, path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	var v int
	if err := r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		r.Close()
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	switch n := len(sqliteDialect.migrations); {
	case v < n:
		r.Close()
		return nil, fmt.Errorf("%s: schema version %d, this tocsin's is %d: %w", path, v, n, ErrSchemaOld)
	case v > n:
		r.Close()
		return nil, fmt.Errorf("%s: schema version %d is newer than this tocsin (%d): upgrade tocsin", path, v, n)
	}
	return &Store{r: r, dialect: sqliteDialect}, nil
}

// Ping checks that the database answers, for /healthz.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.r.QueryRowContext(ctx, `SELECT 1 FROM schema_version LIMIT 1`).Scan(&one)
}

// Close closes the database.
func (s *Store) Close() error {
	if s.w == nil { // read-only
		return s.r.Close()
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// dialect is what one database speaks differently: its schema history.
// Queries are written in the SQL that SQLite and PostgreSQL share
// (upserts, RETURNING, counter rows, no LastInsertId); only the schema is
// per dialect. The PostgreSQL issue adds its own list beside SQLite's.
type dialect struct {
	name       string
	migrations []string
}

var sqliteDialect = dialect{name: "sqlite", migrations: sqliteMigrations}

// sqliteMigrations are applied in order; each runs once, in its own
// transaction. Append, never edit: a deployed database has run the old
// ones.
var sqliteMigrations = []string{
	`CREATE TABLE incidents (
		id            INTEGER PRIMARY KEY,
		ref           TEXT    NOT NULL UNIQUE,  -- SEC-2026-0042
		prefix        TEXT    NOT NULL,
		year          INTEGER NOT NULL,
		seq           INTEGER NOT NULL,
		status        TEXT    NOT NULL,         -- open | closed
		priority      TEXT    NOT NULL,         -- P1..P4
		category      TEXT    NOT NULL,
		subject       TEXT    NOT NULL,
		reporter      TEXT    NOT NULL,
		reporter_name TEXT    NOT NULL,
		language      TEXT    NOT NULL,
		event_at      INTEGER NOT NULL,         -- E: call-tree deadlines count from here (unix ms)
		created_at    INTEGER NOT NULL,
		updated_at    INTEGER NOT NULL,
		UNIQUE (prefix, year, seq)
	);
	CREATE TABLE messages (
		id          INTEGER PRIMARY KEY,
		incident_id INTEGER NOT NULL REFERENCES incidents(id),
		direction   TEXT    NOT NULL,           -- in | out
		message_id  TEXT    NOT NULL,           -- RFC 5322 Message-ID without <>, or ''
		sha256      TEXT    NOT NULL,           -- of the raw bytes
		source      TEXT    NOT NULL,           -- imap:ACCOUNT/MAILBOX, api, form, outbox
		from_addr   TEXT    NOT NULL,
		subject     TEXT    NOT NULL,
		report      TEXT    NOT NULL,           -- parsers.Report as JSON ('' for outgoing)
		raw_path    TEXT    NOT NULL,           -- content-addressed file under DATA/raw
		created_at  INTEGER NOT NULL
	);
	CREATE UNIQUE INDEX messages_message_id ON messages (message_id) WHERE message_id <> '';
	CREATE UNIQUE INDEX messages_sha256 ON messages (sha256, direction);
	CREATE INDEX messages_incident ON messages (incident_id, id);
	CREATE TABLE audit (
		id          INTEGER PRIMARY KEY,
		incident_id INTEGER REFERENCES incidents(id),
		at          INTEGER NOT NULL,
		actor       TEXT    NOT NULL,           -- system, a responder, a reporter address
		action      TEXT    NOT NULL,
		detail      TEXT    NOT NULL
	);
	CREATE INDEX audit_incident ON audit (incident_id, id);
	CREATE TABLE outbox (
		id          INTEGER PRIMARY KEY,
		idem_key    TEXT    NOT NULL UNIQUE,    -- one effect, once: e.g. ack:SEC-2026-0042
		incident_id INTEGER REFERENCES incidents(id),
		channel     TEXT    NOT NULL,           -- mail | slack | discord | webhook
		kind        TEXT    NOT NULL,           -- acknowledgement, alert, digest, card, ...
		sender      TEXT    NOT NULL,
		recipient   TEXT    NOT NULL,
		payload     BLOB    NOT NULL,           -- mail: the composed, signed message
		state       TEXT    NOT NULL,           -- pending | sending | sent | failed
		attempts    INTEGER NOT NULL DEFAULT 0,
		next_at     INTEGER NOT NULL,
		lease_until INTEGER NOT NULL DEFAULT 0,
		last_error  TEXT    NOT NULL DEFAULT '',
		created_at  INTEGER NOT NULL,
		done_at     INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX outbox_due ON outbox (state, next_at);
	CREATE INDEX outbox_recipient ON outbox (recipient, created_at);
	CREATE TABLE mailbox_state (
		account      TEXT    NOT NULL,
		mailbox      TEXT    NOT NULL,
		uid_validity INTEGER NOT NULL,
		last_uid     INTEGER NOT NULL,
		PRIMARY KEY (account, mailbox)
	);`,
	`CREATE TABLE reporter_keys (
		address     TEXT    NOT NULL,           -- the sender who offered it
		fingerprint TEXT    NOT NULL,
		armored     TEXT    NOT NULL,
		first_seen  INTEGER NOT NULL,
		incident_id INTEGER REFERENCES incidents(id),
		PRIMARY KEY (address, fingerprint)
	);`,
	`CREATE TABLE chat_cards (
		incident_id INTEGER NOT NULL REFERENCES incidents(id),
		channel     TEXT    NOT NULL,           -- slack | discord
		ref         TEXT    NOT NULL,           -- the platform's message: CHANNEL/TS or CHANNEL/ID
		version     INTEGER NOT NULL,           -- of the card last shown
		PRIMARY KEY (incident_id, channel)
	);`,
	// Automatic mail that threads onto no incident is kept unfiled
	// (incident_id NULL, with why); a message from an address that never
	// took part in its incident is marked new_sender. SQLite cannot drop
	// a NOT NULL constraint in place, so the table is rebuilt.
	`CREATE TABLE messages_v4 (
		id             INTEGER PRIMARY KEY,
		incident_id    INTEGER REFERENCES incidents(id), -- NULL: unfiled automatic mail
		direction      TEXT    NOT NULL,
		message_id     TEXT    NOT NULL,
		sha256         TEXT    NOT NULL,
		source         TEXT    NOT NULL,
		from_addr      TEXT    NOT NULL,
		subject        TEXT    NOT NULL,
		report         TEXT    NOT NULL,
		raw_path       TEXT    NOT NULL,
		created_at     INTEGER NOT NULL,
		category       TEXT    NOT NULL DEFAULT '',
		unfiled_reason TEXT    NOT NULL DEFAULT '', -- why it opened no incident
		new_sender     INTEGER NOT NULL DEFAULT 0   -- 1: the sender had no part in the incident
	);
	INSERT INTO messages_v4 (id, incident_id, direction, message_id, sha256, source, from_addr, subject, report, raw_path, created_at)
		SELECT id, incident_id, direction, message_id, sha256, source, from_addr, subject, report, raw_path, created_at FROM messages;
	DROP TABLE messages;
	ALTER TABLE messages_v4 RENAME TO messages;
	CREATE UNIQUE INDEX messages_message_id ON messages (message_id) WHERE message_id <> '';
	CREATE UNIQUE INDEX messages_sha256 ON messages (sha256, direction);
	CREATE INDEX messages_incident ON messages (incident_id, id);
	CREATE INDEX messages_unfiled ON messages (id) WHERE incident_id IS NULL;`,
	// One pinned key per address; a different key offered later is kept as
	// a conflict for a person to settle, never used silently.
	`ALTER TABLE reporter_keys ADD COLUMN state TEXT NOT NULL DEFAULT 'pinned'; -- pinned | conflict | replaced
	UPDATE reporter_keys SET state = 'conflict' WHERE first_seen > (SELECT MIN(k.first_seen) FROM reporter_keys k WHERE k.address = reporter_keys.address);
	CREATE UNIQUE INDEX reporter_keys_pinned ON reporter_keys (address) WHERE state = 'pinned';`,
	// An address typed into the public form gets signed mail only once its
	// owner has confirmed it.
	`CREATE TABLE form_confirmations (
		token        TEXT    PRIMARY KEY,        -- random, in the link mailed to the address
		incident_id  INTEGER NOT NULL REFERENCES incidents(id),
		address      TEXT    NOT NULL,
		created_at   INTEGER NOT NULL,
		confirmed_at INTEGER NOT NULL DEFAULT 0
	);`,
	// The per-recipient limit counts the mailbox an address reaches (case,
	// "+tags"): kept with each item, indexed, so the count is a look-up.
	`ALTER TABLE outbox ADD COLUMN recipient_key TEXT NOT NULL DEFAULT '';
	UPDATE outbox SET recipient_key = lower(recipient);
	CREATE INDEX outbox_recipient_key ON outbox (recipient_key, created_at);`,
	// Incident numbers come from a counter row that the numbering UPDATE
	// locks, not from MAX(seq)+1, which two writers could both read.
	`CREATE TABLE incident_counters (
		prefix TEXT    NOT NULL,
		year   INTEGER NOT NULL,
		last   INTEGER NOT NULL,
		PRIMARY KEY (prefix, year)
	);
	INSERT INTO incident_counters (prefix, year, last) SELECT prefix, year, MAX(seq) FROM incidents GROUP BY prefix, year;`,
	// A notification is first an intent, written with the decision that
	// causes it; it is rendered, signed and encrypted outside the write
	// transaction and then moved to the outbox in a short one.
	`CREATE TABLE intents (
		id            INTEGER PRIMARY KEY,
		idem_key      TEXT    NOT NULL UNIQUE,    -- the outbox item it becomes
		incident_id   INTEGER REFERENCES incidents(id),
		channel       TEXT    NOT NULL,
		recipient_key TEXT    NOT NULL,           -- counted by the per-recipient limit
		payload       BLOB    NOT NULL,           -- what to compose (JSON)
		created_at    INTEGER NOT NULL
	);
	CREATE INDEX intents_recipient_key ON intents (recipient_key, created_at);`,
	// Call trees: the playbook an incident runs, the units it affects, one
	// row per step (per affected unit for unit steps) with its deadline and
	// the engine's next due time, and the people each step told.
	`CREATE TABLE calltrees (
		incident_id INTEGER PRIMARY KEY REFERENCES incidents(id),
		playbook    TEXT    NOT NULL,
		started_at  INTEGER NOT NULL,
		closed_at   INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE incident_units (
		incident_id INTEGER NOT NULL REFERENCES incidents(id),
		unit        TEXT    NOT NULL,
		evidence    TEXT    NOT NULL,           -- what said it is affected
		owners      TEXT    NOT NULL,           -- JSON list: the implementers
		added_at    INTEGER NOT NULL,
		removed_at  INTEGER NOT NULL DEFAULT 0,
		removed_why TEXT    NOT NULL DEFAULT '',
		PRIMARY KEY (incident_id, unit)
	);
	CREATE TABLE steps (
		id             INTEGER PRIMARY KEY,
		incident_id    INTEGER NOT NULL REFERENCES incidents(id),
		step_key       TEXT    NOT NULL,        -- the playbook step's id
		unit           TEXT    NOT NULL DEFAULT '',
		position       INTEGER NOT NULL,
		title          TEXT    NOT NULL,
		audience       TEXT    NOT NULL,
		needs          TEXT    NOT NULL,
		due_at         INTEGER NOT NULL,
		state          TEXT    NOT NULL,        -- waiting | notified | acknowledged | done | overdue | skipped
		started_at     INTEGER NOT NULL DEFAULT 0,
		acked_at       INTEGER NOT NULL DEFAULT 0,
		done_at        INTEGER NOT NULL DEFAULT 0,
		level          INTEGER NOT NULL DEFAULT 0, -- escalation levels reached
		reminders_sent INTEGER NOT NULL DEFAULT 0,
		next_at        INTEGER NOT NULL DEFAULT 0, -- when the engine looks again; 0: never
		why            TEXT    NOT NULL DEFAULT '', -- why skipped
		UNIQUE (incident_id, step_key, unit)
	);
	CREATE INDEX steps_next ON steps (next_at) WHERE next_at > 0;
	CREATE TABLE step_people (
		step_id      INTEGER NOT NULL REFERENCES steps(id),
		person       TEXT    NOT NULL,          -- roster address, lower case
		role         TEXT    NOT NULL,          -- audience | escalation
		level        INTEGER NOT NULL DEFAULT 0,
		notified_at  INTEGER NOT NULL,
		acked_at     INTEGER NOT NULL DEFAULT 0,
		done_at      INTEGER NOT NULL DEFAULT 0,
		methods_sent INTEGER NOT NULL DEFAULT 0, -- contact methods used, in order
		token        TEXT    NOT NULL UNIQUE,    -- quoted by an e-mail answer
		via          TEXT    NOT NULL DEFAULT '', -- how they answered
		note         TEXT    NOT NULL DEFAULT '',
		PRIMARY KEY (step_id, person)
	);
	CREATE TABLE leases (
		name   TEXT    PRIMARY KEY,
		holder TEXT    NOT NULL,
		until  INTEGER NOT NULL
	);`,
	// Notices are outbox items composed when sent: the intents of the
	// first call-tree schema (composed by a loop of their own) are gone.
	`DROP INDEX intents_recipient_key;
	DROP TABLE intents;`,
	// The audit log is a hash chain: each entry carries the hash of the one
	// before, so an edited or deleted entry shows (tocsin audit verify).
	// audit_head holds the last hash; the update that moves it locks it.
	`ALTER TABLE audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
	ALTER TABLE audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';
	CREATE TABLE audit_head (
		id   INTEGER PRIMARY KEY CHECK (id = 1),
		last TEXT    NOT NULL
	);
	INSERT INTO audit_head (id, last) VALUES (1, '');`,
	// A person may escalate a step before its deadline: the level it must
	// reach at once.
	`ALTER TABLE steps ADD COLUMN forced_level INTEGER NOT NULL DEFAULT 0;`,
	// Chat accounts linked to roster people by a code mailed to them.
	`CREATE TABLE chat_links (
		platform   TEXT    NOT NULL,
		user_id    TEXT    NOT NULL,
		person     TEXT    NOT NULL,
		code_hash  TEXT    NOT NULL,           -- SHA-256 of the code mailed; '' once linked
		tries      INTEGER NOT NULL DEFAULT 0,
		expires_at INTEGER NOT NULL,
		linked_at  INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (platform, user_id)
	);`,
	// Who is responsible for an incident (/assign).
	`ALTER TABLE incidents ADD COLUMN assignee TEXT NOT NULL DEFAULT '';`,
	// Signed chat requests seen in the last minutes: a replay is refused,
	// across restarts and instances.
	`CREATE TABLE chat_requests (
		sig_hash TEXT    PRIMARY KEY,
		seen_at  INTEGER NOT NULL
	);
	CREATE INDEX chat_requests_seen ON chat_requests (seen_at);`,
	// Where an audited action came from: the platform and its request id.
	`ALTER TABLE audit ADD COLUMN platform TEXT NOT NULL DEFAULT '';
	ALTER TABLE audit ADD COLUMN request_id TEXT NOT NULL DEFAULT '';`,
	// When a person was found away (their auto-reply to a call-tree
	// mail); it was kept as via = 'away' before.
	`ALTER TABLE step_people ADD COLUMN away_at INTEGER NOT NULL DEFAULT 0;
	UPDATE step_people SET away_at = notified_at, via = '' WHERE via = 'away';`,
	// Mail to external contacts waiting for a second person's approval.
	`CREATE TABLE drafts (
		idem_key    TEXT    PRIMARY KEY,
		incident_id INTEGER NOT NULL REFERENCES incidents(id),
		contact     TEXT    NOT NULL,          -- contacts[].id
		form        TEXT    NOT NULL,
		note        TEXT    NOT NULL DEFAULT '', -- for the approver, never sent
		drafted_by  TEXT    NOT NULL,          -- roster address, or engine
		drafted_at  INTEGER NOT NULL,
		state       TEXT    NOT NULL,          -- pending | approved
		approved_by TEXT    NOT NULL DEFAULT '',
		approved_at INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX drafts_incident ON drafts (incident_id);`,
	// API tokens, each a roster person's or a named integration's, with
	// scopes; only the SHA-256 of the token is kept (tocsin tokens).
	`CREATE TABLE api_tokens (
		id           INTEGER PRIMARY KEY,
		token_hash   TEXT    NOT NULL UNIQUE,    -- hex SHA-256 of the token
		person       TEXT    NOT NULL DEFAULT '', -- roster address, lower case; '' for an integration
		integration  TEXT    NOT NULL DEFAULT '', -- its name; '' for a person
		scopes       TEXT    NOT NULL,           -- comma-separated: read, report, act, officer
		created_at   INTEGER NOT NULL,
		created_by   TEXT    NOT NULL,
		last_used_at INTEGER NOT NULL DEFAULT 0,
		revoked_at   INTEGER NOT NULL DEFAULT 0
	);`,
	// Issue 15: chat link requests, kept an hour or so, so that those of
	// one chat user and for one address (and the mails they cause) are
	// limited; and each draft's short id on its incident (D1, D2, ...),
	// which /approve names, numbered for the drafts there already.
	`CREATE TABLE chat_link_requests (
		platform TEXT    NOT NULL,
		user_id  TEXT    NOT NULL,
		address  TEXT    NOT NULL,             -- as asked for, lower case
		at       INTEGER NOT NULL
	);
	CREATE INDEX chat_link_requests_user ON chat_link_requests (platform, user_id, at);
	CREATE INDEX chat_link_requests_address ON chat_link_requests (address, at);
	ALTER TABLE drafts ADD COLUMN short_id TEXT NOT NULL DEFAULT '';
	UPDATE drafts SET short_id = 'D' || (SELECT COUNT(*) FROM drafts d2 WHERE d2.incident_id = drafts.incident_id
		AND (d2.drafted_at < drafts.drafted_at OR d2.drafted_at = drafts.drafted_at AND d2.rowid <= drafts.rowid));
	CREATE UNIQUE INDEX drafts_short_id ON drafts (incident_id, short_id);`,
	// The state an audit entry vouches for (store.AuditState, JSON): the
	// incidents, steps and drafts its transaction changed, as they became;
	// tocsin audit verify compares the tables with it. Part of the seal.
	`ALTER TABLE audit ADD COLUMN state TEXT NOT NULL DEFAULT '';`,
	// Issue 16: a unit removed and added again starts its steps again; the
	// round tells the new start's messages from the first one's.
	`ALTER TABLE steps ADD COLUMN round INTEGER NOT NULL DEFAULT 0;`,
	// Whether the keyed chain is still to begin (store.BeginKeyedChain):
	// set once, by this migration, for a store created empty or upgraded
	// from before the key, cleared by the audit-keyed entry. A later start
	// never begins the chain again because the log looks old.
	`CREATE TABLE audit_keying (
		id  INTEGER PRIMARY KEY CHECK (id = 1),
		due INTEGER NOT NULL
	);`,
	// Issue 16: a step someone said they are blocked on ("need help",
	// "fails"): who, when, what they wrote; the row goes when an ack or
	// done clears it (the audit keeps it).
	`CREATE TABLE step_blocks (
		step_id INTEGER PRIMARY KEY REFERENCES steps(id),
		person  TEXT    NOT NULL,  -- roster address, lower case
		at      INTEGER NOT NULL,
		text    TEXT    NOT NULL   -- as written (untrusted)
	);`,
	// Issue 16: the response team's actions for the enhanced action
	// alert, every version kept (the alert carries the latest).
	`CREATE TABLE incident_actions (
		incident_id INTEGER NOT NULL REFERENCES incidents(id),
		version     INTEGER NOT NULL,
		text        TEXT    NOT NULL,
		by_person   TEXT    NOT NULL,           -- roster address, lower case
		at          INTEGER NOT NULL,
		PRIMARY KEY (incident_id, version)
	);`,
	// Issue 16: the assets of an incident's units and how far each is
	// (the process's patch database): affected, fixed (by an owner),
	// validated (by the team's scan), not-affected.
	`CREATE TABLE incident_assets (
		id          INTEGER PRIMARY KEY,
		incident_id INTEGER NOT NULL REFERENCES incidents(id),
		unit        TEXT    NOT NULL,
		asset       TEXT    NOT NULL,
		state       TEXT    NOT NULL,           -- affected | fixed | validated | not-affected
		by_person   TEXT    NOT NULL DEFAULT '', -- roster address (or "integration:NAME") of the last change
		at          INTEGER NOT NULL,
		note        TEXT    NOT NULL DEFAULT '',
		UNIQUE (incident_id, unit, asset)
	);`,
	// The files that came with an asset's state (the team's scan output):
	// a JSON list of {name, sha256, size}; "" none.
	`ALTER TABLE incident_assets ADD COLUMN evidence TEXT NOT NULL DEFAULT ''`,
	// The desk's sign-in (issue 19): local accounts of roster people,
	// sessions by the hash of their id, failed sign-ins for the limits.
	`CREATE TABLE desk_accounts (
		person         TEXT    PRIMARY KEY,      -- roster address, lower case
		password_hash  TEXT    NOT NULL,         -- argon2id, PHC string
		totp_secret    TEXT    NOT NULL DEFAULT '',
		totp_last_step INTEGER NOT NULL DEFAULT 0, -- each TOTP step signs in once
		created_at     INTEGER NOT NULL
	);
	CREATE TABLE desk_sessions (
		id_hash    TEXT    PRIMARY KEY,          -- SHA-256 of the cookie's id
		person     TEXT    NOT NULL,
		csrf       TEXT    NOT NULL,
		via        TEXT    NOT NULL,
		created_at INTEGER NOT NULL,
		seen_at    INTEGER NOT NULL
	);
	CREATE INDEX desk_sessions_person ON desk_sessions (person);
	CREATE TABLE signin_failures (
		key TEXT    NOT NULL,                    -- account:ADDRESS or addr:IP
		at  INTEGER NOT NULL
	);
	CREATE INDEX signin_failures_key ON signin_failures (key, at);`,
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	return s.Tx(ctx, func(tx *Tx) error {
		var v int
		if err := tx.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
			return err
		}
		migrations := s.dialect.migrations
		if v > len(migrations) {
			return fmt.Errorf("%s database schema version %d is newer than this tocsin (%d): upgrade tocsin", s.dialect.name, v, len(migrations))
		}
		from := v
		for i := v; i < len(migrations); i++ {
			if _, err := tx.tx.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
			// The entries written before the chain existed are sealed
			// by the migration that adds it, and never later.
			if strings.Contains(migrations[i], "CREATE TABLE audit_head") {
				if err := sealUnchained(ctx, tx.tx); err != nil {
					return fmt.Errorf("migration %d: sealing the audit log: %w", i+1, err)
				}
			}
			// The keyed chain is due only on a store created empty or
			// one older than the key (before the state column).
			if strings.Contains(migrations[i], "CREATE TABLE audit_keying") {
				due := from < keyingVersion()
				if _, err := tx.tx.ExecContext(ctx, `INSERT INTO audit_keying (id, due) VALUES (1, ?)`, due); err != nil {
					return fmt.Errorf("migration %d: %w", i+1, err)
				}
			}
			if _, err := tx.tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, i+1); err != nil {
				return err
			}
		}
		return nil
	})
}

// Tx is one write transaction.
type Tx struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts map[string]*sql.Stmt // prepared once per transaction: a bulk write re-parses nothing
	// key seals the audit entries; chg are the incidents, steps and
	// drafts changed, whose state entries the commit writes (flushState),
	// at lastAt, by the last actor audited on each incident.
	key       []byte
	chg       *stateChanges
	lastAt    time.Time
	lastActor map[int64]string
}

func (t *Tx) stmt(query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	st, err := t.tx.PrepareContext(t.ctx, query)
	if err != nil {
		return nil, err
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[query] = st
	return st, nil
}

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.ctx, args...)
}

// queryRow is QueryRowContext on a prepared statement; a preparation
// error comes out of Scan.
func (t *Tx) queryRow(query string, args ...any) rowScanner {
	st, err := t.stmt(query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(t.ctx, args...)
}

type rowScanner interface{ Scan(...any) error }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// Tx runs fn in a write transaction, committing if it returns nil.
func (s *Store) Tx(ctx context.Context, fn func(*Tx) error) error {
	if s.w == nil {
		return errors.New("the store was opened read-only")
	}
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	tx := &Tx{ctx: ctx, tx: sqlTx, key: s.auditKey}
	err = fn(tx)
	if err == nil {
		err = tx.flushState()
	}
	if err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// Package web serves Tocsin's one HTTP listener: the desk's web UI, the
// public report form and policy page, the JSON API, security.txt (RFC 9116)
// and the desk key, health and Prometheus metrics. Reports from the form
// and the API become RFC 5322 messages and go through the same pipeline as
// mail. Handlers only read the store and call the pipeline; nothing is sent
// from inside a request.
package web

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"

	"tocsin/bot/clock"
	"tocsin/bot/metrics"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/internal/printable"
	"tocsin/parsers"
	"tocsin/responders"
)

// IngestFunc files a raw message and returns the incident it is on.
type IngestFunc func(ctx context.Context, source string, raw []byte, received time.Time) (incident string, err error)

// Server is the HTTP handler set.
type Server struct {
	cfg       *config.Config
	store     *store.Store
	key       *responders.Key
	metrics   *metrics.Registry
	ingest    IngestFunc
	sentDir   string
	tokens    []Token
	deskUsers map[string]string
	languages []string
	log       *slog.Logger
	pages     *template.Template
	mux       *http.ServeMux
	form      *limiter
	health    map[string]func(now time.Time) error
	// formAll bounds the form for every client together.
	formAll        *limiter
	trustedProxies []netip.Prefix
	confirm        func(ctx context.Context, token string) (string, error)
	clock          clock.Clock
	phone          func(ctx context.Context, by Caller, c PhoneCaller, text string) (ref string, told bool, err error)
}

// Options are what the server needs.
type Options struct {
	Config    *config.Config
	Store     *store.Store
	Key       *responders.Key
	Metrics   *metrics.Registry
	Ingest    IngestFunc
	SentDir   string   // shown in the UI when set (sandbox)
	APITokens []string // bearer tokens naming no owner: read and report only
	// Tokens are the config's tokens with their owners and scopes;
	// besides them, the store's (tocsin tokens) are accepted.
	Tokens    []Token
	DeskUsers map[string]string // web UI logins
	Languages []string          // the forms' languages, for security.txt; default en
	Log       *slog.Logger
	// Health are the daemon's components besides the store, by name
	// ("imap", "outbox"): each returns nil while it is alive.
	Health map[string]func(now time.Time) error
	// MetricsToken, if set, is required as a bearer token on /metrics.
	MetricsToken string
	// NoMetrics leaves /metrics off this server (it has its own listener).
	NoMetrics bool
	// Clock tells the time (nil: the wall clock).
	Clock clock.Clock
	// Confirm confirms the address of a form report by the token mailed
	// to it; it returns the incident id, or an error wrapping
	// store.ErrNotFound for an unknown, used or expired token.
	Confirm func(ctx context.Context, token string) (string, error)
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (http.trusted_proxies); none: the connection's address.
	TrustedProxies []netip.Prefix
	// SandboxClock, set only in the sandbox, moves the daemon's clock
	// forward by advance (0: just tell the time), audited in by's name,
	// runs the engine and returns the time: /api/v1/sandbox/clock.
	// Elsewhere the path is 404.
	SandboxClock func(ctx context.Context, advance time.Duration, by Caller) (time.Time, error)
	// MoveEvent sets an incident's event time E; SetUnits changes the
	// units it affects (unit ids to add and to remove, and why). Both
	// return an error wrapping store.ErrNotFound for an incident without a
	// call tree.
	// They return an error wrapping ErrForbidden when the caller's roster
	// role does not allow the change.
	MoveEvent func(ctx context.Context, ref string, at time.Time, by Caller) error
	SetUnits  func(ctx context.Context, ref string, add, remove []string, why string, by Caller) error
	// SetActions writes the team's actions for the enhanced alert (a new
	// version); errors as MoveEvent's.
	SetActions func(ctx context.Context, ref, text string, by Caller) error
	// SetAsset adds an asset to an affected unit of an incident, or sets
	// its state (affected, fixed, validated, not-affected), with why; unit
	// "" is the asset's unit, or the incident's one affected unit.
	SetAsset func(ctx context.Context, ref, unit, asset, state, note string, by Caller) error
	// Close closes an incident and skips its call tree's open steps.
	Close func(ctx context.Context, ref string, by Caller) error
	// Chat are the chat platforms' endpoints by route ("POST
	// /slack/commands"): they verify their requests themselves.
	Chat map[string]http.HandlerFunc
	// Reply previews (dryRun) or queues a form to an incident's reporter;
	// errors as MoveEvent's, and ErrBadInput for a reporter who may not
	// be written to.
	Reply func(ctx context.Context, ref, form, text string, dryRun bool, by Caller) (ReplyResult, error)
	// PhoneReport files a report the caller (the API's person) took by
	// phone: POST /api/v1/reports with "source": "phone". told: the
	// caller gave an address and is acknowledged.
	PhoneReport func(ctx context.Context, by Caller, c PhoneCaller, text string) (ref string, told bool, err error)
}

// PhoneCaller is who called in a phone report.
type PhoneCaller struct {
	Name         string `json:"name"`
	Organisation string `json:"organisation"`
	Phone        string `json:"phone"`
	Address      string `json:"address"`
}

// ReplyResult is the API's answer to POST /api/v1/incidents/{id}/reply:
// the rendered mail (dry_run) or that it was queued.
type ReplyResult struct {
	Incident string `json:"incident"`
	Form     string `json:"form"`
	To       string `json:"to"`
	Lang     string `json:"lang,omitempty"`
	Subject  string `json:"subject,omitempty"`
	Body     string `json:"body,omitempty"`
	Queued   bool   `json:"queued"`
}

//go:embed pages/*.html
var pageFiles embed.FS

// pageEscape is the function that every action of a page ends in.
const pageEscape = "inert"

// New builds the handler set.
func New(o Options) *Server {
	s := &Server{cfg: o.Config, store: o.Store, key: o.Key, metrics: o.Metrics, ingest: o.Ingest, sentDir: o.SentDir, phone: o.PhoneReport,
		tokens: configTokens(o.APITokens, o.Tokens), deskUsers: o.DeskUsers, log: o.Log, mux: http.NewServeMux(), languages: o.Languages,
		form: newLimiter(10, 6*time.Minute), health: o.Health, // 10 reports at once, then 10 an hour, per client address
		formAll:        newLimiter(100, 36*time.Second), // and 100 an hour from everyone together
		trustedProxies: o.TrustedProxies, confirm: o.Confirm, clock: o.Clock}
	if s.clock == nil {
		s.clock = clock.System{}
	}
	s.form.now, s.formAll.now = s.clock.Now, s.clock.Now
	s.pages = template.Must(template.New("").Funcs(template.FuncMap{
		pageEscape: func(v any) string { return printable.Inert(fmt.Sprint(v)) },
		"join":     strings.Join,
		// head takes a title, or a page (Title, Lang) shown in another language.
		"title": func(v any) string {
			if p, ok := v.(page); ok {
				return p.Title
			}
			return fmt.Sprint(v)
		},
		"lang": func(v any) string {
			if p, ok := v.(page); ok && p.Lang != "" {
				return p.Lang
			}
			return "en"
		},
		"time": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05")
		},
	}).ParseFS(pageFiles, "pages/*.html"))
	// html/template escapes HTML, not what a browser obeys in text: bidi
	// overrides, controls. Every value a page prints passes printable.Inert
	// first, then html/template's own escaper.
	for _, p := range s.pages.Templates() {
		printable.EscapeActions(p.Tree, pageEscape)
	}
	m := s.mux
	m.HandleFunc("GET /healthz", s.healthz)
	if !o.NoMetrics && o.Metrics != nil {
		m.Handle("GET /metrics", MetricsHandler(o.Metrics, o.MetricsToken))
	}
	m.HandleFunc("GET /pgp-key.asc", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pgp-keys")
		io.WriteString(w, s.key.ArmoredPublicKey())
	})
	m.HandleFunc("GET /.well-known/security.txt", s.securityTxt)
	m.HandleFunc("GET /policy", s.policy)
	m.HandleFunc("GET /report", s.reportForm)
	m.HandleFunc("POST /report", s.reportSubmit)
	m.HandleFunc("GET /report/confirm", s.reportConfirmPage)
	// Only the page's button confirms, and only from this site: a link
	// scanner's HEAD or GET, or another site's form, does not.
	m.Handle("POST /report/confirm", http.NewCrossOriginProtection().Handler(http.HandlerFunc(s.reportConfirm)))
	m.HandleFunc("GET /{$}", s.desk(s.index))
	m.HandleFunc("GET /incidents/{id}", s.desk(s.incidentPage))
	m.HandleFunc("GET /sent/{name}", s.desk(s.sentMail))
	m.HandleFunc("GET /api/v1/incidents", s.api(config.ScopeRead, s.apiList))
	m.HandleFunc("GET /api/v1/incidents/{id}", s.api(config.ScopeRead, s.apiShow))
	m.HandleFunc("GET /api/v1/messages", s.api(config.ScopeRead, s.apiMessages))
	m.HandleFunc("GET /automatic", s.desk(s.automaticPage))
	m.HandleFunc("POST /api/v1/reports", s.api(config.ScopeReport, s.apiReport))
	if o.MoveEvent != nil {
		// Moving E, changing the units and closing are for the team and
		// the officers in chat: the officer scope, and the person's role.
		m.HandleFunc("POST /api/v1/incidents/{id}/event", s.api(config.ScopeOfficer, func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				At string `json:"at"`
			}
			var at time.Time
			err := decodeSmall(w, r, &body)
			if err == nil {
				at, err = time.Parse(time.RFC3339, body.At)
			}
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"at": "2026-12-01T09:00:00Z"} (RFC 3339)`})
				return
			}
			s.treeChange(w, r, o.MoveEvent(r.Context(), r.PathValue("id"), at, callerOf(r)))
		}))
	}
	if o.SetUnits != nil {
		m.HandleFunc("POST /api/v1/incidents/{id}/units", s.api(config.ScopeOfficer, func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Add    []string `json:"add"`
				Remove []string `json:"remove"`
				Why    string   `json:"why"`
			}
			if err := decodeSmall(w, r, &body); err != nil || body.Why == "" || len(body.Add)+len(body.Remove) == 0 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"add": [UNIT...], "remove": [UNIT...], "why": "..."}: units to change, and why (it is audited)`})
				return
			}
			s.treeChange(w, r, o.SetUnits(r.Context(), r.PathValue("id"), body.Add, body.Remove, body.Why, callerOf(r)))
		}))
	}
	if o.SetActions != nil {
		// The team's actions for the enhanced alert: the officer or act
		// scope, and the person's role (team or officer).
		m.HandleFunc("POST /api/v1/incidents/{id}/actions", s.api(config.ScopeOfficer+"|"+config.ScopeAct, func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Text string `json:"text"`
			}
			if err := decodeSmall(w, r, &body); err != nil || strings.TrimSpace(body.Text) == "" {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"text": "..."}: the actions, as the units' alert shows them`})
				return
			}
			s.treeChange(w, r, o.SetActions(r.Context(), r.PathValue("id"), body.Text, callerOf(r)))
		}))
	}
	if o.SetAsset != nil {
		m.HandleFunc("POST /api/v1/incidents/{id}/assets", s.api(config.ScopeOfficer, func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Unit  string `json:"unit"`
				Asset string `json:"asset"`
				State string `json:"state"`
				Note  string `json:"note"`
			}
			if err := decodeSmall(w, r, &body); err != nil || body.Asset == "" || body.State == "" || body.Note == "" || strings.ContainsAny(body.Unit+body.Asset, ": \t\n") {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"unit": UNIT, "asset": ASSET, "state": "affected" | "fixed" | "validated" | "not-affected", "note": "..."}: the asset, its state, and why (it is audited)`})
				return
			}
			s.treeChange(w, r, o.SetAsset(r.Context(), r.PathValue("id"), body.Unit, body.Asset, body.State, body.Note, callerOf(r)))
		}))
	}
	for route, h := range o.Chat {
		m.HandleFunc(route, h)
	}
	if o.Close != nil {
		m.HandleFunc("POST /api/v1/incidents/{id}/close", s.api(config.ScopeOfficer, func(w http.ResponseWriter, r *http.Request) {
			s.treeChange(w, r, o.Close(r.Context(), r.PathValue("id"), callerOf(r)))
		}))
	}
	if o.Reply != nil {
		m.HandleFunc("POST /api/v1/incidents/{id}/reply", s.api(config.ScopeOfficer, func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Form   string `json:"form"`
				Text   string `json:"text"`
				DryRun bool   `json:"dry_run"`
			}
			if err := decodeSmall(w, r, &body); err != nil || body.Form == "" {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"form": "request-info" | "status-update" | "closure", "text": "...", "dry_run": true|false}`})
				return
			}
			res, err := o.Reply(r.Context(), r.PathValue("id"), body.Form, body.Text, body.DryRun, callerOf(r))
			if err != nil {
				s.treeChange(w, r, err)
				return
			}
			status := http.StatusOK
			if res.Queued {
				status = http.StatusAccepted
			}
			writeJSON(w, status, res)
		}))
	}
	if o.SandboxClock != nil {
		m.HandleFunc("GET /api/v1/sandbox/clock", s.api(config.ScopeRead, func(w http.ResponseWriter, r *http.Request) {
			now, err := o.SandboxClock(r.Context(), 0, callerOf(r))
			if err != nil {
				s.internal(w, r, err, true)
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"now": now.UTC().Format(time.RFC3339)})
		}))
		m.HandleFunc("POST /api/v1/sandbox/clock", s.api(config.ScopeOfficer, func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Advance string `json:"advance"`
			}
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10))
			dec.DisallowUnknownFields()
			err := dec.Decode(&body)
			d, perr := time.ParseDuration(body.Advance)
			if err != nil || perr != nil || d < 0 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"advance": "1h30m"}: a duration of zero or more (the clock never moves back)`})
				return
			}
			now, err := o.SandboxClock(r.Context(), d, callerOf(r))
			if err != nil {
				s.internal(w, r, err, true)
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"now": now.UTC().Format(time.RFC3339)})
		}))
	}
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
	w.Header().Set("X-Frame-Options", "DENY")
	s.mux.ServeHTTP(w, r)
}

// healthz answers 200 only when the store, every configured intake and
// the outbox dispatcher are alive, else 503; the JSON body names each
// component and what is wrong with it.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	comps := map[string]string{"store": "ok"}
	if err := s.store.Ping(ctx); err != nil {
		comps["store"] = err.Error()
	}
	for name, check := range s.health {
		comps[name] = "ok"
		if err := check(s.clock.Now()); err != nil {
			comps[name] = err.Error()
		}
	}
	status, code := "ok", http.StatusOK
	for _, v := range comps {
		if v != "ok" {
			status, code = "down", http.StatusServiceUnavailable
		}
	}
	writeJSON(w, code, map[string]any{"status": status, "components": comps})
}

// MetricsHandler serves reg, behind a bearer token when token is set.
func MetricsHandler(reg *metrics.Registry, token string) http.Handler {
	h := reg.Handler()
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok || !constantTimeIn(tok, []string{token}) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tocsin metrics"`)
			http.Error(w, "metrics need the metrics token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func constantTimeIn(v string, set []string) bool {
	ok := 0
	for _, t := range set {
		ok |= subtle.ConstantTimeCompare([]byte(v), []byte(t))
	}
	return ok == 1 && v != ""
}

// desk requires a desk login (HTTP basic authentication).
func (s *Server) desk(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		want, known := s.deskUsers[u]
		// An empty password never signs in, whatever the config says.
		if !ok || !known || want == "" || subtle.ConstantTimeCompare([]byte(p), []byte(want)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="tocsin desk", charset="UTF-8"`)
			http.Error(w, "desk login required", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

// logError logs an internal error with a short id, which is all the
// client is told: internal errors (paths, SQL) are not for the network.
func (s *Server) logError(r *http.Request, what string, err error) string {
	id := fmt.Sprintf("%08x", rand.Uint32())
	s.log.Error(what, "err", err, "error_id", id, "path", r.URL.Path)
	return id
}

// internal answers 500 with a short message and the error's id.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error, asJSON bool) {
	id := s.logError(r, "request failed", err)
	if asJSON {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error", "id": id})
		return
	}
	http.Error(w, "Internal error (id "+id+"); it is in the desk's log.", http.StatusInternalServerError)
}

// writeJSON answers v as JSON, with what a terminal would obey (C1
// controls, bidi overrides, ...) escaped as \uXXXX (printable.JSON): the
// same data, harmless where a client prints it.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "encoding the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(printable.JSON(b), '\n'))
}

// apiList lists incidents newest first, a page at a time: ?limit (1 to
// 1000, default 500), ?cursor (next_cursor of the page before), ?since
// (RFC 3339 or YYYY-MM-DD: opened at or after). total counts every
// incident since; next_cursor is set while more follow.
func (s *Server) apiList(w http.ResponseWriter, r *http.Request) {
	p, err := pageOf(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	incs, total, err := s.store.IncidentsPage(r.Context(), p)
	if err != nil {
		s.internal(w, r, err, true)
		return
	}
	out := map[string]any{"incidents": incs, "total": total}
	if len(incs) == p.Limit && incs[len(incs)-1].ID > 1 {
		if more, _, err := s.store.IncidentsPage(r.Context(), store.Page{Limit: 1, Before: incs[len(incs)-1].ID, Since: p.Since}); err == nil && len(more) > 0 {
			out["next_cursor"] = strconv.FormatInt(incs[len(incs)-1].ID, 10)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// pageOf reads ?limit, ?cursor and ?since.
func pageOf(q url.Values) (store.Page, error) {
	p := store.Page{Limit: 500}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return p, fmt.Errorf("limit %q: a number from 1 to 1000", v)
		}
		p.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return p, fmt.Errorf("cursor %q: give next_cursor of the page before", v)
		}
		p.Before = n
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			if t, err = time.Parse(time.DateOnly, v); err != nil {
				return p, fmt.Errorf("since %q: RFC 3339 (2026-12-01T00:00:00Z) or a date (2026-12-01)", v)
			}
		}
		p.Since = t
	}
	return p, nil
}

// apiMessages lists messages outside incidents: with unfiled=true, the
// automatic mail that opened no incident, each with why and its report.
func (s *Server) apiMessages(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("unfiled") != "true" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "only unfiled=true is supported: messages on an incident are listed under /api/v1/incidents/{id}"})
		return
	}
	p, err := pageOf(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	msgs, err := s.store.ListUnfiled(r.Context(), p.Limit)
	if err != nil {
		s.internal(w, r, err, true)
		return
	}
	total, err := s.store.CountUnfiled(r.Context())
	if err != nil {
		s.internal(w, r, err, true)
		return
	}
	// total says when the list stops (the newest limit, 500 by default).
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs, "total": total})
}

func (s *Server) automaticPage(w http.ResponseWriter, r *http.Request) {
	msgs, err := s.store.ListUnfiled(r.Context(), 500)
	if err != nil {
		s.internal(w, r, err, false)
		return
	}
	s.render(w, "automatic.html", map[string]any{"Desk": s.cfg.Desk, "Messages": msgs})
}

func (s *Server) apiShow(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.GetIncident(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no incident " + r.PathValue("id")})
		return
	}
	if err != nil {
		s.internal(w, r, err, true)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// Report is the JSON body of POST /api/v1/reports (and the web form).
type Report struct {
	From    string `json:"from"`
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	// Source "phone": a report taken by phone, from Caller, by the
	// API's person.
	Source string       `json:"source,omitempty"`
	Caller *PhoneCaller `json:"caller,omitempty"`
}

const maxReportBytes = 10 << 20

// apiReport takes a report as JSON (Report) or as a whole message
// (Content-Type: message/rfc822).
func (s *Server) apiReport(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReportBytes))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": err.Error()})
		return
	}
	raw := body
	// The source names who posted it: the audit's "opened ... via" says
	// so, since the From is only what the body claims.
	source := "api:" + callerOf(r).Actor()
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "message/rfc822") {
		var rep Report
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rep); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
			return
		}
		if rep.Source == "phone" {
			s.apiPhoneReport(w, r, rep)
			return
		}
		raw, err = s.compose(rep, "api")
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
	}
	ref, err := s.ingest(r.Context(), source, raw, s.clock.Now())
	if err != nil {
		s.log.Error("filing API report", "err", err)
		id := s.logError(r, "filing API report", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "not filed, try again", "id": id})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"incident": ref})
}

// apiPhoneReport files a report taken by phone.
func (s *Server) apiPhoneReport(w http.ResponseWriter, r *http.Request, rep Report) {
	if s.phone == nil || rep.Caller == nil || rep.Caller.Name == "" || rep.Caller.Phone == "" || strings.TrimSpace(rep.Text) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"source": "phone", "caller": {"name", "organisation", "phone", "address"}, "text"}: the caller's name and number, and the report`})
		return
	}
	ref, told, err := s.phone(r.Context(), callerOf(r), *rep.Caller, rep.Text)
	if err != nil {
		s.treeChange(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"incident": ref, "caller_told": told})
}

// compose turns a form or JSON report into an RFC 5322 message addressed
// to the alias, so it takes the mail pipeline.
func (s *Server) compose(rep Report, via string) ([]byte, error) {
	rep.From = strings.TrimSpace(rep.From)
	if rep.From != "" {
		a, err := mail.ParseAddress(rep.From)
		if err != nil {
			return nil, fmt.Errorf("from: %q is not an e-mail address", rep.From)
		}
		rep.From = a.Address
	}
	if strings.TrimSpace(rep.Subject) == "" && strings.TrimSpace(rep.Text) == "" {
		return nil, errors.New("a report needs a subject or a text")
	}
	var h gomail.Header
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	h.Set("Content-Transfer-Encoding", "8bit")
	h.Set("MIME-Version", "1.0")
	h.Set("X-Tocsin-Via", via)
	h.GenerateMessageID()
	h.SetDate(s.clock.Now())
	h.SetSubject(strings.Join(strings.Fields(rep.Subject), " "))
	h.SetAddressList("To", []*gomail.Address{{Address: s.cfg.Desk.Address}})
	if rep.From != "" {
		h.SetAddressList("From", []*gomail.Address{{Name: rep.Name, Address: rep.From}})
	}
	var buf bytes.Buffer
	w, err := gomail.CreateSingleInlineWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	io.WriteString(w, strings.ReplaceAll(rep.Text, "\r\n", "\n"))
	w.Close()
	return buf.Bytes(), nil
}

func (s *Server) reportForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, "report.html", map[string]any{"Desk": s.cfg.Desk, "Fingerprint": s.key.Fingerprint()})
}

func (s *Server) reportSubmit(w http.ResponseWriter, r *http.Request) {
	client := clientKey(r, s.trustedProxies)
	// Per client, and for all clients together: many addresses cannot
	// make the desk mail the world either.
	if !s.form.allow(client) || !s.formAll.allow("*") {
		s.log.Warn("report form rate limit", "client", client)
		w.Header().Set("Retry-After", "360")
		http.Error(w, "Too many reports from your address. Please wait a few minutes, or mail "+s.cfg.Desk.Address+".", http.StatusTooManyRequests)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxReportBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "form: "+err.Error(), http.StatusBadRequest)
		return
	}
	rep := Report{From: r.PostFormValue("from"), Name: r.PostFormValue("name"), Subject: r.PostFormValue("subject"), Text: r.PostFormValue("text")}
	raw, err := s.compose(rep, SourceForm)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		s.render(w, "report.html", map[string]any{"Desk": s.cfg.Desk, "Fingerprint": s.key.Fingerprint(), "Error": err.Error(), "Report": rep})
		return
	}
	ref, err := s.ingest(r.Context(), SourceForm, raw, s.clock.Now())
	if err != nil {
		s.log.Error("filing form report", "err", err)
		http.Error(w, "Your report could not be filed just now. Please try again, or mail "+s.cfg.Desk.Address, http.StatusServiceUnavailable)
		return
	}
	s.render(w, "thanks.html", map[string]any{"Desk": s.cfg.Desk, "Incident": ref, "From": rep.From})
}

// SourceForm is the source of reports from the public web form: the
// pipeline asks their addresses to confirm before it signs anything to
// them.
const SourceForm = "web-form"

// reportConfirmPage shows the link mailed to an address typed into the
// form as a page with a button. Opening the link confirms nothing: mail
// scanners and previews fetch links (HEAD, GET) that nobody clicked, and
// would confirm any address an attacker typed in.
func (s *Server) reportConfirmPage(w http.ResponseWriter, r *http.Request) {
	if s.confirm == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the token is in the URL
	s.render(w, "confirm.html", map[string]any{"Desk": s.cfg.Desk, "Token": r.URL.Query().Get("token")})
}

// reportConfirm confirms the address by the token the page's button
// posts.
func (s *Server) reportConfirm(w http.ResponseWriter, r *http.Request) {
	if s.confirm == nil {
		http.NotFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "form: "+err.Error(), http.StatusBadRequest)
		return
	}
	ref, err := s.confirm(r.Context(), r.PostFormValue("token"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		w.WriteHeader(http.StatusNotFound)
		s.render(w, "confirmed.html", map[string]any{"Desk": s.cfg.Desk})
		return
	case err != nil:
		s.internal(w, r, err, false)
		return
	}
	s.render(w, "confirmed.html", map[string]any{"Desk": s.cfg.Desk, "Incident": ref})
}

func (s *Server) render(w http.ResponseWriter, page string, data any) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, page, data); err != nil {
		s.log.Error("rendering page", "page", page, "err", err)
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	incs, err := s.store.ListIncidents(r.Context(), 200)
	if err != nil {
		s.internal(w, r, err, false)
		return
	}
	counts, _ := s.store.OutboxCounts(r.Context())
	failed, _ := s.store.FailedOutbox(r.Context(), 20)
	unfiled, _ := s.store.CountUnfiled(r.Context())
	s.render(w, "index.html", map[string]any{"Desk": s.cfg.Desk, "Incidents": incs, "Outbox": counts, "Failed": failed, "Sent": s.sentList(), "Unfiled": unfiled})
}

func (s *Server) incidentPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.GetIncident(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.internal(w, r, err, false)
		return
	}
	type reading struct {
		At time.Time
		R  parsers.Report
	}
	var readings []reading
	for _, m := range d.Messages {
		var r parsers.Report
		if m.Direction == "in" && json.Unmarshal(m.Report, &r) == nil {
			readings = append(readings, reading{m.CreatedAt, r})
		}
	}
	s.render(w, "incident.html", map[string]any{"Desk": s.cfg.Desk, "I": d, "Readings": readings})
}

type sentFile struct {
	Name    string
	ModTime time.Time
	Size    int64
}

func (s *Server) sentList() []sentFile {
	if s.sentDir == "" {
		return nil
	}
	entries, _ := os.ReadDir(s.sentDir)
	var out []sentFile
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".eml") {
			out = append(out, sentFile{e.Name(), info.ModTime(), info.Size()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ModTime.After(out[j].ModTime) })
	return out[:min(len(out), 50)]
}

func (s *Server) sentMail(w http.ResponseWriter, r *http.Request) {
	name := filepath.Base(r.PathValue("name"))
	if s.sentDir == "" || !strings.HasSuffix(name, ".eml") {
		http.NotFound(w, r)
		return
	}
	b, err := os.ReadFile(filepath.Join(s.sentDir, name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(b)
}

// securityTxt serves RFC 9116 security.txt, cleartext-signed with the desk
// key (section 2.3).
func (s *Server) securityTxt(w http.ResponseWriter, r *http.Request) {
	base := strings.TrimRight(s.cfg.Desk.PublicURL, "/")
	langs := "en"
	if len(s.languages) > 0 {
		langs = strings.Join(s.languages, ", ")
	}
	text := fmt.Sprintf("Contact: mailto:%s\nContact: %s/report\nEncryption: %s/pgp-key.asc\nExpires: %s\nPreferred-Languages: %s\nPolicy: %s/policy\nCanonical: %s/.well-known/security.txt\n",
		s.cfg.Desk.Address, base, base, s.clock.Now().UTC().Add(180*24*time.Hour).Truncate(24*time.Hour).Format(time.RFC3339), langs, base, base)
	signed, err := s.key.SignCleartext(text)
	if err != nil {
		s.internal(w, r, fmt.Errorf("signing: %w", err), false)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, signed)
}

// page is the head of a page shown in a language other than English.
type page struct{ Title, Lang string }

// policy publishes the scope, priority definitions and key in the
// reader's language (Accept-Language, among those the page is written in).
func (s *Server) policy(w http.ResponseWriter, r *http.Request) {
	lang := policyLanguage(r.Header.Get("Accept-Language"))
	t := policyWords[lang]
	type level struct{ Level, Definition string }
	var levels []level
	for _, d := range s.cfg.Priorities.Definitions {
		levels = append(levels, level{d.Level, d.In(lang)})
	}
	w.Header().Set("Content-Language", lang)
	w.Header().Add("Vary", "Accept-Language")
	s.render(w, "policy.html", map[string]any{"Desk": s.cfg.Desk, "Fingerprint": s.key.Fingerprint(), "Key": s.key.ArmoredPublicKey(),
		"Priorities": levels, "T": t, "Page": page{Title: t["title"], Lang: lang}})
}

// ErrBadInput marks an error the caller made (an unknown unit): 400.
var ErrBadInput = errors.New("bad input")

// decodeSmall reads a small JSON body with no unknown fields.
func decodeSmall(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// treeChange answers a change to an incident's call tree with the tree.
func (s *Server) treeChange(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no incident " + r.PathValue("id") + " with a call tree"})
		return
	case errors.Is(err, ErrBadInput):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	case errors.Is(err, ErrForbidden):
		writeJSON(w, http.StatusForbidden, map[string]string{"error": err.Error()})
		return
	case err != nil:
		s.internal(w, r, err, true)
		return
	}
	s.apiShow(w, r)
}

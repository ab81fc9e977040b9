// Package sandbox is the embedded default of `tocsin run`: an IMAP server
// holding the security@sandbox.test mailbox and an SMTP server that
// delivers mail for the alias into it and keeps everything else as
// DATA/sent/*.eml. Both listen on loopback only and need no account. The
// mailbox is kept on disk (DATA/mailbox), so a restart loses no delivered
// mail; the daemon reaches both through the same IMAP and SMTP clients it
// uses against real servers.
package sandbox

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"tocsin/internal/atomicfile"
)

// Alias is the sandbox's security address.
const Alias = "security@sandbox.test"

// Info is DATA/sandbox.json: what scripts and testers need to talk to the
// sandbox.
type Info struct {
	IMAPAddr     string `json:"imap_addr"`
	IMAPUser     string `json:"imap_user"`
	IMAPPassword string `json:"imap_password"`
	SMTPAddr     string `json:"smtp_addr"`
	// SMTPPassword is the password of SMTP AUTH: with any address as the
	// user, the sandbox's MX stamps mail from that address DMARC pass.
	SMTPPassword string `json:"smtp_password"`
	HTTPAddr     string `json:"http_addr"`
	Alias        string `json:"alias"`
	APIToken     string `json:"api_token"`
	DeskUser     string `json:"desk_user"`
	DeskPassword string `json:"desk_password"`
	SentDir      string `json:"sent_dir"`
	// The chat platforms' secrets: Slack's signing secret, and the
	// Discord application's ed25519 key pair (hex: the public key as
	// Discord shows it, the 32-byte seed that signs requests as Discord
	// would).
	SlackSigningSecret string `json:"slack_signing_secret"`
	DiscordPublicKey   string `json:"discord_public_key"`
	DiscordPrivateKey  string `json:"discord_private_key"`
	// ChatURL is the local stand-in for the platforms' APIs.
	ChatURL string `json:"chat_url"`
	// Responders and Units are the demo roster, for scripts and for
	// trying answers as its people.
	Responders []Responder `json:"responders"`
	Units      []Unit      `json:"units"`
	// Contacts are the demo external contacts (DESIGN.md: id, name,
	// email): /notify ID CONTACT drafts to one, /approve sends.
	Contacts []Contact `json:"contacts"`
}

// Contact is a demo external contact.
type Contact struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// DiscordApplicationID is the sandbox's Discord application.
const DiscordApplicationID = "1000000000000000099"

// Responder is a demo roster person.
type Responder struct {
	Name          string `json:"name"`
	Email         string `json:"email"`
	Role          string `json:"role"` // team, unit_contact, unit_backup, owner, officer, cio
	Unit          string `json:"unit"`
	SlackUserID   string `json:"slack_user_id"`
	DiscordUserID string `json:"discord_user_id"`
}

// Unit is a demo operating unit.
type Unit struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Assets []string `json:"assets"`
}

// Save writes the info to DATA/sandbox.json.
func (info *Info) Save(dataDir string) error {
	out, _ := json.MarshalIndent(info, "", "  ")
	return atomicfile.Write(filepath.Join(dataDir, "sandbox.json"), append(out, '\n'), 0o600)
}

// LoadOrCreateInfo reads DATA/sandbox.json, generating secrets on first
// start. Addresses are always the current ones.
func LoadOrCreateInfo(dataDir, imapAddr, smtpAddr, httpAddr string) (*Info, error) {
	path := filepath.Join(dataDir, "sandbox.json")
	var info Info
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &info); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		info = Info{IMAPUser: Alias, IMAPPassword: secret(), APIToken: secret(), DeskUser: "desk", DeskPassword: secret()}
	default:
		return nil, err
	}
	if info.SlackSigningSecret == "" {
		info.SlackSigningSecret = secret()
	}
	if info.SMTPPassword == "" {
		info.SMTPPassword = secret()
	}
	if info.DiscordPrivateKey == "" {
		seed := make([]byte, ed25519.SeedSize)
		rand.Read(seed)
		info.DiscordPrivateKey = hex.EncodeToString(seed)
		info.DiscordPublicKey = hex.EncodeToString(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
	}
	info.IMAPAddr, info.SMTPAddr, info.HTTPAddr, info.Alias = imapAddr, smtpAddr, httpAddr, Alias
	info.SentDir = filepath.Join(dataDir, "sent")
	if err := info.Save(dataDir); err != nil {
		return nil, err
	}
	return &info, nil
}

func secret() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Servers are the running sandbox servers.
type Servers struct {
	IMAPAddr, SMTPAddr string
	// ChatURL is the local stand-in for Slack's and Discord's APIs:
	// ChatURL/slack/api/ and ChatURL/discord/api/v9/.
	ChatURL string
	chat    *chatCapture

	log     *slog.Logger
	dataDir string
	// smtpPassword is SMTP AUTH's password (Info.SMTPPassword).
	smtpPassword string
	user         *imapmemserver.User
	imap         *imapserver.Server
	smtp         *smtp.Server

	// busy counts the handlers writing under DATA: Close waits for them.
	busy *inflight

	mu    sync.Mutex // serialises deliveries so mailbox file order = UID order
	next  int
	files map[imap.UID]string // the mailbox file of each message in INBOX
	big   map[imap.UID]int64  // messages held as a stub: their real size
}

// Start serves the mailbox of info on imapAddr and the SMTP server on
// smtpAddr, reloading delivered mail from DATA/mailbox.
func Start(dataDir string, info *Info, imapAddr, smtpAddr string, log *slog.Logger) (*Servers, error) {
	s := &Servers{log: log, dataDir: dataDir, files: map[imap.UID]string{}, big: map[imap.UID]int64{}, smtpPassword: info.SMTPPassword, busy: &inflight{}}
	mem := imapmemserver.New()
	s.user = imapmemserver.NewUser(info.IMAPUser, info.IMAPPassword)
	// Each start may number the messages anew (processed mail is not
	// loaded again), so each start gets a new UIDVALIDITY (RFC 9051
	// section 2.3.1.1): the go-imap server gives the next one to every
	// mailbox created, so create and drop as many as starts before.
	gen, err := s.nextGeneration()
	if err != nil {
		return nil, err
	}
	for range gen - 1 {
		s.user.Create("sandbox-uidvalidity", nil)
		s.user.Delete("sandbox-uidvalidity")
	}
	if err := s.user.Create("INBOX", nil); err != nil {
		return nil, err
	}
	mem.AddUser(s.user)
	if err := s.reload(); err != nil {
		return nil, fmt.Errorf("reloading sandbox mailbox: %w", err)
	}
	s.imap = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &session{SessionIMAP4rev2: mem.NewSession().(imapserver.SessionIMAP4rev2), s: s}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true, // loopback only
	})
	iln, err := net.Listen("tcp", imapAddr)
	if err != nil {
		return nil, fmt.Errorf("sandbox IMAP: %w", err)
	}
	go s.imap.Serve(iln)
	s.IMAPAddr = iln.Addr().String()

	s.smtp = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s}, nil }))
	s.smtp.Domain = AuthServID
	// AUTH without TLS: the sandbox listens on loopback only (bot.Run
	// refuses any other address), so the password never crosses a
	// network.
	s.smtp.AllowInsecureAuth = true
	s.smtp.MaxMessageBytes = 80 << 20
	s.smtp.MaxRecipients = 100
	s.smtp.ReadTimeout = 5 * time.Minute
	s.smtp.WriteTimeout = time.Minute
	sln, err := net.Listen("tcp", smtpAddr)
	if err != nil {
		s.imap.Close()
		return nil, fmt.Errorf("sandbox SMTP: %w", err)
	}
	go s.smtp.Serve(sln)
	s.SMTPAddr = sln.Addr().String()
	if s.chat, s.ChatURL, err = startChatCapture(dataDir, s.busy); err != nil {
		s.smtp.Close()
		s.imap.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the servers and returns once no handler writes under DATA
// any more: whoever removes DATA after Close (a test's TempDir cleanup)
// never races a delivery, a kept mail or a chat capture still being
// written. Closing the connections first ends the handlers that still
// read from a client; a write that began is finished, a new one refused.
func (s *Servers) Close() error {
	err := errors.Join(s.smtp.Close(), s.imap.Close(), s.chat.srv.Close())
	s.busy.closeAndWait()
	return err
}

// inflight counts the handlers that write under DATA, so that Close can
// wait for them (net/http's Server.Close and go-smtp's do not wait for
// their handlers).
type inflight struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// errClosed refuses a write once Close has begun.
var errClosed = errors.New("sandbox: closed")

// enter reports whether a handler may write; each true is paired with
// leave.
func (f *inflight) enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.wg.Add(1)
	return true
}

func (f *inflight) leave() { f.wg.Done() }

// closeAndWait refuses new writes and waits for those under way.
func (f *inflight) closeAndWait() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.wg.Wait()
}

// testHookWrite, when set by a test, runs inside every guarded write,
// before it writes: a test blocks in it to hold a write in flight.
var testHookWrite atomic.Pointer[func()]

func hookWrite() {
	if f := testHookWrite.Load(); f != nil {
		(*f)()
	}
}

// writing enters a guarded write: false once Close has begun.
func (s *Servers) writing() bool {
	if !s.busy.enter() {
		return false
	}
	hookWrite()
	return true
}

func (s *Servers) mailboxDir() string { return filepath.Join(s.dataDir, "mailbox") }

// nextGeneration counts the starts of the sandbox in DATA/mailbox.
func (s *Servers) nextGeneration() (int, error) {
	path := filepath.Join(s.mailboxDir(), "generation")
	b, _ := os.ReadFile(path)
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	n++
	if err := atomicfile.Write(path, []byte(strconv.Itoa(n)+"\n"), 0o600); err != nil {
		return 0, err
	}
	return n, nil
}

// reload appends every kept message that was not processed to INBOX, in
// delivery order. Processed mail stays on disk (DATA/mailbox/processed)
// and out of memory, so the sandbox's memory does not grow with the mail
// it has handled.
func (s *Servers) reload() error {
	entries, err := os.ReadDir(s.mailboxDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".eml") {
			names = append(names, e.Name())
		}
	}
	if done, err := os.ReadDir(filepath.Join(s.mailboxDir(), "processed")); err == nil {
		for _, e := range done {
			if i, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".eml")); err == nil && i >= s.next {
				s.next = i + 1
			}
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if err := s.append(filepath.Join(s.mailboxDir(), n)); err != nil {
			return err
		}
		if i, err := strconv.Atoi(strings.TrimSuffix(n, ".eml")); err == nil && i >= s.next {
			s.next = i + 1
		}
	}
	return nil
}

// bigMessage is the size from which the in-memory server holds only a
// stub of a message (its header and a note) and the whole message is
// served from its file, as a disk-backed server would: go-imap's
// in-memory server would hold it twice over while appending it and build
// a copy for every FETCH.
const bigMessage = 1 << 20

// append puts the mailbox file path into INBOX.
func (s *Servers) append(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	var lit imap.LiteralReader = &literal{Reader: f, size: st.Size()}
	if st.Size() > bigMessage {
		stub := stubOf(f, st.Size(), path)
		lit = &literal{Reader: bytes.NewReader(stub), size: int64(len(stub))}
	}
	data, err := s.user.Append("INBOX", lit, &imap.AppendOptions{})
	if err != nil {
		return err
	}
	s.files[data.UID] = path
	if st.Size() > bigMessage {
		s.big[data.UID] = st.Size()
	}
	return nil
}

// stubOf is a large message's header (up to 256 KiB) and a note: what the
// in-memory server holds for it.
func stubOf(r io.Reader, size int64, path string) []byte {
	head := bytes.TrimRight(headerOf(r), "\r\n")
	return fmt.Appendf(head, "\r\n\r\n[sandbox: this message is %d bytes; UID FETCH BODY[] serves it whole from %s]\r\n", size, filepath.Base(path))
}

// bigOf returns the UIDs in uids held as stubs, with their files and
// sizes, ascending.
func (s *Servers) bigOf(uids []imap.UID) (big []imap.UID, files []string, sizes []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range uids {
		if n, ok := s.big[u]; ok {
			big, files, sizes = append(big, u), append(files, s.files[u]), append(sizes, n)
		}
	}
	return big, files, sizes
}

type literal struct {
	io.Reader
	size int64
}

func (l *literal) Size() int64 { return l.size }

// Deliver puts one message into the alias's mailbox: on disk first, then
// into the IMAP server, so an accepted message survives a crash. r is
// streamed to the file, never held whole.
func (s *Servers) Deliver(header []byte, r io.Reader) error {
	if !s.writing() {
		return errClosed
	}
	defer s.busy.leave()
	dir := s.mailboxDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = io.Copy(tmp, io.MultiReader(bytes.NewReader(header), r))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := filepath.Join(dir, fmt.Sprintf("%010d.eml", s.next))
	if err := atomicfile.Rename(tmp.Name(), name); err != nil {
		return err
	}
	s.next++
	return s.append(name)
}

// processed moves the files of messages marked deleted (Tocsin's processed
// action in the sandbox) to DATA/mailbox/processed: kept, not loaded again.
func (s *Servers) processed(uids imap.UIDSet) {
	if !s.writing() {
		return // left in the mailbox: loaded again, and dropped as a duplicate
	}
	defer s.busy.leave()
	s.mu.Lock()
	defer s.mu.Unlock()
	done := filepath.Join(s.mailboxDir(), "processed")
	os.MkdirAll(done, 0o700)
	for uid, path := range s.files {
		if uids.Contains(uid) {
			if err := os.Rename(path, filepath.Join(done, filepath.Base(path))); err != nil {
				s.log.Error("sandbox: moving processed mail", "file", path, "err", err)
				continue
			}
			delete(s.files, uid)
			delete(s.big, uid)
		}
	}
}

// session is go-imap's in-memory session, told when messages are marked
// deleted so their files can be set aside.
type session struct {
	imapserver.SessionIMAP4rev2
	s *Servers
}

// Idle first reports what changed since the client's last command, then
// idles. go-imap's session tracker reports only the changes that happen
// during IDLE, so a message delivered between the client's NOOP and its
// IDLE waited for the next poll (cyrus-imapd had the same bug, #3668).
func (x *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if err := x.SessionIMAP4rev2.Poll(w, true); err != nil {
		return err
	}
	return x.SessionIMAP4rev2.Idle(w, stop)
}

// Fetch answers for stubs of large messages from their files when a UID
// FETCH asks only for what Tocsin asks for (UID, RFC822.SIZE, BODY[],
// BODY[HEADER]): their real size and bytes, streamed. Any other request
// (a mail client's ENVELOPE, BODYSTRUCTURE, ...) sees the stub: go-imap's
// client takes one FETCH response per message, so the two cannot be mixed.
func (x *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	set, ok := numSet.(imap.UIDSet)
	if !ok || !fromDisk(options) {
		return x.SessionIMAP4rev2.Fetch(w, numSet, options)
	}
	found, err := x.SessionIMAP4rev2.Search(imapserver.NumKindUID, &imap.SearchCriteria{UID: []imap.UIDSet{set}}, &imap.SearchOptions{})
	if err != nil {
		return err
	}
	big, files, sizes := x.s.bigOf(found.AllUIDs())
	if len(big) == 0 {
		return x.SessionIMAP4rev2.Fetch(w, numSet, options)
	}
	isBig := map[imap.UID]bool{}
	for _, u := range big {
		isBig[u] = true
	}
	var normal []imap.UID
	for _, u := range found.AllUIDs() {
		if !isBig[u] {
			normal = append(normal, u)
		}
	}
	if len(normal) > 0 {
		if err := x.SessionIMAP4rev2.Fetch(w, imap.UIDSetNum(normal...), options); err != nil {
			return err
		}
	}
	seqs, err := x.SessionIMAP4rev2.Search(imapserver.NumKindSeq, &imap.SearchCriteria{UID: []imap.UIDSet{imap.UIDSetNum(big...)}}, &imap.SearchOptions{})
	if err != nil {
		return err
	}
	seqNums := seqs.AllSeqNums()
	for i, uid := range big {
		if i >= len(seqNums) {
			break
		}
		if err := writeFromDisk(w.CreateMessage(seqNums[i]), uid, files[i], sizes[i], options); err != nil {
			return err
		}
	}
	return nil
}

// fromDisk reports whether a FETCH asks only for what writeFromDisk
// answers.
func fromDisk(o *imap.FetchOptions) bool {
	if o.Flags || o.Envelope || o.InternalDate || o.BodyStructure != nil || len(o.BinarySection) > 0 || len(o.BinarySectionSize) > 0 || o.ModSeq {
		return false
	}
	for _, bs := range o.BodySection {
		if len(bs.Part) > 0 || bs.Partial != nil || len(bs.HeaderFields) > 0 || len(bs.HeaderFieldsNot) > 0 ||
			bs.Specifier != imap.PartSpecifierNone && bs.Specifier != imap.PartSpecifierHeader {
			return false
		}
	}
	return true
}

// writeFromDisk writes one message's FETCH response from its file.
func writeFromDisk(m *imapserver.FetchResponseWriter, uid imap.UID, path string, size int64, o *imap.FetchOptions) error {
	m.WriteUID(uid)
	if o.RFC822Size {
		m.WriteRFC822Size(size)
	}
	for _, bs := range o.BodySection {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		var r io.Reader = io.LimitReader(f, size)
		n := size
		if bs.Specifier == imap.PartSpecifierHeader {
			head := headerOf(f)
			r, n = bytes.NewReader(head), int64(len(head))
		}
		wc := m.WriteBodySection(bs, n)
		_, err = io.Copy(wc, r)
		f.Close()
		if cerr := wc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return m.Close()
}

// headerOf reads a message's header, blank line included (up to 256 KiB).
func headerOf(r io.Reader) []byte {
	br := bufio.NewReader(io.LimitReader(r, 256<<10))
	var head bytes.Buffer
	for {
		line, err := br.ReadBytes('\n')
		head.Write(line)
		if len(bytes.TrimRight(line, "\r\n")) == 0 || err != nil {
			break
		}
	}
	return head.Bytes()
}

func (x *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	if err := x.SessionIMAP4rev2.Store(w, numSet, flags, options); err != nil {
		return err
	}
	if uids, ok := numSet.(imap.UIDSet); ok && flags.Op == imap.StoreFlagsAdd && slices.Contains(flags.Flags, imap.FlagDeleted) {
		x.s.processed(uids)
	}
	return nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// keepSent stores mail for anyone but the alias as DATA/sent/*.eml, one
// file per Message-ID: a message resent after a crash replaces its own
// file rather than appearing twice, as a receiving MTA would drop it.
func (s *Servers) keepSent(from string, to []string, raw []byte) error {
	if !s.writing() {
		return errClosed
	}
	defer s.busy.leave()
	id := messageID(raw)
	if id == "" {
		sum := sha256.Sum256(raw)
		id = hex.EncodeToString(sum[:8])
	}
	name := filepath.Join(s.dataDir, "sent", unsafeName.ReplaceAllString(id, "_")+".eml")
	if _, err := os.Stat(name); err == nil {
		// A resend after a crash at the hand-over (at-least-once): a
		// warning, so that a run can count them.
		s.log.Warn("sandbox: duplicate delivery dropped", "msg_id", id)
		return nil
	}
	env := fmt.Sprintf("X-Sandbox-Envelope-From: <%s>\r\nX-Sandbox-Envelope-To: <%s>\r\n", from, strings.Join(to, ">, <"))
	return atomicfile.Write(name, append([]byte(env), raw...), 0o600)
}

var msgIDRE = regexp.MustCompile(`(?im)^Message-Id:\s*<([^>\r\n]+)>`)

func messageID(raw []byte) string {
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	if m := msgIDRE.FindSubmatch(head); m != nil {
		return string(m[1])
	}
	return ""
}

// smtpSession is one SMTP session. It plays the receiving MX: a client
// may log in (AUTH PLAIN or LOGIN) with any address as the user and the
// sandbox's SMTP password, and mail to the alias is stamped with what the
// MX vouches for (stamp).
type smtpSession struct {
	s    *Servers
	from string
	to   []string
	// user is the address the client logged in as; "" without AUTH.
	user string
}

func (x *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }
func (x *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech == sasl.Login {
		return &loginServer{check: x.login}, nil
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if identity != "" && identity != user {
			return errBadLogin
		}
		return x.login(user, pass)
	}), nil
}

var errBadLogin = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication credentials invalid: the user is any e-mail address, the password smtp_password in sandbox.json"}

// login accepts user, a bare e-mail address, with the sandbox's password.
func (x *smtpSession) login(user, pass string) error {
	a, err := mail.ParseAddress(user)
	if err != nil || a.Address != user || x.s.smtpPassword == "" ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(x.s.smtpPassword)) != 1 {
		return errBadLogin
	}
	x.user = user
	return nil
}

// loginServer is the server side of SASL LOGIN (draft-murchison-sasl-
// login), which go-sasl has only a client for: mail clients still offer
// it where PLAIN is not configured.
type loginServer struct {
	check    func(user, pass string) error
	user     string
	haveUser bool
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch {
	case !l.haveUser && response == nil:
		return []byte("Username:"), false, nil
	case !l.haveUser:
		l.user, l.haveUser = string(response), true
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(l.user, string(response))
}
func (x *smtpSession) Mail(from string, _ *smtp.MailOptions) error { x.from = from; return nil }
func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, strings.ToLower(to))
	return nil
}
func (x *smtpSession) Reset()        { x.from, x.to = "", nil }
func (x *smtpSession) Logout() error { return nil }

func (x *smtpSession) Data(r io.Reader) error {
	var others []string
	alias := false
	for _, rcpt := range x.to {
		if rcpt == Alias {
			alias = true
		} else {
			others = append(others, rcpt)
		}
	}
	if alias && len(others) == 0 {
		// A delivering MTA records the envelope sender (RFC 5321
		// section 4.4); "<>" for a bounce.
		head, body, err := x.stamp(r)
		if err != nil {
			return err
		}
		if err := x.s.Deliver(append([]byte("Return-Path: <"+x.from+">\r\n"), head...), body); err != nil {
			x.s.log.Error("sandbox: delivering to mailbox", "err", err)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailbox unavailable, try again"}
		}
		return nil
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if alias {
		head, body, err := x.stamp(bytes.NewReader(raw))
		if err != nil {
			return err
		}
		if err := x.s.Deliver(append([]byte("Return-Path: <"+x.from+">\r\n"), head...), body); err != nil {
			x.s.log.Error("sandbox: delivering to mailbox", "err", err)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailbox unavailable, try again"}
		}
	}
	if len(others) > 0 {
		if err := x.s.keepSent(x.from, others, raw); err != nil {
			x.s.log.Error("sandbox: keeping sent mail", "err", err)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "cannot store, try again"}
		}
	}
	return nil
}

// AuthServID is the sandbox MX's authserv-id (RFC 8601): the sandbox's
// configuration trusts its Authentication-Results, and no other.
const AuthServID = "sandbox.test"

// maxStampHeader bounds the header stamp reads into memory.
const maxStampHeader = 256 << 10

// stamp reads the header of a message to the alias and returns it as the
// MX delivers it, with the rest of the message to stream: every
// Authentication-Results that claims the sandbox's authserv-id is
// removed (a sender may write any header; RFC 8601 section 5), and the
// sandbox's own is put on top. DMARC passes when the client logged in as
// the From address, as a receiving MX that checked the sender's
// submission would find; otherwise it is none.
func (x *smtpSession) stamp(r io.Reader) ([]byte, io.Reader, error) {
	br := bufio.NewReader(r)
	var fields [][]byte // each field with its continuation lines
	size := 0
	for {
		line, err := br.ReadBytes('\n')
		size += len(line)
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] = append(fields[len(fields)-1], line...)
		} else if len(line) > 0 {
			fields = append(fields, line)
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 || err != nil || size > maxStampHeader {
			if err != nil && err != io.EOF {
				return nil, nil, err
			}
			break
		}
	}
	var head bytes.Buffer
	from := ""
	for _, f := range fields {
		name, value, _ := bytes.Cut(f, []byte(":"))
		switch strings.ToLower(strings.TrimSpace(string(name))) {
		case "authentication-results":
			if claimsSandbox(string(value)) {
				x.s.log.Info("sandbox: removed an Authentication-Results claiming the sandbox's authserv-id", "user", x.user)
				continue
			}
		case "from":
			from = unfold(string(value))
		}
		head.Write(f)
	}
	return append([]byte(x.authResults(from)), head.Bytes()...), br, nil
}

// authResults is the sandbox MX's Authentication-Results for a message
// whose From header is from.
func (x *smtpSession) authResults(from string) string {
	addr := ""
	if list, err := mail.ParseAddressList(from); err == nil && len(list) == 1 {
		addr = list[0].Address
	}
	dmarc := "dmarc=none"
	if at := strings.LastIndexByte(addr, '@'); at > 0 {
		dmarc += " header.from=" + addr[at+1:]
		if x.user != "" && strings.EqualFold(addr, x.user) {
			dmarc = "dmarc=pass header.from=" + addr[at+1:]
		}
	}
	auth := "auth=none"
	if x.user != "" {
		auth = "auth=pass smtp.auth=" + x.user
	}
	return "Authentication-Results: " + AuthServID + "; " + auth + "; " + dmarc + "\r\n"
}

// claimsSandbox reports whether an Authentication-Results value names
// the sandbox's authserv-id (comments and case aside).
func claimsSandbox(value string) bool {
	v := unfold(value)
	for { // comments, nested ones too: more than the parser strips
		w := arComment.ReplaceAllString(v, " ")
		if w == v {
			break
		}
		v = w
	}
	id, _, _ := strings.Cut(v, ";")
	f := strings.Fields(id)
	return len(f) > 0 && strings.EqualFold(f[0], AuthServID)
}

var arComment = regexp.MustCompile(`\([^()]*\)`)

func unfold(v string) string {
	return strings.TrimSpace(strings.NewReplacer("\r\n", "", "\n", "", "\r", "").Replace(v))
}

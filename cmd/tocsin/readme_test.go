package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"tocsin/internal/skipnote"
)

// readmeSections are the README's walk-through, run in this order in one
// shell against one fresh sandbox: a section renamed or left without a
// shell block fails the test rather than dropping out of it.
var readmeSections = []string{"The two commands", "An answer encrypted to your key", "A call tree in a minute", "API tokens"}

// TestREADME runs the README's walk-through as a new user would and checks
// what the README says each command shows.
//
//   - Every ```sh block of readmeSections is split into commands (a line,
//     its continuation lines, its here-document) and run in one bash
//     (-u -o pipefail) in a directory whose data/ is the sandbox's, so
//     variables carry from one command to the next as in a terminal.
//   - `make run` is the Makefile's run recipe, with `$(GO) run
//     ./cmd/tocsin` standing for this test binary (TestMain runs it as the
//     command) and free loopback ports; `make test` is what runs this
//     test, so it is not run again.
//   - In the other commands `go run ./cmd/tocsin` is the same program (a
//     `tocsin` on PATH), and the default ports 8080, 1143 and 1025 are the
//     sandbox's (from data/sandbox.json). GNUPGHOME and TMPDIR are the
//     test's own.
//   - Every command must exit 0. A `→` in its comment is followed by what
//     it shows: lines separated by `;`, each a list of words that one line
//     of its output (stdout and stderr) holds in that order. Expectations
//     name states, ids, files and fields, not prose, so rewording a reply
//     does not break the README.
//   - A command that only looks (readOnly) is run again until it succeeds
//     and shows what it should, for up to lookFor: the desk files mail and
//     moves the tree in the background, and a reader would look again.
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("the README walk-through starts a sandbox and runs ~45 commands; skipped in -short mode")
	}
	for _, tool := range []string{"bash", "python3", "curl", "gpg", "gpgconf", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipnote.Skip(t, "SKIPPED: the README walk-through needs "+tool+", which is not installed")
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	blocks := shellBlocks(string(readme))
	var units []readmeUnit
	for _, name := range readmeSections {
		if len(blocks[name]) == 0 {
			t.Fatalf("README section %q is missing or has no ```sh block", name)
		}
		for _, b := range blocks[name] {
			units = append(units, splitUnits(name, b)...)
		}
	}
	if len(units) == 0 || units[0].makeTarget() != "run" {
		t.Fatalf("the walk-through must begin with make run; it begins %q", units[0].text)
	}

	// Short paths: gpg-agent's socket must fit in sun_path.
	tmp, err := os.MkdirTemp("", "readme")
	if err != nil {
		t.Fatal(err)
	}
	bin, work := filepath.Join(tmp, "bin"), filepath.Join(tmp, "work")
	gnupg, shtmp := filepath.Join(tmp, "gnupg"), filepath.Join(tmp, "tmp")
	for _, d := range []string{bin, work, gnupg, shtmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	shim := fmt.Sprintf("#!/bin/sh\nTOCSIN_AS_MAIN=1 exec %q \"$@\"\n", self)
	if err := os.WriteFile(filepath.Join(bin, "tocsin"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "GNUPGHOME="+gnupg, "TMPDIR="+shtmp, "LC_ALL=C")
	t.Cleanup(func() {
		// Every GnuPG home the walk-through made (its own mktemp -d too)
		// has an agent to stop before the directory goes.
		homes, _ := filepath.Glob(filepath.Join(shtmp, "*"))
		for _, h := range append(homes, gnupg) {
			exec.Command("gpgconf", "--homedir", h, "--kill", "all").Run()
		}
		os.RemoveAll(tmp)
	})

	// make run, as its recipe says, on free ports.
	daemon := startReadmeDaemon(t, string(makefile), work, env, filepath.Join(bin, "tocsin"))
	checkRunTable(t, string(readme), daemon)
	program := strings.NewReplacer("go run ./cmd/tocsin", "tocsin")
	portRE := regexp.MustCompile(`\b(8080|1143|1025)\b`)
	port := map[string]string{"8080": daemon.port(daemon.info.HTTPAddr), "1143": daemon.port(daemon.info.IMAPAddr), "1025": daemon.port(daemon.info.SMTPAddr)}

	sh := startShell(t, work, env)
	defer sh.close()
	for _, u := range units[1:] {
		switch u.makeTarget() {
		case "":
		case "test":
			continue // what runs this test
		default:
			t.Fatalf("%s: %q: only make run, first, and make test can stand in the walk-through", u.section, u.text)
		}
		cmd := portRE.ReplaceAllStringFunc(program.Replace(u.text), func(p string) string { return port[p] })
		deadline := time.Now().Add(lookFor)
		for {
			out, rc := sh.run(t, cmd)
			missing := u.missing(out)
			if rc == 0 && missing == "" {
				t.Logf("%s: %s\n%s", u.section, firstLine(u.text), indent(head(out, 8)))
				break
			}
			if readOnly.MatchString(cmd) && time.Now().Before(deadline) {
				time.Sleep(300 * time.Millisecond)
				continue
			}
			why := fmt.Sprintf("exit status %d", rc)
			if rc == 0 {
				why = "no line shows " + missing
			}
			t.Fatalf("README %q: %s\n%s\n  (run as: %s)\noutput:\n%s\ndaemon log (tail):\n%s", u.section, why, u.text, cmd, indent(out), tail(daemon.stderr.String(), 30))
		}
	}
	daemon.stop(t)
}

// lookFor bounds how long a looking command is run again.
const lookFor = 30 * time.Second

// readOnly matches the commands that only look: run again while what they
// show is not there yet. Commands that act (sending mail, chat, the
// clock) run once.
var readOnly = regexp.MustCompile(`^(?:[A-Za-z_]+=\$\()?(?:tocsin (?:incidents|roster|keys list|tokens list|audit verify)|ls|grep|gpg --decrypt)\b`)

// readmeUnit is one command of the walk-through.
type readmeUnit struct {
	section string
	text    string
	// expect are the lines it must show, each a list of words in order.
	expect [][]string
}

// makeTarget is the target of a make command, else "".
func (u readmeUnit) makeTarget() string {
	if f := strings.Fields(u.text); len(f) >= 2 && f[0] == "make" {
		return f[1]
	}
	return ""
}

// missing returns the first expected line that out lacks, or "".
func (u readmeUnit) missing(out string) string {
	lines := strings.Split(out, "\n")
	for _, words := range u.expect {
		found := false
		for _, l := range lines {
			if wordsInOrder(l, words) {
				found = true
				break
			}
		}
		if !found {
			return strings.Join(words, " ")
		}
	}
	return ""
}

func wordsInOrder(line string, words []string) bool {
	for _, w := range words {
		i := strings.Index(line, w)
		if i < 0 {
			return false
		}
		line = line[i+len(w):]
	}
	return true
}

var heading = regexp.MustCompile(`^#{1,6} (.+)$`)

// shellBlocks returns the ```sh blocks of each section of a Markdown text,
// by the heading they stand under.
func shellBlocks(md string) map[string][]string {
	out := map[string][]string{}
	section, fence, inSh := "", "", false
	var b strings.Builder
	for _, line := range strings.Split(md, "\n") {
		switch {
		case fence == "" && strings.HasPrefix(line, "```"):
			fence, inSh = "```", strings.TrimSpace(strings.TrimPrefix(line, "```")) == "sh"
			b.Reset()
		case fence != "" && strings.TrimSpace(line) == fence:
			if inSh {
				out[section] = append(out[section], b.String())
			}
			fence = ""
		case fence != "":
			b.WriteString(line + "\n")
		default:
			if m := heading.FindStringSubmatch(line); m != nil {
				section = strings.TrimSpace(m[1])
			}
		}
	}
	return out
}

var hereDoc = regexp.MustCompile(`<<-?\s*'?"?([A-Za-z_]+)'?"?`)

// splitUnits splits a shell block into commands: a line with its
// continuation lines and its here-document. Comment lines are dropped.
func splitUnits(section, block string) []readmeUnit {
	var units []readmeUnit
	lines := strings.Split(strings.TrimRight(block, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		text, shell := line, []string{line}
		for strings.HasSuffix(text, "\\") && i+1 < len(lines) {
			i++
			text += "\n" + lines[i]
			shell = append(shell, lines[i])
		}
		if m := hereDoc.FindStringSubmatch(text); m != nil {
			for i+1 < len(lines) {
				i++
				text += "\n" + lines[i]
				if strings.TrimSpace(lines[i]) == m[1] {
					break
				}
			}
		}
		u := readmeUnit{section: section, text: strings.TrimSpace(text)}
		for _, l := range shell {
			if _, after, ok := strings.Cut(l, "→"); ok {
				for _, want := range strings.Split(after, ";") {
					if f := strings.Fields(want); len(f) > 0 {
						u.expect = append(u.expect, f)
					}
				}
			}
		}
		units = append(units, u)
	}
	return units
}

// readmeDaemon is the sandbox make run started.
type readmeDaemon struct {
	cmd    *exec.Cmd
	banner string
	stderr *lockedWriter
	info   struct {
		HTTPAddr     string `json:"http_addr"`
		IMAPAddr     string `json:"imap_addr"`
		IMAPUser     string `json:"imap_user"`
		IMAPPassword string `json:"imap_password"`
		SMTPAddr     string `json:"smtp_addr"`
		APIToken     string `json:"api_token"`
		DeskUser     string `json:"desk_user"`
		DeskPassword string `json:"desk_password"`
	}
	done chan error
}

func (d *readmeDaemon) port(addr string) string {
	return addr[strings.LastIndexByte(addr, ':')+1:]
}

var runRecipe = regexp.MustCompile(`(?m)^run:.*\n\t(.+)$`)

// startReadmeDaemon runs the Makefile's run recipe in work, with tocsin
// for `$(GO) run ./cmd/tocsin`, data for $(DATA), on free loopback ports,
// and waits for its banner.
func startReadmeDaemon(t *testing.T, makefile, work string, env []string, tocsin string) *readmeDaemon {
	t.Helper()
	m := runRecipe.FindStringSubmatch(makefile)
	if m == nil || !strings.HasPrefix(m[1], "$(GO) run ./cmd/tocsin ") {
		t.Fatalf("the Makefile's run recipe is not `$(GO) run ./cmd/tocsin ...`: %q", m)
	}
	args := strings.Fields(strings.NewReplacer("$(GO) run ./cmd/tocsin ", "", "$(DATA)", "data").Replace(m[1]))
	args = append(args, "--http", "127.0.0.1:0", "--sandbox-imap", "127.0.0.1:0", "--sandbox-smtp", "127.0.0.1:0")
	d := &readmeDaemon{cmd: exec.Command(tocsin, args...), stderr: &lockedWriter{}, done: make(chan error, 1)}
	d.cmd.Dir, d.cmd.Env, d.cmd.Stderr = work, env, d.stderr
	stdout, _ := d.cmd.StdoutPipe()
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	banner := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "Then:") {
				banner <- b.String()
			}
		}
		io.Copy(io.Discard, stdout)
		d.done <- d.cmd.Wait()
	}()
	t.Cleanup(func() { d.cmd.Process.Kill() })
	select {
	case d.banner = <-banner:
	case err := <-d.done:
		t.Fatalf("make run (tocsin %s) exited: %v\n%s", strings.Join(args, " "), err, d.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("make run: no banner in 60s\n%s", d.stderr)
	}
	b, err := os.ReadFile(filepath.Join(work, "data", "sandbox.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &d.info); err != nil {
		t.Fatal(err)
	}
	// "make run ... prints every address".
	for _, a := range []string{d.info.HTTPAddr, d.info.IMAPAddr, d.info.SMTPAddr} {
		if !strings.Contains(d.banner, a) {
			t.Errorf("make run's banner does not print %s:\n%s", a, d.banner)
		}
	}
	return d
}

// stop ends the daemon as Ctrl-C would; it must stop cleanly.
func (d *readmeDaemon) stop(t *testing.T) {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("the sandbox did not stop cleanly: %v\n%s", err, tail(d.stderr.String(), 30))
		}
	case <-time.After(30 * time.Second):
		t.Error("the sandbox did not stop in 30s after SIGTERM")
	}
}

var tablePath = regexp.MustCompile("`(/[^`{ ]*)`")

// checkRunTable fetches every page the README's table of make run's
// addresses names (the API with the sandbox's token, the web UI with its
// desk login): each answers 200.
func checkRunTable(t *testing.T, readme string, d *readmeDaemon) {
	t.Helper()
	_, after, ok := strings.Cut(readme, "`make run` starts the daemon")
	if !ok {
		t.Fatal("README: the table of make run's addresses is gone")
	}
	var table []string
	for _, l := range strings.Split(after, "\n")[1:] {
		if strings.HasPrefix(l, "|") {
			table = append(table, l)
		} else if len(table) > 0 {
			break
		}
	}
	paths := []string{"/"} // the web UI, http://127.0.0.1:8080/
	for _, l := range table {
		for _, m := range tablePath.FindAllStringSubmatch(l, -1) {
			paths = append(paths, m[1])
		}
	}
	if len(paths) < 6 {
		t.Fatalf("README: make run's table names only %v", paths)
	}
	for _, p := range paths {
		req, _ := http.NewRequest("GET", "http://"+d.info.HTTPAddr+p, nil)
		switch {
		case strings.HasPrefix(p, "/api/"):
			req.Header.Set("Authorization", "Bearer "+d.info.APIToken)
		case p == "/":
			req.SetBasicAuth(d.info.DeskUser, d.info.DeskPassword)
		}
		code := 0
		for deadline := time.Now().Add(lookFor); ; time.Sleep(300 * time.Millisecond) {
			// /healthz answers 200 once the IMAP intake is connected.
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			if code == http.StatusOK || time.Now().After(deadline) {
				break
			}
		}
		if code != http.StatusOK {
			t.Errorf("README's make run table: GET %s answers %d, want 200", p, code)
		}
	}
	// "IMAP server holding security@sandbox.test ... (user and password
	// in data/sandbox.json)".
	c, err := imapclient.DialInsecure(d.info.IMAPAddr, nil)
	if err != nil {
		t.Fatalf("README's make run table: IMAP %s: %v", d.info.IMAPAddr, err)
	}
	defer c.Close()
	if err := c.Login(d.info.IMAPUser, d.info.IMAPPassword).Wait(); err != nil {
		t.Errorf("README's make run table: IMAP login as %s with the password in sandbox.json: %v", d.info.IMAPUser, err)
	}
	c.Logout().Wait()
}

// shell is one bash, as a reader's terminal: each command is sourced from
// a file, its output and status kept in files.
type shell struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	dir   string
	n     int
}

func startShell(t *testing.T, work string, env []string) *shell {
	t.Helper()
	dir, err := os.MkdirTemp(filepath.Dir(work), "sh")
	if err != nil {
		t.Fatal(err)
	}
	s := &shell{cmd: exec.Command("bash", "--noprofile", "--norc"), dir: dir}
	s.cmd.Dir, s.cmd.Env = work, env
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(s.stdin, "set -u -o pipefail\n")
	return s
}

// run runs one command and returns what it printed and its exit status.
func (s *shell) run(t *testing.T, cmd string) (string, int) {
	t.Helper()
	s.n++
	script := filepath.Join(s.dir, fmt.Sprintf("%d.sh", s.n))
	out, rc := script+".out", script+".rc"
	if err := os.WriteFile(script, []byte(cmd+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(s.stdin, "source %q </dev/null >%q 2>&1; echo $? >%q.tmp; mv %q.tmp %q\n", script, out, rc, rc, rc)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile(rc)
		if err == nil {
			o, _ := os.ReadFile(out)
			n := -1
			fmt.Sscanf(string(b), "%d", &n)
			return string(o), n
		}
		if time.Now().After(deadline) {
			o, _ := os.ReadFile(out)
			t.Fatalf("README command still running after 2 minutes: %s\n%s", cmd, indent(string(o)))
		}
	}
}

func (s *shell) close() {
	s.stdin.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// lockedWriter is the daemon's log, read while it writes.
type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "  (nothing)"
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

func head(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("... (%d lines more)", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestREADMECommandsAreTheUsage: the README's list of commands is the
// program's usage, line for line (comments aside), so neither can name a
// command or flag the other lacks.
func TestREADMECommandsAreTheUsage(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "\n## Commands\n")
	if !ok {
		t.Fatal("README has no ## Commands section")
	}
	_, block, _ := strings.Cut(after, "```\n")
	block, _, _ = strings.Cut(block, "```")
	norm := func(l string) string {
		if i := strings.Index(l, "   #"); i >= 0 {
			l = l[:i]
		}
		return strings.Join(strings.Fields(l), " ")
	}
	inREADME, inUsage := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(block, "\n") {
		if l = norm(l); strings.HasPrefix(l, "tocsin ") {
			inREADME[l] = true
		}
	}
	for _, l := range strings.Split(usage, "\n") {
		if strings.HasPrefix(l, "  tocsin ") {
			inUsage[norm(l)] = true
		}
	}
	for l := range inUsage {
		if !inREADME[l] {
			t.Errorf("the usage has %q; the README's ## Commands does not", l)
		}
	}
	for l := range inREADME {
		if !inUsage[l] {
			t.Errorf("the README's ## Commands has %q; the usage does not", l)
		}
	}
}

// TestREADMEUnits: how the walk-through's blocks are cut into commands
// and what each must show.
func TestREADMEUnits(t *testing.T) {
	block := "# a comment\n" +
		"a=1   # sets → nothing; x y\n" +
		"curl -s \\\n  http://h/   # → 200\n" +
		"python3 - <<'EOF'\nprint('# not a comment → no')\nEOF\n" +
		"python3 -c 'broken\n" +
		"string'\n"
	units := splitUnits("S", block)
	want := []struct {
		text   string
		expect string
	}{
		{"a=1   # sets → nothing; x y", "nothing|x y"},
		{"curl -s \\\n  http://h/   # → 200", "200"},
		{"python3 - <<'EOF'\nprint('# not a comment → no')\nEOF", ""},
		// A string broken over two lines is two commands: bash fails on
		// the first, as it did in the README's call tree.
		{"python3 -c 'broken", ""},
		{"string'", ""},
	}
	if len(units) != len(want) {
		t.Fatalf("%d units, want %d: %+v", len(units), len(want), units)
	}
	for i, w := range want {
		var exp []string
		for _, e := range units[i].expect {
			exp = append(exp, strings.Join(e, " "))
		}
		if units[i].text != w.text || strings.Join(exp, "|") != w.expect {
			t.Errorf("unit %d: %q expecting %q, want %q expecting %q", i, units[i].text, exp, w.text, w.expect)
		}
	}
	u := readmeUnit{expect: [][]string{{"team-alerted", "acknowledged"}}}
	for out, want := range map[string]string{
		"  team-alerted  ack  12-02 17:00  acknowledged  tara":               "",
		"  team-alerted  ack  12-02 17:00  notified\nacknowledged elsewhere": "team-alerted acknowledged",
		"acknowledged team-alerted":                                          "team-alerted acknowledged",
	} {
		if got := u.missing(out); got != want {
			t.Errorf("missing(%q) = %q, want %q", out, got, want)
		}
	}
	md := "# T\n## The two commands\n```sh\nmake run\n```\ntext\n```\nnot sh\n```\n### Next\n```sh\n# heading-like comment\nls\n```\n"
	got := shellBlocks(md)
	if len(got["The two commands"]) != 1 || got["The two commands"][0] != "make run\n" || len(got["Next"]) != 1 || got["Next"][0] != "# heading-like comment\nls\n" {
		t.Errorf("shellBlocks = %q", got)
	}
}

// TestREADMEArrowsAreRun: a `→` promises a check, so it stands only in
// the blocks TestREADME runs.
func TestREADMEArrowsAreRun(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	run := map[string]bool{}
	for _, s := range readmeSections {
		run[s] = true
	}
	for section, blocks := range shellBlocks(string(readme)) {
		for _, b := range blocks {
			if strings.Contains(b, "→") && !run[section] {
				t.Errorf("README section %q has a → in a block TestREADME does not run (readmeSections)", section)
			}
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as the tocsin command, so the crash
// test runs the real program (built with the same flags, race detector
// included) without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("TOCSIN_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type proc struct {
	cmd      *exec.Cmd
	smtpAddr string
	httpAddr string
	stderr   *bytes.Buffer
}

var (
	smtpLine = regexp.MustCompile(`(?m)^\s+SMTP\s+(\S+)`)
	httpLine = regexp.MustCompile(`(?m)^\s+web UI\s+http://(\S+)/`)
)

func startProc(t testing.TB, data string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "run", "--data", data, "--http", "127.0.0.1:0", "--sandbox-imap", "127.0.0.1:0", "--sandbox-smtp", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TOCSIN_AS_MAIN=1")
	stdout, _ := cmd.StdoutPipe()
	p := &proc{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
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
	}()
	select {
	case out := <-banner:
		p.smtpAddr = smtpLine.FindStringSubmatch(out)[1]
		p.httpAddr = httpLine.FindStringSubmatch(out)[1]
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("tocsin did not start:\n%s", p.stderr)
	}
	return p
}

func (p *proc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

// TestCrashSafety kills the daemon with SIGKILL at random moments while
// reports arrive and are processed, restarts it, and checks that in the
// end every report has exactly one incident and one acknowledgement.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	const reports = 40
	data := t.TempDir()
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)
	sent, kills, dupDrops := 0, 0, 0
	for sent < reports {
		p := startProc(t, data)
		batch := min(reports-sent, 1+rng.IntN(12))
		for range batch {
			msg := fmt.Sprintf("From: r%d@example.org\r\nTo: security@sandbox.test\r\nSubject: crash report %d\r\nMessage-ID: <crash%d@example.org>\r\n\r\nbody %d\r\n", sent, sent, sent, sent)
			if err := smtp.SendMail(p.smtpAddr, nil, fmt.Sprintf("r%d@example.org", sent), []string{"security@sandbox.test"}, []byte(msg)); err != nil {
				t.Fatalf("report %d: %v", sent, err)
			}
			sent++
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		p.kill9()
		kills++
		dupDrops += strings.Count(p.stderr.String(), "duplicate delivery dropped")
	}

	p := startProc(t, data)
	defer p.kill9()
	var info struct {
		APIToken string `json:"api_token"`
	}
	b, _ := os.ReadFile(filepath.Join(data, "sandbox.json"))
	json.Unmarshal(b, &info)
	type inc struct {
		ID      string `json:"id"`
		Subject string `json:"subject"`
		Outbox  []struct {
			Key   string `json:"key"`
			State string `json:"state"`
		} `json:"outbox"`
	}
	get := func(path string, out any) {
		req, _ := http.NewRequest("GET", "http://"+p.httpAddr+path, nil)
		req.Header.Set("Authorization", "Bearer "+info.APIToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(out)
	}
	files := func() int {
		f, _ := filepath.Glob(filepath.Join(data, "sent", "*.eml"))
		return len(f)
	}
	// The receiver keeps a mail (a file in sent/) before the sender
	// records it sent: wait for the records too, not only the files.
	ackSent := func(d inc) int {
		n := 0
		for _, o := range d.Outbox {
			if strings.HasPrefix(o.Key, "ack:") && o.State == "sent" {
				n++
			}
		}
		return n
	}
	allSent := func(incs []inc) bool {
		for _, l := range incs {
			var d inc
			get("/api/v1/incidents/"+l.ID, &d)
			if ackSent(d) == 0 {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(60 * time.Second)
	var list struct{ Incidents []inc }
	for {
		get("/api/v1/incidents", &list)
		if len(list.Incidents) >= reports && files() >= reports && allSent(list.Incidents) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d reports, %d kill -9s; %d resends after a crash were dropped by Message-ID at the receiver", reports, kills, dupDrops)
	if len(list.Incidents) != reports {
		t.Fatalf("%d incidents for %d reports", len(list.Incidents), reports)
	}
	subjects := map[string]bool{}
	for _, l := range list.Incidents {
		if subjects[l.Subject] {
			t.Errorf("report %q filed twice", l.Subject)
		}
		subjects[l.Subject] = true
		var d inc
		get("/api/v1/incidents/"+l.ID, &d)
		if ackSent(d) != 1 {
			t.Errorf("%s outbox %+v, want exactly one sent acknowledgement", l.ID, d.Outbox)
		}
	}
	if n := files(); n != reports {
		t.Errorf("%d acknowledgements received, want %d", n, reports)
	}
	// Each incident shows as one card per platform, whatever the kills
	// interrupted: posts after a crash find the card (Slack metadata,
	// Discord nonce) and edit it.
	cardsOf := func(pattern string) map[string]int {
		out := map[string]int{}
		files, _ := filepath.Glob(filepath.Join(data, "chat", pattern))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if id := incidentRE.Find(b); id != nil {
				out[string(id)]++
			}
		}
		return out
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		slackCards, discordCards := cardsOf("*-slack-chat.postMessage.json"), cardsOf("*-discord-create-message.json")
		if len(slackCards) >= reports && len(discordCards) >= reports || time.Now().After(deadline) {
			for _, l := range list.Incidents {
				if slackCards[l.ID] != 1 || discordCards[l.ID] != 1 {
					var d struct {
						Outbox []map[string]any `json:"outbox"`
					}
					get("/api/v1/incidents/"+l.ID, &d)
					t.Errorf("%s: %d Slack cards and %d Discord cards, want one each; outbox %v", l.ID, slackCards[l.ID], discordCards[l.ID], d.Outbox)
				}
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var incidentRE = regexp.MustCompile(`SEC-\d{4}-\d{4,}`)

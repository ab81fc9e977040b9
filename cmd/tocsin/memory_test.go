package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"tocsin/internal/imaptest"
)

// rssKB reads a process's resident set (VmRSS) and peak (VmHWM) in KiB.
func rssKB(pid int) (rss, peak int) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			peak = n
		}
	}
	return rss, peak
}

// reportWithAttachment is a report carrying size bytes of random data as
// a base64 attachment, as a mail client sends it.
func reportWithAttachment(id string, size int) []byte {
	data := make([]byte, size)
	rand.Read(data)
	var b strings.Builder
	fmt.Fprintf(&b, "From: big@example.org\r\nTo: security@sandbox.test\r\nSubject: capture %s\r\nMessage-ID: <%s@example.org>\r\nMIME-Version: 1.0\r\n", id, id)
	b.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nThe packet capture of the attack is attached.\r\n")
	b.WriteString("--b\r\nContent-Type: application/vnd.tcpdump.pcap\r\nContent-Disposition: attachment; filename=capture.pcap\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--b--\r\n")
	return []byte(b.String())
}

// BenchmarkMemory50MB measures the daemon's peak RSS for a report with a
// 50 MB attachment, end to end, next to the goal of 100 MB + 1.5 x the
// attachment:
//   - daemon: the real program run on a config whose mailbox is an IMAP
//     server outside it (go-imap's, in this benchmark's process, as
//     Dovecot would be), from IMAP literal to raw file, parse, store and
//     signed acknowledgement at SMTP;
//   - sandbox: `tocsin run` with no config, as `make run` starts it, which
//     also holds the mailbox (go-imap's in-memory server) in the process;
//   - the sandbox at rest after a restart, with the processed report in its
//     mailbox: it must not grow with the mail handled.
func BenchmarkMemory50MB(b *testing.B) {
	const size = 50 << 20
	goal := 100 + 1.5*size/(1<<20)
	for range b.N {
		b.ReportMetric(goal, "goal-MB")

		// The daemon against an outside IMAP server.
		mbox := imaptest.Serve(b, nil, "security@example.com", "secret")
		imapAddr := mbox.Addr
		sink := startSink(b)
		data := b.TempDir()
		cfgPath := filepath.Join(data, "tocsin.yaml")
		_, iport, _ := net.SplitHostPort(imapAddr)
		_, sport, _ := net.SplitHostPort(sink.addr)
		os.WriteFile(cfgPath, []byte(fmt.Sprintf(`desk: {address: security@example.com}
data_dir: %s
http: {listen: '127.0.0.1:0', api_tokens: [{password: a-long-enough-api-token-1}]}
imap: {host: 127.0.0.1, port: %s, tls: none, username: security@example.com, password: secret, poll_interval: 1s}
smtp: {host: 127.0.0.1, port: %s, tls: none}
`, filepath.Join(data, "d"), iport, sport)), 0o600)
		p := startConfigProc(b, cfgPath)
		mbox.Deliver(b, reportWithAttachment("mem0", size))
		waitFor(b, "the acknowledgement", func() bool { return sink.count() >= 1 })
		_, peak := rssKB(p.cmd.Process.Pid)
		p.kill9()
		b.ReportMetric(float64(peak)/1024, "daemon-peak-RSS-MB")
		b.Logf("daemon (outside IMAP server), 50 MB attachment: peak RSS %.0f MB; goal %.0f MB", float64(peak)/1024, goal)

		// The sandbox.
		data = b.TempDir()
		p = startProc(b, data)
		msg := reportWithAttachment("mem1", size)
		if err := smtp.SendMail(p.smtpAddr, nil, "big@example.org", []string{"security@sandbox.test"}, msg); err != nil {
			b.Fatal(err)
		}
		msg = nil
		waitForAck(b, data, 1)
		_, peak = rssKB(p.cmd.Process.Pid)
		p.kill9()
		b.ReportMetric(float64(peak)/1024, "sandbox-peak-RSS-MB")
		b.Logf("sandbox (mailbox in the process), 50 MB attachment: peak RSS %.0f MB; goal %.0f MB", float64(peak)/1024, goal)

		p = startProc(b, data)
		time.Sleep(2 * time.Second)
		rss, _ := rssKB(p.cmd.Process.Pid)
		p.kill9()
		b.ReportMetric(float64(rss)/1024, "sandbox-restart-RSS-MB")
		b.Logf("sandbox after a restart with the processed report in its mailbox: RSS %.0f MB", float64(rss)/1024)
	}
}

// sink is an SMTP server that counts the mail it receives.
type sink struct {
	addr string
	mu   sync.Mutex
	n    int
}

func (s *sink) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.n }

func (s *sink) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return s, nil }
func (s *sink) Mail(string, *gosmtp.MailOptions) error          { return nil }
func (s *sink) Rcpt(string, *gosmtp.RcptOptions) error          { return nil }
func (s *sink) Reset()                                          {}
func (s *sink) Logout() error                                   { return nil }
func (s *sink) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	return nil
}

func startSink(tb testing.TB) *sink {
	s := &sink{}
	srv := gosmtp.NewServer(s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	s.addr = ln.Addr().String()
	return s
}

// startConfigProc runs `tocsin run --config FILE` and waits for its banner.
func startConfigProc(tb testing.TB, cfg string) *proc {
	cmd := exec.Command(os.Args[0], "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "TOCSIN_AS_MAIN=1")
	stdout, _ := cmd.StdoutPipe()
	p := &proc{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "store") {
				close(started)
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		tb.Fatalf("tocsin did not start:\n%s", p.stderr)
	}
	return p
}

func waitFor(tb testing.TB, what string, cond func() bool) {
	deadline := time.Now().Add(5 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("no %s after 5 minutes", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitForAck waits until n acknowledgements are in DATA/sent.
func waitForAck(tb testing.TB, data string, n int) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if f, _ := filepath.Glob(filepath.Join(data, "sent", "*.eml")); len(f) >= n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("no acknowledgement after 5 minutes")
}

package bot_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"tocsin/config"
	"tocsin/internal/gpgtest"
	"tocsin/internal/skipnote"
)

const dovecotConf = `protocols = imap
listen = 127.0.0.1
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:%[1]s/mail/%%u
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=%[1]s/mail/%%u
}
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = 0
  }
}
`

// startDovecot runs a throwaway Dovecot on a free loopback port and
// returns its address and config path.
func startDovecot(t *testing.T) (addr, conf string) {
	t.Helper()
	if _, err := exec.LookPath("dovecot"); err != nil {
		// Debian installs it in /usr/sbin, which a non-login PATH may lack.
		if _, serr := os.Stat("/usr/sbin/dovecot"); serr == nil {
			t.Setenv("PATH", os.Getenv("PATH")+":/usr/sbin")
		}
	}
	if _, err := exec.LookPath("dovecot"); err != nil {
		skipnote.Skip(t, "SKIPPED: dovecot is not installed; `apt-get install dovecot-imapd` (.ci/run does) to run the end-to-end test against a real IMAP server")
	}
	if os.Geteuid() != 0 {
		skipnote.Skip(t, "SKIPPED: the Dovecot test starts Dovecot as root (as CI runs); run make test as root")
	}
	dir, err := os.MkdirTemp("", "dovecot")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // the mail user (nobody) must reach its maildir
	for _, d := range []string{"run", "state", "mail"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.Chown(filepath.Join(dir, "mail"), 65534, 65534)
	os.WriteFile(filepath.Join(dir, "users"), []byte("security@example.com:{PLAIN}dove-secret\n"), 0o644)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf = filepath.Join(dir, "dovecot.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(dovecotConf, dir, port)), 0o644)
	// Dovecot daemonises and its children inherit stdout: write to a file,
	// never a pipe, or Wait would block until Dovecot exits.
	outPath := filepath.Join(dir, "start.log")
	out, _ := os.Create(outPath)
	start := exec.Command("dovecot", "-c", conf)
	start.Stdout, start.Stderr = out, out
	err = start.Run()
	out.Close()
	if err != nil {
		b, _ := os.ReadFile(outPath)
		t.Fatalf("starting dovecot: %v\n%s", err, b)
	}
	t.Cleanup(func() {
		exec.Command("doveadm", "-c", conf, "stop").Run()
		time.Sleep(200 * time.Millisecond)
		os.RemoveAll(dir)
	})
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	eventually(t, "dovecot listening", 10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr, conf
}

// TestDovecot runs the daemon against a real Dovecot: mail already in the
// mailbox is filed at start, new mail arrives through IDLE well before the
// (1 minute) poll, processed mail carries the keyword, and a restart files
// nothing twice.
func TestDovecot(t *testing.T) {
	addr, conf := startDovecot(t)
	// One report waits in the mailbox before Tocsin starts.
	save := exec.Command("doveadm", "-c", conf, "save", "-u", "security@example.com", "-m", "INBOX")
	save.Stdin = strings.NewReader(strings.ReplaceAll(report("Pat <pat@example.org>", "pat1@example.org", "Open redirect on /goto", "https://www.example.com/goto?u=https://evil.example"), "\n", "\r\n"))
	if out, err := save.CombinedOutput(); err != nil {
		t.Fatalf("doveadm save: %v\n%s", err, out)
	}

	sink := &smtpSink{}
	ssrv := smtp.NewServer(sinkNoAuth{sink})
	sln, _ := net.Listen("tcp", "127.0.0.1:0")
	go ssrv.Serve(sln)
	t.Cleanup(func() { ssrv.Close() })

	host, port, _ := net.SplitHostPort(addr)
	_, sport, _ := net.SplitHostPort(sln.Addr().String())
	data := t.TempDir()
	yaml := fmt.Sprintf("desk: {address: security@example.com}\ndata_dir: %s\nhttp: {listen: '127.0.0.1:0', api_tokens: [{password: tok}]}\n"+
		"imap: {host: %s, port: %s, tls: none, username: security@example.com, password: dove-secret, poll_interval: 1m}\n"+
		"smtp: {host: 127.0.0.1, port: %s, tls: none}\n", data, host, port, sport)
	cfg, err := config.Parse("dovecot.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg)
	d.info.APIToken = "tok"
	eventually(t, "the waiting report answered", 10*time.Second, func() bool { return sink.count() == 1 })

	// New mail while Tocsin idles: IDLE must bring it in long before the poll.
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("security@example.com", "dove-secret").Wait(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let the watcher enter IDLE
	raw := strings.ReplaceAll(report("Quinn <quinn@example.org>", "quinn1@example.org", "Malware in installer", "SHA-256 of the installer changed."), "\n", "\r\n")
	appended := time.Now()
	appendMail(t, c, raw)
	eventually(t, "the new report answered via IDLE", 10*time.Second, func() bool { return sink.count() == 2 })
	t.Logf("IDLE pickup: APPEND to answer at SMTP in %v", time.Since(appended))

	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		got := fmt.Sprint(m.Flags)
		if !strings.Contains(got, `\Seen`) || !strings.Contains(strings.ToLower(got), "$tocsinprocessed") {
			t.Errorf("message %d flags %s, want \\Seen and $TocsinProcessed", m.SeqNum, got)
		}
	}
	g := d.importDeskKey(gpgtest.NewHome(t))
	for _, m := range sink.msgs {
		g.VerifyPGPMIME(m)
	}

	// Restart: nothing is filed or answered twice.
	d.stop()
	d2 := startDaemon(t, cfg)
	d2.info.APIToken = "tok"
	// The positive signal: the restarted watcher has looked at the mailbox.
	eventually(t, "the restarted watcher's first look", 10*time.Second, func() bool {
		return d2.metric("tocsin_imap_last_success_timestamp_seconds") > 0
	})
	d2.settled(0)
	if n := len(d2.incidents()); n != 2 {
		t.Errorf("%d incidents after restart, want 2", n)
	}
	if n := sink.count(); n != 2 {
		t.Errorf("%d answers after restart, want 2", n)
	}
}

// sinkNoAuth is smtpSink without AUTH, like a local relay.
type sinkNoAuth struct{ s *smtpSink }

func (b sinkNoAuth) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &sinkSess{s: b.s, conn: c, authed: true}, nil
}

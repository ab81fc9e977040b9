package bot_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"tocsin/config"
	"tocsin/internal/imaptest"
)

// arrivalSink records when each acknowledgement reaches SMTP, keyed by the
// report it answers (In-Reply-To).
type arrivalSink struct {
	mu  sync.Mutex
	at  map[string]time.Time
	got chan struct{}
}

func (s *arrivalSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &arrivalSess{s: s}, nil }

type arrivalSess struct{ s *arrivalSink }

func (x *arrivalSess) Mail(string, *smtp.MailOptions) error { return nil }
func (x *arrivalSess) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (x *arrivalSess) Reset()                               {}
func (x *arrivalSess) Logout() error                        { return nil }
func (x *arrivalSess) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	now := time.Now()
	id := headerOf(b, "In-Reply-To")
	x.s.mu.Lock()
	x.s.at[id] = now
	x.s.mu.Unlock()
	x.s.got <- struct{}{}
	return nil
}

func peakRSSMB() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}

// BenchmarkPipeline appends N synthetic reports to an IMAP server while the
// daemon runs, and measures from each APPEND's completion to its signed
// acknowledgement arriving at SMTP. The raw FETCH rate of the same
// messages, measured afterwards in the same run, is the ceiling. Run with
// -benchtime=1x (make bench); N is fixed at 2000.
func BenchmarkPipeline(b *testing.B) {
	const n = 2000
	for range b.N {
		imapAddr := imaptest.Serve(b, nil, "security@example.com", "pw").Addr
		sink := &arrivalSink{at: map[string]time.Time{}, got: make(chan struct{}, n)}
		ssrv := smtp.NewServer(sink)
		sln, _ := net.Listen("tcp", "127.0.0.1:0")
		go ssrv.Serve(sln)

		_, iport, _ := net.SplitHostPort(imapAddr)
		_, sport, _ := net.SplitHostPort(sln.Addr().String())
		cfg, err := config.Parse("bench.yaml", []byte(fmt.Sprintf(
			"desk: {address: security@example.com}\ndata_dir: %s\nhttp: {listen: '127.0.0.1:0'}\nreplies: {per_sender: 1000000}\n"+
				"imap: {host: 127.0.0.1, port: %s, tls: none, username: security@example.com, password: pw, poll_interval: 2s}\nsmtp: {host: 127.0.0.1, port: %s, tls: none}\n",
			b.TempDir(), iport, sport)))
		if err != nil {
			b.Fatal(err)
		}
		d := startDaemon(b, cfg)

		c, err := imapclient.DialInsecure(imapAddr, nil)
		if err != nil {
			b.Fatal(err)
		}
		c.Login("security@example.com", "pw").Wait()
		appended := make(map[string]time.Time, n)
		b.ResetTimer()
		start := time.Now()
		var total int64
		for i := range n {
			id := fmt.Sprintf("bench%d@example.org", i)
			raw := fmt.Sprintf("From: Reporter %d <r%d@example.org>\r\nTo: security@example.com\r\nSubject: Vulnerability report %d: XSS in /search\r\nMessage-ID: <%s>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
				i, i, i, id, bytes.Repeat([]byte("Reflected XSS at https://app.example.com/search?q=<script> from 198.51.100.7, CVE-2026-12345.\r\n"), 20))
			total += int64(len(raw))
			appendMail(b, c, raw)
			appended["<"+id+">"] = time.Now()
		}
		for range n {
			select {
			case <-sink.got:
			case <-time.After(60 * time.Second):
				b.Fatalf("only %d of %d acknowledgements arrived", len(sink.at), n)
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		var lat []time.Duration
		for id, t := range appended {
			lat = append(lat, sink.at[id].Sub(t))
		}
		slices.Sort(lat)

		// Unloaded latency: one report at a time, each waited for.
		var idle []time.Duration
		for i := range 50 {
			id := fmt.Sprintf("<idle%d@example.org>", i)
			raw := fmt.Sprintf("From: idle@example.org\r\nTo: security@example.com\r\nSubject: idle %d\r\nMessage-ID: %s\r\n\r\nx\r\n", i, id)
			appendMail(b, c, raw)
			t0 := time.Now()
			select {
			case <-sink.got:
			case <-time.After(10 * time.Second):
				b.Fatalf("idle report %d not answered; metrics:\n%s", i, func() string { _, m := getBody(b, "http://"+d.addrs.HTTP+"/metrics"); return m }())
			}
			sink.mu.Lock()
			idle = append(idle, sink.at[id].Sub(t0))
			sink.mu.Unlock()
		}
		slices.Sort(idle)

		// Ceiling: FETCH BODY.PEEK[] of the same messages, in the daemon's batch size.
		c.Select("INBOX", nil).Wait()
		n := uint32(n) // the ceiling reads the loaded reports, not the idle ones
		fstart := time.Now()
		sec := &imap.FetchItemBodySection{Peek: true}
		for lo := uint32(1); lo <= n; lo += 64 {
			hi := min(lo+63, n)
			var set imap.SeqSet
			set.AddRange(lo, hi)
			if _, err := c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{sec}}).Collect(); err != nil {
				b.Fatal(err)
			}
		}
		fetchRate := float64(n) / time.Since(fstart).Seconds()
		c.Close()
		d.stop()
		ssrv.Close()

		b.ReportMetric(float64(n)/elapsed.Seconds(), "reports/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
		b.ReportMetric(float64(idle[len(idle)/2].Microseconds())/1000, "idle_p50_ms")
		b.ReportMetric(float64(idle[len(idle)*99/100].Microseconds())/1000, "idle_p99_ms")
		b.ReportMetric(fetchRate, "fetch_msgs/s")
		b.ReportMetric(float64(total)/float64(n), "bytes/report")
		b.ReportMetric(peakRSSMB(), "peak_rss_MB")
	}
}

package bot_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tocsin/bot"
	"tocsin/bot/chatops"
)

// BenchmarkChatCommands: signed Slack commands through the HTTP endpoint
// (verification, replay check, roster, store), 4 at a time: commands per
// second and latency, next to the platforms' 3-second limit.
func BenchmarkChatCommands(b *testing.B) {
	const n = 2000
	for range b.N {
		cfg := bot.SandboxConfig(b.TempDir(), "127.0.0.1:0")
		d := startDaemon(b, cfg)
		d.sendMail("rita@example.org", report("rita@example.org", "bench-chat@example.org", "XSS in www.sandbox.test", "details"))
		eventually(b, "the incident", 10*time.Second, func() bool { return len(d.incidents()) == 1 })
		id := d.incidents()[0].ID
		var mu sync.Mutex
		var lat []time.Duration
		work := make(chan int)
		var wg sync.WaitGroup
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
		b.ResetTimer()
		start := time.Now()
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					body := []byte(url.Values{"command": {"/status"}, "text": {id}, "user_id": {"U0UMA"}, "trigger_id": {fmt.Sprint("b", i)}}.Encode())
					ts, sig := chatops.SignSlack(d.info.SlackSigningSecret, body, time.Now())
					req, _ := http.NewRequest("POST", "http://"+d.addrs.HTTP+"/slack/commands", strings.NewReader(string(body)))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("X-Slack-Request-Timestamp", ts)
					req.Header.Set("X-Slack-Signature", sig)
					t0 := time.Now()
					resp, err := client.Do(req)
					if err != nil || resp.StatusCode != 200 {
						b.Errorf("request %d: %v %v", i, err, resp)
						return
					}
					resp.Body.Close()
					mu.Lock()
					lat = append(lat, time.Since(t0))
					mu.Unlock()
				}
			}()
		}
		for i := range n {
			work <- i
		}
		close(work)
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(n)/elapsed.Seconds(), "commands/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
		b.ReportMetric(3000, "limit_ms")
		d.stop()
	}
}

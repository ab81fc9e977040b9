package engine

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"tocsin/bot/clock"
	"tocsin/bot/store"
)

// benchEngine is an engine on a fresh store with n people, p0 the team
// and the others officers, and one playbook whose one step tells audience (needs
// an ack within an hour, escalated to escalate).
func benchEngine(b *testing.B, people int, clk clock.Clock, audience, escalate string) (*Engine, *store.Store) {
	b.Helper()
	var y strings.Builder
	y.WriteString("desk: {address: security@example.com}\npeople:\n")
	for i := range people {
		fmt.Fprintf(&y, "  - {name: P%d, email: p%d@example.com, slack_id: U%d}\n", i, i, i)
	}
	var officers []string
	for i := 1; i < people; i++ {
		officers = append(officers, fmt.Sprintf("p%d@example.com", i))
	}
	y.WriteString("team: {members: [p0@example.com]}\nofficers: [" + strings.Join(officers, ", "))
	y.WriteString(`]
playbooks:
  - name: all-hands
    steps:
      - {id: told, title: Everyone told, audience: ` + audience + `, due: 1h, needs: ack, escalate: [` + escalate + `]}
`)
	return newTestEngine(b, y.String(), clk)
}

func newIncident(b *testing.B, e *Engine, st *store.Store, eventAt time.Time) *store.Incident {
	var inc *store.Incident
	if err := st.Tx(context.Background(), func(tx *store.Tx) error {
		var err error
		inc, err = tx.CreateIncident("SEC", store.Incident{Priority: "P1", Category: "incident", Subject: "bench", Reporter: "r@example.org", CreatedAt: eventAt, EventAt: eventAt})
		if err != nil {
			return err
		}
		_, err = e.StartTree(tx, inc, nil, "", eventAt)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return inc
}

// BenchmarkFanOut10k: the time from a step that tells a 10,000-person
// roster being due to every notification handed to the senders: each
// person's e-mail notice and Slack DM in the outbox, durable, in one
// transaction (fanout_s; goal: under 1 s). compose_all_s is the mail
// sender's work after that: composing and signing the 10,000 mails on
// every core, each just before its SMTP submission.
func BenchmarkFanOut10k(b *testing.B) {
	const people = 10000
	for range b.N {
		b.StopTimer()
		e, st := benchEngine(b, people+1, clock.System{}, "officers", "team")
		inc := newIncident(b, e, st, time.Now())
		b.StartTimer()
		start := time.Now()
		if err := e.Advance(context.Background(), inc.ID); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		counts, _ := st.OutboxCounts(context.Background())
		if counts[store.OutboxPending] != 2*people {
			b.Fatalf("outbox %v, want %d pending (mail and DM per person)", counts, 2*people)
		}
		b.ReportMetric(elapsed.Seconds(), "fanout_s")
		b.ReportMetric(1, "goal_s")
		b.ReportMetric(float64(2*people)/elapsed.Seconds(), "items/s")
		// What the mail sender then does before each SMTP submission:
		// composing (rendering, signing) all 10,000, on every core.
		items, err := st.Claim(context.Background(), time.Now(), time.Hour, 4*people)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		composeAll(b, e, items)
		b.ReportMetric(time.Since(start).Seconds(), "compose_all_s")
	}
}

// BenchmarkEngineLag10k: 10,000 open incidents whose deadlines fall due
// over 20 seconds of real time (500 a second), the engine loop running:
// how late each escalation is decided after its deadline. Goal: p99 under
// 1 s.
func BenchmarkEngineLag10k(b *testing.B) {
	const incidents = 10000
	const spread = 20 * time.Second
	for range b.N {
		b.StopTimer()
		e, st := benchEngine(b, 3, clock.System{}, "team", "officers")
		first := time.Now().Add(30 * time.Second)
		var ids []int64
		for chunk := 0; chunk < incidents; chunk += 1000 {
			if err := st.Tx(context.Background(), func(tx *store.Tx) error {
				for i := chunk; i < chunk+1000; i++ {
					eventAt := first.Add(spread*time.Duration(i)/incidents - time.Hour)
					inc, err := tx.CreateIncident("SEC", store.Incident{Priority: "P1", Category: "incident", Subject: "bench", Reporter: "r@example.org", CreatedAt: eventAt, EventAt: eventAt})
					if err != nil {
						return err
					}
					if _, err := e.StartTree(tx, inc, nil, "", eventAt); err != nil {
						return err
					}
					ids = append(ids, inc.ID)
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		if err := e.Tick(context.Background()); err != nil { // every tree starts: told, due within 25 s
			b.Fatal(err)
		}
		if time.Now().After(first) {
			b.Fatalf("setup took too long: the first deadline passed before the engine ran")
		}
		b.StartTimer()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.Run(ctx); close(done) }()
		time.Sleep(time.Until(first.Add(spread + 2*time.Second)))
		cancel()
		<-done
		b.StopTimer()
		var lags []time.Duration
		for _, id := range ids {
			tr, err := st.Tree(context.Background(), id)
			if err != nil {
				b.Fatal(err)
			}
			s := tr.Steps[0]
			for _, p := range s.People {
				if p.Role == "escalation" {
					lags = append(lags, p.NotifiedAt.Sub(s.DueAt))
				}
			}
			if s.Level != 1 || len(lags) == 0 {
				b.Fatalf("incident %d: escalation level %d at the end, want 1", id, s.Level)
			}
		}
		sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
		b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "lag_p50_ms")
		b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "lag_p99_ms")
		b.ReportMetric(1000, "goal_p99_ms")
		b.ReportMetric(float64(incidents)/spread.Seconds(), "deadlines/s")
	}
}

// composeAll composes the mail items on every processor.
func composeAll(b *testing.B, e *Engine, items []store.OutboxItem) {
	next := make(chan store.OutboxItem)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range next {
				if _, err := e.Notify.Compose(context.Background(), it); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for _, it := range items {
		if it.Channel == store.PlatformMail {
			next <- it
		}
	}
	close(next)
	wg.Wait()
}

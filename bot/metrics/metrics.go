// Package metrics keeps Tocsin's counters, gauges and histograms and writes
// them in the Prometheus text exposition format (version 0.0.4) for
// GET /metrics. It is a few dozen lines because that is all the format
// needs; no client library is pulled in for it.
package metrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds named metrics.
type Registry struct {
	mu      sync.Mutex
	metrics map[string]writer
}

type writer interface {
	write(w io.Writer, name string)
}

// New returns an empty registry.
func New() *Registry { return &Registry{metrics: map[string]writer{}} }

// Counter is a monotonically increasing count.
type Counter struct {
	help string
	v    atomic.Uint64
}

// Add increases the counter by n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Inc increases the counter by one.
func (c *Counter) Inc() { c.v.Add(1) }

// Value returns the count.
func (c *Counter) Value() uint64 { return c.v.Load() }

func (c *Counter) write(w io.Writer, name string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, c.help, name, name, c.v.Load())
}

// Counter registers and returns a counter.
func (r *Registry) Counter(name, help string) *Counter {
	c := &Counter{help: help}
	r.add(name, c)
	return c
}

type gaugeFunc struct {
	help string
	f    func() map[string]float64 // label value -> value; "" for no label
	lbl  string
}

func (g *gaugeFunc) write(w io.Writer, name string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n", name, g.help, name)
	vals := g.f()
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "" {
			fmt.Fprintf(w, "%s %g\n", name, vals[k])
		} else {
			fmt.Fprintf(w, "%s{%s=%q} %g\n", name, g.lbl, k, vals[k])
		}
	}
}

// GaugeFunc registers a gauge read at scrape time; f returns values by
// the value of label (use "" as the key for an unlabelled gauge).
func (r *Registry) GaugeFunc(name, help, label string, f func() map[string]float64) {
	r.add(name, &gaugeFunc{help: help, f: f, lbl: label})
}

// Histogram counts observations into cumulative buckets.
type Histogram struct {
	help    string
	mu      sync.Mutex
	bounds  []float64
	counts  []uint64
	sum     float64
	samples uint64
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, b := range h.bounds {
		if v <= b {
			h.counts[i]++
		}
	}
	h.sum += v
	h.samples++
}

func (h *Histogram) write(w io.Writer, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, h.help, name)
	for i, b := range h.bounds {
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", name, fmtBound(b), h.counts[i])
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", name, h.samples, name, h.sum, name, h.samples)
}

func fmtBound(b float64) string {
	if math.IsInf(b, 1) {
		return "+Inf"
	}
	return strings.TrimSuffix(fmt.Sprintf("%g", b), ".0")
}

// Histogram registers a histogram with the given upper bounds.
func (r *Registry) Histogram(name, help string, bounds []float64) *Histogram {
	h := &Histogram{help: help, bounds: bounds, counts: make([]uint64, len(bounds))}
	r.add(name, h)
	return h
}

func (r *Registry) add(name string, m writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.metrics[name]; dup {
		panic("metrics: duplicate " + name)
	}
	r.metrics[name] = m
}

// WriteText writes every metric, sorted by name.
func (r *Registry) WriteText(w io.Writer) {
	r.mu.Lock()
	names := make([]string, 0, len(r.metrics))
	for n := range r.metrics {
		names = append(names, n)
	}
	r.mu.Unlock()
	sort.Strings(names)
	for _, n := range names {
		r.mu.Lock()
		m := r.metrics[n]
		r.mu.Unlock()
		m.write(w, n)
	}
}

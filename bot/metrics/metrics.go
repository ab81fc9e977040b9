// Package metrics keeps Tocsin's counters, gauges and histograms on a
// github.com/prometheus/client_golang registry, with the Go runtime and
// process collectors that every Grafana dashboard expects
// (go_goroutines, process_resident_memory_bytes, ...), and serves them in
// the Prometheus exposition format for GET /metrics. The small API here is
// what the daemon uses; the registry underneath is the standard one.
package metrics

import (
	"io"
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// Registry holds named metrics.
type Registry struct {
	reg *prometheus.Registry
}

// New returns a registry with the Go and process collectors.
func New() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg}
}

// Counter is a monotonically increasing count.
type Counter struct{ c prometheus.Counter }

// Add increases the counter by n.
func (c *Counter) Add(n uint64) { c.c.Add(float64(n)) }

// Inc increases the counter by one.
func (c *Counter) Inc() { c.c.Inc() }

// Counter registers and returns a counter.
func (r *Registry) Counter(name, help string) *Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	r.reg.MustRegister(c)
	return &Counter{c}
}

// Gauge is a value that goes up and down.
type Gauge struct{ g prometheus.Gauge }

// Set sets the gauge.
func (g *Gauge) Set(v float64) { g.g.Set(v) }

// Gauge registers and returns a gauge.
func (r *Registry) Gauge(name, help string) *Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	r.reg.MustRegister(g)
	return &Gauge{g}
}

// Histogram counts observations into buckets.
type Histogram struct{ h prometheus.Histogram }

// Observe records one value.
func (h *Histogram) Observe(v float64) { h.h.Observe(v) }

// Histogram registers and returns a histogram with the given upper bounds.
func (r *Registry) Histogram(name, help string, buckets []float64) *Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	r.reg.MustRegister(h)
	return &Histogram{h}
}

// GaugeFunc registers a gauge computed at scrape time: f returns values by
// label value (label "" for a gauge without labels, then key "").
func (r *Registry) GaugeFunc(name, help, label string, f func() map[string]float64) {
	r.reg.MustRegister(&gaugeFunc{desc: prometheus.NewDesc(name, help, labels(label), nil), f: f, label: label})
}

func labels(l string) []string {
	if l == "" {
		return nil
	}
	return []string{l}
}

type gaugeFunc struct {
	desc  *prometheus.Desc
	f     func() map[string]float64
	label string
}

func (g *gaugeFunc) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *gaugeFunc) Collect(ch chan<- prometheus.Metric) {
	vals := g.f()
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if g.label == "" {
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, vals[k])
		} else {
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, vals[k], k)
		}
	}
}

// Handler serves the registry (content negotiation as promhttp does).
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}

// WriteText writes every metric in the text exposition format.
func (r *Registry) WriteText(w io.Writer) error {
	mfs, err := r.reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

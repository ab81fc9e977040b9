package metrics

import (
	"strings"
	"testing"
)

func TestTextFormat(t *testing.T) {
	r := New()
	c := r.Counter("x_total", "Things.")
	c.Add(3)
	h := r.Histogram("lat_seconds", "Latency.", []float64{0.1, 1})
	h.Observe(0.05)
	h.Observe(0.5)
	h.Observe(5)
	r.GaugeFunc("depth", "Depth.", "state", func() map[string]float64 { return map[string]float64{"sent": 2, "failed": 1} })
	r.Gauge("up", "Up.").Set(1)
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# TYPE depth gauge\ndepth{state=\"failed\"} 1\ndepth{state=\"sent\"} 2\n",
		"lat_seconds_bucket{le=\"0.1\"} 1\nlat_seconds_bucket{le=\"1\"} 2\nlat_seconds_bucket{le=\"+Inf\"} 3\nlat_seconds_sum 5.55\nlat_seconds_count 3\n",
		"# TYPE x_total counter\nx_total 3\n",
		"up 1\n",
		"go_goroutines ",                 // the Go collector
		"process_resident_memory_bytes ", // the process collector
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("exposition lacks %q:\n%s", want, b.String())
		}
	}
}

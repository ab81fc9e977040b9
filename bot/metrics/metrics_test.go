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
	var b strings.Builder
	r.WriteText(&b)
	want := `# HELP depth Depth.
# TYPE depth gauge
depth{state="failed"} 1
depth{state="sent"} 2
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.1"} 1
lat_seconds_bucket{le="1"} 2
lat_seconds_bucket{le="+Inf"} 3
lat_seconds_sum 5.55
lat_seconds_count 3
# HELP x_total Things.
# TYPE x_total counter
x_total 3
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

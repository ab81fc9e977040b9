package parsers

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/emersion/go-message"
)

func corpus(b *testing.B) [][]byte {
	files, _ := filepath.Glob("testdata/*.eml")
	more, _ := filepath.Glob(filepath.Join(samplesDir(), "sisimai", "*.eml"))
	var out [][]byte
	for _, f := range append(files, more...) {
		raw, _ := os.ReadFile(f)
		out = append(out, raw)
	}
	if len(out) == 0 {
		b.Fatal("empty corpus")
	}
	return out
}

func corpusBytes(c [][]byte) (n int64) {
	for _, m := range c {
		n += int64(len(m))
	}
	return n
}

// BenchmarkParseCorpus is Parse over every test message (MB/s, msgs/s).
func BenchmarkParseCorpus(b *testing.B) {
	c := corpus(b)
	b.SetBytes(corpusBytes(c))
	for b.Loop() {
		for _, raw := range c {
			Parse(raw, DefaultLimits)
		}
	}
	b.ReportMetric(float64(len(c)*b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkReadCorpusGoMessage is the ceiling: go-message reading every
// part of the same bytes, decoding bodies, doing nothing else.
func BenchmarkReadCorpusGoMessage(b *testing.B) {
	c := corpus(b)
	b.SetBytes(corpusBytes(c))
	for b.Loop() {
		for _, raw := range c {
			e, err := message.Read(bytes.NewReader(raw))
			if e == nil {
				continue
			}
			_ = err
			e.Walk(func(_ []int, p *message.Entity, _ error) error {
				if p.MultipartReader() == nil {
					io.Copy(io.Discard, p.Body)
				}
				return nil
			})
		}
	}
	b.ReportMetric(float64(len(c)*b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkParse50MBAttachment reports peak heap while parsing a message
// with a 50 MB attachment (kept up to the 25 MB default limit).
func BenchmarkParse50MBAttachment(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("From: a@example.org\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=dump.bin\r\n\r\n")
	line := bytes.Repeat([]byte("A"), 998)
	for buf.Len() < 50<<20 {
		buf.Write(line)
		buf.WriteString("\r\n")
	}
	buf.WriteString("--b--\r\n")
	raw := buf.Bytes()
	b.SetBytes(int64(len(raw)))
	var peak uint64
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		r, err := Parse(raw, DefaultLimits)
		if err != nil || len(r.Attachments) != 1 {
			b.Fatal(err)
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		peak = max(peak, after.TotalAlloc-before.TotalAlloc)
	}
	b.ReportMetric(float64(peak)/(1<<20), "alloc_MB/op")
}

package protomux

import (
	"bytes"
	"testing"

	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
)

// BenchmarkBatchPull measures taking the messages of a batch frame, one
// event at a time.
func BenchmarkBatchPull(b *testing.B) {
	m := New(Config{})
	m.Open(OpenOptions{Protocol: "p"})
	m.Receive(openFrame(1, "p", "", nil))
	for {
		_, ok, _ := m.NextEvent()
		if !ok {
			break
		}
	}
	const n = 1 << 16
	fr := append(hypercoretest.Unhex(b, "000001"), bytes.Repeat([]byte{1, 0}, n)...)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		m.Receive(fr)
		for {
			_, ok, _ := m.NextEvent()
			if !ok {
				break
			}
		}
		m.AppendOutput(nil)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
}

package secretstream

import (
	"fmt"
	"testing"
)

// BenchmarkStream: one direction over a TCP loopback pair, b.N messages
// written by one goroutine and read by another; "batch" writes 64 messages
// per WriteMessages call.
func BenchmarkStream(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("%dKiB/batch%d", size>>10, batch), func(b *testing.B) {
				ci, si := tcpPair(b, Config{}, Config{})
				msg := payload(size, 1)
				msgs := make([][]byte, batch)
				for i := range msgs {
					msgs[i] = msg
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				errc := make(chan error, 1)
				go func() {
					for sent := 0; sent < b.N; {
						k := min(batch, b.N-sent)
						if err := ci.WriteMessages(msgs[:k]...); err != nil {
							errc <- err
							return
						}
						sent += k
					}
					errc <- nil
				}()
				for i := 0; i < b.N; i++ {
					m, err := si.ReadMessage()
					if err != nil {
						b.Fatal(err)
					}
					if len(m) != size {
						b.Fatalf("got %d bytes", len(m))
					}
				}
				if err := <-errc; err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkSeal and BenchmarkOpen: the secretstream cipher alone, in place.
func BenchmarkSeal(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			key, header := testKeyHeader()
			enc := newEncryptor(key, header)
			region := make([]byte, scratch+size+16)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				enc.sealInPlace(region)
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			key, header := testKeyHeader()
			enc := newEncryptor(key, header)
			const n = 64
			wires := make([][]byte, n)
			for i := range wires {
				wires[i] = enc.seal(nil, payload(size, byte(i)))
			}
			region := make([]byte, scratch-1+size+Overhead)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			var dec *decryptor
			for i := 0; i < b.N; i++ {
				if i%n == 0 {
					dec = newDecryptor(key, header) // replay the same n messages
				}
				copy(region[scratch-1:], wires[i%n])
				if _, _, err := dec.openInPlace(region); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHandshake: a full Client/Server handshake over TCP loopback.
func BenchmarkHandshake(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a, c := tcpConns(b)
		ci, si := handshakePair(b, a, c, Config{Static: seedKey(1)}, Config{Static: seedKey(2)})
		ci.Close()
		si.Close()
	}
}

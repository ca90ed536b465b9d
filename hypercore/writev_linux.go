package hypercore

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// writeBlocksAt writes blocks back to back into f at offset at, with one
// pwritev(2) per up to 1024 blocks (no copy into a staging buffer).
func writeBlocksAt(f *os.File, blocks [][]byte, at int64) error {
	fd := int(f.Fd())
	for len(blocks) > 0 {
		n := min(len(blocks), 1024)
		iov := blocks[:n]
		want := totalLen(iov)
		done := 0
		for done < want {
			w, err := unix.Pwritev(fd, iov, at+int64(done))
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return err
			}
			if w == 0 {
				return io.ErrShortWrite
			}
			done += w
			iov = skipBytes(iov, w)
		}
		at += int64(want)
		blocks = blocks[n:]
	}
	return nil
}

// skipBytes drops the first n bytes of a list of buffers.
func skipBytes(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n < len(bufs[0]) {
			return append([][]byte{bufs[0][n:]}, bufs[1:]...)
		}
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	return bufs
}

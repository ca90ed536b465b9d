//go:build !linux

package hypercore

import "os"

// writeBlocksAt writes blocks back to back into f at offset at. Without a
// portable pwritev it uses writeBlocksStaged.
func writeBlocksAt(f *os.File, blocks [][]byte, at int64) error {
	return writeBlocksStaged(f, blocks, at)
}

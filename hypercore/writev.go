package hypercore

import "os"

// stageSize bounds the copy writeBlocksStaged makes of small blocks.
const stageSize = 256 << 10

// writeBlocksStaged writes blocks back to back into f at offset at, the
// portable way: runs of small blocks are copied into one buffer of up to
// 256 KiB and written with one positioned write (os.File.WriteAt: pwrite(2)
// on Unix, WriteFile with an offset on Windows); a block that large on its
// own is written from where it is. Linux uses pwritev instead
// (writev_linux.go); the tests run both.
func writeBlocksStaged(f *os.File, blocks [][]byte, at int64) error {
	var stage []byte
	flush := func() error {
		if len(stage) == 0 {
			return nil
		}
		_, err := f.WriteAt(stage, at)
		at += int64(len(stage))
		stage = stage[:0]
		return err
	}
	for _, b := range blocks {
		if len(b) >= stageSize {
			if err := flush(); err != nil {
				return err
			}
			if _, err := f.WriteAt(b, at); err != nil {
				return err
			}
			at += int64(len(b))
			continue
		}
		if len(stage)+len(b) > stageSize {
			if err := flush(); err != nil {
				return err
			}
		}
		if stage == nil {
			stage = make([]byte, 0, stageSize)
		}
		stage = append(stage, b...)
	}
	return flush()
}

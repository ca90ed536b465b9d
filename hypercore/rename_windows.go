package hypercore

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// rename moves oldpath to newpath, replacing a file there. os.Rename is
// MoveFileEx with MOVEFILE_REPLACE_EXISTING, which fails while another
// program (a virus scanner, a search indexer, a backup tool) has either
// file open without sharing deletion; such holds are short, so the rename
// is retried for up to about two seconds before the error is returned.
func rename(oldpath, newpath string) error {
	return retryShared(func() error { return os.Rename(oldpath, newpath) })
}

// retryShared runs op until it succeeds, fails for a reason other than a
// sharing violation, or about two seconds have passed.
func retryShared(op func() error) error {
	wait := time.Millisecond
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := op()
		if err == nil || !isSharingViolation(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
		wait = min(2*wait, 100*time.Millisecond)
	}
}

func isSharingViolation(err error) bool {
	return errors.Is(err, windows.ERROR_SHARING_VIOLATION) ||
		errors.Is(err, windows.ERROR_ACCESS_DENIED) ||
		errors.Is(err, windows.ERROR_LOCK_VIOLATION)
}

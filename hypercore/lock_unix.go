//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package hypercore

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// tryLock takes an exclusive flock(2) on f without waiting; errLockBusy
// when another open file holds it. A flock belongs to the open file, not
// the process, so a second Open in the same process is refused too, as on
// Windows.
func tryLock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return errLockBusy
		default:
			return err
		}
	}
}

// unlock releases the lock before f is closed (closing releases it too).
func unlock(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}

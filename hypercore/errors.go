package hypercore

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is; messages carry the
// details.
var (
	// ErrBadInput: an argument is malformed (bad seed, bad index, ...).
	ErrBadInput = errors.New("hypercore: bad input")
	// ErrNotCore: the directory does not hold a core.
	ErrNotCore = errors.New("not a hypercore directory")
	// ErrCorrupt: stored bytes fail their hash or checksum.
	ErrCorrupt = errors.New("hypercore: corrupt core")
	// ErrReadOnly: the core was opened without its secret key, or read-only.
	ErrReadOnly = errors.New("hypercore: core is read-only")
	// ErrLocked: another process holds the core open for writing.
	ErrLocked = errors.New("hypercore: core is locked by another writer")
	// ErrInvalidSignature: a head signature does not verify.
	ErrInvalidSignature = errors.New("hypercore: invalid signature")
	// ErrInvalidProof: a proof does not verify or is malformed.
	ErrInvalidProof = errors.New("hypercore: invalid proof")
	// ErrOutOfRange: a block or node beyond the core's length.
	ErrOutOfRange = errors.New("hypercore: out of range")
	// ErrNotAvailable: a replica does not hold that block (yet).
	ErrNotAvailable = errors.New("hypercore: block not downloaded")
	// ErrForked: the remote truncated its core (a new fork) after this
	// replica stored blocks of the old one.
	ErrForked = errors.New("hypercore: core was truncated by its writer (fork changed)")
	// ErrBadManifest: a manifest cannot be decoded or is not supported.
	ErrBadManifest = errors.New("hypercore: bad manifest")
	// ErrClosed: the core was closed.
	ErrClosed = errors.New("hypercore: core is closed")
)

// errorf wraps a sentinel with a formatted message.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), sentinel)
}

// CorruptError names the first bad piece of a core found by a check.
type CorruptError struct {
	File   string // "data", "tree", "head", "header", "secret"
	Block  int64  // the bad block, or -1
	Node   int64  // the bad tree node (flat index), or -1
	Reason string
}

func (e *CorruptError) Error() string {
	switch {
	case e.Block >= 0:
		return fmt.Sprintf("corrupt core: block %d (%s): %s", e.Block, e.File, e.Reason)
	case e.Node >= 0:
		return fmt.Sprintf("corrupt core: tree node %d (%s): %s", e.Node, e.File, e.Reason)
	default:
		return fmt.Sprintf("corrupt core: %s: %s", e.File, e.Reason)
	}
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

func corruptBlock(file string, block uint64, reason string) error {
	return &CorruptError{File: file, Block: int64(block), Node: -1, Reason: reason}
}

func corruptNode(file string, node uint64, reason string) error {
	return &CorruptError{File: file, Block: -1, Node: int64(node), Reason: reason}
}

func corruptFile(file, reason string) error {
	return &CorruptError{File: file, Block: -1, Node: -1, Reason: reason}
}

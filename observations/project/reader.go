package project

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/record"
)

// ErrMissing: the bytes are not on this device (the media core, or the
// blocks of an attachment, have not been synced here).
var ErrMissing = errors.New("not on this device")

// Reader opens the project's cores read-only as they are needed and keeps
// them open (an export reads thousands of attachments and proofs).
type Reader struct {
	p     *Project
	cores map[[32]byte]*hypercore.Core
}

// NewReader returns a Reader; Close it.
func (p *Project) NewReader() *Reader { return &Reader{p: p, cores: map[[32]byte]*hypercore.Core{}} }

// Core is the core with key, open read-only.
func (r *Reader) Core(key [32]byte) (*hypercore.Core, error) {
	if c := r.cores[key]; c != nil {
		return c, nil
	}
	dir := r.p.coreDir(key)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("core %x: %w", key[:4], ErrMissing)
	}
	c, err := hypercore.Open(dir, hypercore.OpenOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	r.cores[key] = c
	return c, nil
}

// Attachment returns an attachment's bytes, checked against its size and
// SHA-256; ErrMissing if they are not (all) here.
func (r *Reader) Attachment(a record.Attachment) ([]byte, error) {
	kb, err := hex.DecodeString(a.Core)
	if err != nil || len(kb) != 32 {
		return nil, fmt.Errorf("attachment %q: bad core key", a.Name)
	}
	c, err := r.Core([32]byte(kb))
	if err != nil {
		return nil, fmt.Errorf("attachment %q: %w", a.Name, err)
	}
	if c.Contiguous() < a.Start+a.Blocks {
		return nil, fmt.Errorf("attachment %q: %d of its blocks are here: %w", a.Name, max(int64(c.Contiguous())-int64(a.Start), 0), ErrMissing)
	}
	var buf bytes.Buffer
	buf.Grow(int(a.Size))
	for i := a.Start; i < a.Start+a.Blocks; i++ {
		b, err := c.Get(i)
		if err != nil {
			return nil, fmt.Errorf("attachment %q: block %d: %w", a.Name, i, err)
		}
		buf.Write(b)
	}
	sum := sha256.Sum256(buf.Bytes())
	if uint64(buf.Len()) != a.Size || hex.EncodeToString(sum[:]) != a.SHA256 {
		return nil, fmt.Errorf("attachment %q: the stored bytes do not match its SHA-256", a.Name)
	}
	return buf.Bytes(), nil
}

// Close closes every core opened.
func (r *Reader) Close() {
	for _, c := range r.cores {
		c.Close()
	}
	clear(r.cores)
}

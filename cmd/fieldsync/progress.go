package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress draws a one-line progress bar on a terminal; elsewhere it is
// silent, so logs and pipes stay clean.
type progress struct {
	w      io.Writer
	label  string
	total  uint64
	on     bool
	mu     sync.Mutex
	last   time.Time
	shown  bool
	suffix string // shown after the counts (sync: bytes moved)
}

func newProgress(w io.Writer, label string, total uint64) *progress {
	return &progress{w: w, label: label, total: total, on: isTerminal(w) && total > 0}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(done, total uint64) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); now.Sub(p.last) > 100*time.Millisecond || done == total {
		p.last, p.shown = now, true
		const width = 30
		filled := int(done * width / max(total, 1))
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = ' '
			if i < filled {
				bar[i] = '#'
			}
		}
		fmt.Fprintf(p.w, "\r%s [%s] %d/%d%s", p.label, bar, done, total, p.suffix)
	}
}

// setSuffix changes what follows the counts.
func (p *progress) setSuffix(s string) {
	p.mu.Lock()
	p.suffix = s
	p.mu.Unlock()
}

func (p *progress) done() {
	if p.on && p.shown {
		fmt.Fprint(p.w, "\n")
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// A tiny Chrome DevTools Protocol client over --remote-debugging-pipe
// (JSON messages ending in NUL on file descriptors 3 and 4): enough to
// open a page, watch its requests, evaluate scripts, click and take a
// screenshot, with the standard library only.

type cdpMessage struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

type browser struct {
	t          testing.TB
	lastTarget string
	cmd        *exec.Cmd
	w          *os.File
	mu         sync.Mutex
	next       int64
	waiting    map[int64]chan cdpMessage
	events     func(cdpMessage)
	done       chan struct{} // closed when the reader ends
	stderr     bytes.Buffer
}

// chromiumPath finds Debian's chromium; without it the test is skipped,
// loudly, and fails under CI=true.
func chromiumPath(t testing.TB) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "SKIPPING the browser test: no chromium on PATH (apt-get install chromium; .ci/run does)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startBrowser runs headless Chromium that can resolve nothing but
// 127.0.0.1, with events delivered to onEvent (on the reader goroutine).
func startBrowser(t testing.TB, onEvent func(cdpMessage)) *browser {
	path := chromiumPath(t)
	toChrome, chromeIn, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	chromeOut, fromChrome, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, w: chromeIn, waiting: map[int64]chan cdpMessage{}, events: onEvent, done: make(chan struct{})}
	b.cmd = exec.Command(path, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
		"--user-data-dir="+filepath.Join(t.TempDir(), "profile"), "--no-first-run", "--no-default-browser-check",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--window-size=1280,800", "about:blank")
	b.cmd.ExtraFiles = []*os.File{toChrome, fromChrome} // fds 3 and 4
	b.cmd.Stderr = &b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toChrome.Close()
	fromChrome.Close()
	go b.read(chromeOut)
	t.Cleanup(func() {
		b.call("", "Browser.close", nil)
		chromeIn.Close()
		ch := make(chan error, 1)
		go func() { ch <- b.cmd.Wait() }()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			b.cmd.Process.Kill()
			<-ch
		}
		<-b.done
	})
	return b
}

func (b *browser) read(r *os.File) {
	defer close(b.done)
	defer r.Close()
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			for id, ch := range b.waiting {
				close(ch)
				delete(b.waiting, id)
			}
			b.mu.Unlock()
			return
		}
		var m cdpMessage
		if json.Unmarshal(line[:len(line)-1], &m) != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		if b.events != nil {
			b.events(m)
		}
	}
}

// call sends a command (to a session, or the browser when session is "")
// and decodes its result into out.
func (b *browser) call(session, method string, params any, out ...any) error {
	b.mu.Lock()
	b.next++
	id := b.next
	ch := make(chan cdpMessage, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	p, _ := json.Marshal(params)
	if params == nil {
		p = []byte("{}")
	}
	msg, _ := json.Marshal(cdpMessage{ID: id, Method: method, Params: p, SessionID: session})
	if _, err := b.w.Write(append(msg, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	select {
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: the browser closed: %s", method, b.stderr.String())
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if len(out) > 0 {
			return json.Unmarshal(m.Result, out[0])
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: no answer from the browser in 60 s", method)
	}
}

// page opens a tab and returns its session.
func (b *browser) page() string {
	b.t.Helper()
	var tg struct{ TargetID string }
	if err := b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &tg); err != nil {
		b.t.Fatal(err)
	}
	b.lastTarget = tg.TargetID
	var at struct{ SessionID string }
	if err := b.call("", "Target.attachToTarget", map[string]any{"targetId": tg.TargetID, "flatten": true}, &at); err != nil {
		b.t.Fatal(err)
	}
	return at.SessionID
}

// eval evaluates a JavaScript expression in the page and decodes its
// (JSON-serialisable) value into out.
func (b *browser) eval(session, expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := b.call(session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res); err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return fmt.Errorf("%s: %s %s", expr, res.ExceptionDetails.Text, res.ExceptionDetails.Exception.Description)
	}
	if out == nil || len(res.Result.Value) == 0 {
		return nil
	}
	return json.Unmarshal(res.Result.Value, out)
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run fieldsync as separate processes, as teammates would:
// each device is a home directory, serve and sync talk over loopback TCP.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// fieldsyncBinary builds cmd/fieldsync once per test run.
func fieldsyncBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fieldsync-e2e-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "fieldsync")
		out, err := exec.Command("go", "build", "-buildvcs=false", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// dev is one device: a fieldsync home.
type dev struct {
	t    *testing.T
	home string
}

// cli runs fieldsync for the device and returns exit code and outputs.
func (d *dev) cli(args ...string) (int, string, string) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fieldsyncBinary(d.t), append([]string{"--home", d.home}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func (d *dev) must(args ...string) string {
	d.t.Helper()
	code, out, errs := d.cli(args...)
	if code != 0 {
		d.t.Fatalf("fieldsync %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

// newTeam makes a project on the first device and joins the others.
func newTeam(t *testing.T, names ...string) []*dev {
	t.Helper()
	root := t.TempDir()
	var devs []*dev
	var code string
	for i, n := range names {
		d := &dev{t: t, home: filepath.Join(root, n)}
		if i == 0 {
			d.must("init", "river", "--device-name", n)
			var inv struct{ Code string }
			json.Unmarshal([]byte(d.must("invite", "--json")), &inv)
			code = inv.Code
		} else {
			d.must("join", code, "--device-name", n)
		}
		devs = append(devs, d)
	}
	return devs
}

// serving is a running `fieldsync serve`.
type serving struct {
	cmd  *exec.Cmd
	port int
	errb *bytes.Buffer
}

func (d *dev) serve(extra ...string) *serving {
	d.t.Helper()
	args := append([]string{"--home", d.home, "serve", "--listen", "127.0.0.1:0", "--no-mdns"}, extra...)
	cmd := exec.Command(fieldsyncBinary(d.t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		d.t.Fatal(err)
	}
	errb := &bytes.Buffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	s := &serving{cmd: cmd, errb: errb}
	d.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		d.t.Fatalf("serve did not start: %v: %s", err, errb)
	}
	var ready struct{ Port int }
	if err := json.Unmarshal([]byte(line), &ready); err != nil || ready.Port == 0 {
		d.t.Fatalf("serve ready line %q: %v", line, err)
	}
	s.port = ready.Port
	return s
}

func (s *serving) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// stop sends SIGTERM and checks serve ends cleanly within 5 s.
func (s *serving) stop(t *testing.T) {
	t.Helper()
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM: %s", err, s.errb)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("serve still running 5 s after SIGTERM: %s", s.errb)
	}
	t.Logf("serve stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
}

// summary runs sync --json and returns its summary event and exit code.
func (d *dev) sync(args ...string) (int, map[string]any, string) {
	d.t.Helper()
	code, out, errs := d.cli(append([]string{"sync", "--no-mdns", "--json"}, args...)...)
	var sum map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) == nil && ev["event"] == "summary" {
			sum = ev
		}
	}
	if sum == nil {
		d.t.Fatalf("sync printed no summary (exit %d): %s\n%s", code, out, errs)
	}
	return code, sum, errs
}

func (d *dev) ids() []string {
	d.t.Helper()
	var items []struct {
		Record struct{ ID string }
	}
	if err := json.Unmarshal([]byte(d.must("list", "--format", "json")), &items); err != nil {
		d.t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		out = append(out, it.Record.ID)
	}
	return out
}

// features writes n GeoJSON features to a file.
func features(t *testing.T, n int, tag string) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"type":"Feature","geometry":{"type":"Point","coordinates":[%.5f,%.5f]},"properties":{"by":%q,"i":%d}}`+"\n", -60-float64(i)/1000, -3+float64(i)/2000, tag, i)
	}
	path := filepath.Join(t.TempDir(), tag+".geojsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// photos writes n random "photos" of size bytes.
func photos(t *testing.T, n, size int) []string {
	t.Helper()
	dir := t.TempDir()
	var out []string
	for i := range n {
		b := make([]byte, size)
		rand.Read(b)
		copy(b, []byte{0xff, 0xd8, 0xff, 0xe0})
		p := filepath.Join(dir, fmt.Sprintf("photo%02d.jpg", i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func num(v any) float64 { f, _ := v.(float64); return f }

// TestSyncTwoThenThreeDevices: A and B sync both ways (1,000 observations
// and 20 photos), then B and C: C ends with A's data and photos although
// it never met A.
func TestSyncTwoThenThreeDevices(t *testing.T) {
	team := newTeam(t, "alice", "bob", "carla")
	a, b, c := team[0], team[1], team[2]
	a.must("import", features(t, 990, "alice"))
	var photoIDs []string
	for i, p := range photos(t, 20, 30000) {
		who := a
		if i%2 == 1 {
			who = b
		}
		photoIDs = append(photoIDs, strings.TrimSpace(who.must("observe", "--lat", "-3", "--lon", fmt.Sprint(-60-float64(i)/100), "--attach", p)))
	}
	b.must("import", features(t, 10, "bob"))
	srv := a.serve()
	code, sum, errs := b.sync("--peer", srv.addr())
	if code != 0 || sum["complete"] != true {
		t.Fatalf("b sync: exit %d %v %s", code, sum, errs)
	}
	if got := len(b.ids()); got != 1020 {
		t.Fatalf("b lists %d observations, want 1,020", got)
	}
	// A's serve indexed what B sent at once.
	waitFor(t, 10*time.Second, 100*time.Millisecond, func() bool { return len(a.ids()) == 1020 }, "a to list 1,020 observations while serving")
	if st := a.must("status"); !strings.Contains(st, "serve") {
		t.Fatalf("status while serving does not mention it:\n%s", st)
	}
	srv.stop(t)
	// C never met A.
	srvB := b.serve()
	if code, sum, errs := c.sync("--peer", srvB.addr()); code != 0 || sum["complete"] != true {
		t.Fatalf("c sync: exit %d %v %s", code, sum, errs)
	}
	if got := len(c.ids()); got != 1020 {
		t.Fatalf("c lists %d observations, want 1,020", got)
	}
	out := filepath.Join(t.TempDir(), "got.jpg")
	c.must("media", "get", photoIDs[0], "photo00.jpg", "-o", out)
	// Nothing left: a second sync moves nothing.
	_, sum, _ = c.sync("--peer", srvB.addr())
	if num(sum["bytesDownloaded"]) != 0 || num(sum["newObservations"]) != 0 {
		t.Fatalf("second sync moved data: %v", sum)
	}
	srvB.stop(t)
}

// TestSyncResumesAfterKill: a sync killed mid-way, run again, fetches
// only what it did not hold.
func TestSyncResumesAfterKill(t *testing.T) {
	team := newTeam(t, "alice", "bob")
	a, b := team[0], team[1]
	for _, p := range photos(t, 40, 1<<20) {
		a.must("observe", "--lat", "-3", "--lon", "-60", "--attach", p)
	}
	srv := a.serve()
	cmd := exec.Command(fieldsyncBinary(t), "--home", b.home, "sync", "--no-mdns", "--peer", srv.addr())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once some media has landed.
	cores := filepath.Join(b.home, "projects", "river", "cores")
	waitFor(t, 30*time.Second, 5*time.Millisecond, func() bool { return dirSize(cores) >= 24<<20 }, "24 MB to arrive")
	cmd.Process.Kill()
	cmd.Wait()
	// What the replica holds for sure: its verified, contiguous blocks
	// (data written after the last head update is fetched again).
	var st struct {
		Cores []struct {
			Own        string
			Length     int
			Contiguous int
		}
	}
	json.Unmarshal([]byte(b.must("status", "--json")), &st)
	held := 0
	for _, c := range st.Cores {
		if c.Own == "" && c.Length == 640 { // A's media: 40 photos of 16 blocks
			held += c.Contiguous * 65536
		}
	}
	if held == 0 {
		t.Fatal("the killed sync left no verified media")
	}
	code, sum, errs := b.sync("--peer", srv.addr())
	if code != 0 {
		t.Fatalf("second sync: exit %d %s", code, errs)
	}
	total := 40 << 20
	got := int(num(sum["bytesDownloaded"]))
	t.Logf("held %d MB after the kill; the second sync fetched %d MB of %d", held>>20, got>>20, total>>20)
	if got >= total || got == 0 {
		t.Fatalf("second sync fetched %d bytes of %d: not a resume", got, total)
	}
	if got > total-held+(1<<20) {
		t.Fatalf("second sync fetched %d bytes although %d of %d were held", got, held, total)
	}
	if n := len(b.ids()); n != 40 {
		t.Fatalf("b lists %d", n)
	}
	srv.stop(t)
}

func dirSize(dir string) int {
	n := 0
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.HasSuffix(fi.Name(), "data") {
			n += int(fi.Size())
		}
		return nil
	})
	return n
}

// TestSyncWithStrangerAndNobody: a device of another project stores
// nothing and learns no core; nobody at the address is exit 3.
func TestSyncWithStrangerAndNobody(t *testing.T) {
	team := newTeam(t, "alice")
	other := newTeam(t, "xavier")
	a, x := team[0], other[0]
	a.must("import", features(t, 20, "alice"))
	before := x.must("status", "--json")
	srv := x.serve()
	code, sum, errs := a.sync("--peer", srv.addr(), "--timeout", "5s")
	if code != exitNoPeer {
		t.Fatalf("sync with a stranger: exit %d (%v) %s", code, sum, errs)
	}
	if num(sum["strangers"]) < 1 {
		t.Fatalf("summary %v", sum)
	}
	srv.stop(t)
	var b1, b2 struct{ Cores []struct{ Key string } }
	json.Unmarshal([]byte(before), &b1)
	json.Unmarshal([]byte(x.must("status", "--json")), &b2)
	if len(b1.Cores) != len(b2.Cores) {
		t.Fatalf("the stranger holds %d cores, had %d", len(b2.Cores), len(b1.Cores))
	}
	code, _, errs = a.cli("sync", "--no-mdns", "--peer", srv.addr(), "--timeout", "2s")
	if code != exitNoPeer || !strings.Contains(errs, "no peer") {
		t.Fatalf("sync with nobody: exit %d: %s", code, errs)
	}
	if code, _, errs := a.cli("sync", "--no-mdns"); code != exitUsage || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("sync --no-mdns without --peer: exit %d: %q", code, errs)
	}
}

// TestSyncIncompleteAtTimeout: a sync cut short by --timeout exits 4 and
// names the cores still behind; the next sync finishes the job.
func TestSyncIncompleteAtTimeout(t *testing.T) {
	team := newTeam(t, "alice", "bob")
	a, b := team[0], team[1]
	args := []string{"observe", "--lat", "-3", "--lon", "-60"}
	for _, p := range photos(t, 6, 20<<20) {
		args = append(args, "--attach", p)
	}
	a.must(args...)
	srv := a.serve()
	code, sum, errs := b.sync("--peer", srv.addr(), "--timeout", "150ms")
	if code != exitIncomplete {
		t.Fatalf("exit %d, want %d (incomplete): %v %s", code, exitIncomplete, sum, errs)
	}
	if !strings.Contains(errs, "incomplete") || !strings.Contains(errs, "here,") {
		t.Fatalf("the error does not say which cores are behind: %s", errs)
	}
	if code, sum, errs := b.sync("--peer", srv.addr()); code != 0 || sum["complete"] != true {
		t.Fatalf("second sync: exit %d %v %s", code, sum, errs)
	}
	srv.stop(t)
}

// TestSyncPeerGoneMidway: the peer stops (SIGTERM, then SIGKILL) during a
// sync: the sync does not claim to be complete.
func TestSyncPeerGoneMidway(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			team := newTeam(t, "alice", "bob")
			a, b := team[0], team[1]
			args := []string{"observe", "--lat", "-3", "--lon", "-60"}
			for _, p := range photos(t, 6, 20<<20) {
				args = append(args, "--attach", p)
			}
			a.must(args...)
			srv := a.serve()
			cmd := exec.Command(fieldsyncBinary(t), "--home", b.home, "sync", "--no-mdns", "--peer", srv.addr(), "--timeout", "5s", "--json")
			var out bytes.Buffer
			cmd.Stdout = &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cores := filepath.Join(b.home, "projects", "river", "cores")
			waitFor(t, 30*time.Second, 2*time.Millisecond, func() bool { return dirSize(cores) >= 4<<20 }, "4 MB to arrive")
			srv.cmd.Process.Signal(sig)
			srv.cmd.Wait()
			err := cmd.Wait()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != exitIncomplete {
				t.Fatalf("sync after its peer went away: %v\n%s", err, out.String())
			}
			if testing.Verbose() {
				t.Logf("%s", out.String())
			}
		})
	}
}

// TestServeRedialsNamedPeer: a base station told about a peer that is not
// up yet keeps dialling it (with backoff) and syncs once it comes up, and
// again after it restarts.
func TestServeRedialsNamedPeer(t *testing.T) {
	team := newTeam(t, "base", "field")
	base, field := team[0], team[1]
	field.must("import", features(t, 12, "field"))
	// A free port for the field device, not listening yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := base.serve("--peer", addr)
	time.Sleep(1500 * time.Millisecond) // a dial or two fail meanwhile
	up := func() *serving {
		s := &dev{t: t, home: field.home}
		return s.serveAt(addr)
	}
	f := up()
	waitFor(t, 20*time.Second, 100*time.Millisecond, func() bool { return len(base.ids()) == 12 }, "the base station to get the field device's data")
	f.stop(t)
	field.must("import", features(t, 3, "later"))
	f = up()
	waitFor(t, 40*time.Second, 100*time.Millisecond, func() bool { return len(base.ids()) == 15 }, "the base station to redial after the restart")
	f.stop(t)
	srv.stop(t)
}

// serveAt is serve on a given address.
func (d *dev) serveAt(addr string) *serving {
	d.t.Helper()
	cmd := exec.Command(fieldsyncBinary(d.t), "--home", d.home, "serve", "--listen", addr, "--no-mdns")
	stdout, _ := cmd.StdoutPipe()
	errb := &bytes.Buffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		d.t.Fatalf("serve did not start: %v: %s", err, errb)
	}
	return &serving{cmd: cmd, errb: errb}
}

// waitFor polls ok every `every` until it holds, for at most d.
func waitFor(t *testing.T, d, every time.Duration, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(every)
	}
}

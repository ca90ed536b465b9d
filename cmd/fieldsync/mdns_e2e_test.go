package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// netns is a network namespace made for one test.
type netns struct {
	t    *testing.T
	name string
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// lanOf makes n namespaces joined by a bridge (in a namespace of its own)
// with addresses 10.99.0.1.. on their veth ends; it skips the test, loudly,
// where namespaces cannot be made (not root, no `ip`).
func lanOf(t *testing.T, n int) []*netns {
	t.Helper()
	var b [3]byte
	rand.Read(b[:])
	tag := hex.EncodeToString(b[:])
	br := &netns{t, "fsbr-" + tag}
	if err := ipCmd("netns", "add", br.name); err != nil {
		t.Skipf("\n*** mDNS TEST SKIPPED: cannot make network namespaces here (needs root and iproute2): %v ***", err)
	}
	t.Cleanup(func() { ipCmd("netns", "del", br.name) })
	must := func(args ...string) {
		t.Helper()
		if err := ipCmd(args...); err != nil {
			t.Fatal(err)
		}
	}
	must("-n", br.name, "link", "add", "br0", "type", "bridge")
	must("-n", br.name, "link", "set", "br0", "up")
	var out []*netns
	for i := range n {
		ns := &netns{t, fmt.Sprintf("fs%d-%s", i, tag)}
		must("netns", "add", ns.name)
		t.Cleanup(func() { ipCmd("netns", "del", ns.name) })
		host, peer := fmt.Sprintf("v%d%s", i, tag), fmt.Sprintf("b%d%s", i, tag)
		must("link", "add", host, "netns", ns.name, "type", "veth", "peer", "name", peer, "netns", br.name)
		must("-n", br.name, "link", "set", peer, "master", "br0")
		must("-n", br.name, "link", "set", peer, "up")
		must("-n", ns.name, "addr", "add", fmt.Sprintf("10.99.0.%d/24", i+1), "dev", host)
		must("-n", ns.name, "link", "set", host, "up")
		must("-n", ns.name, "link", "set", "lo", "up")
		out = append(out, ns)
	}
	return out
}

// in runs fieldsync for device d inside the namespace.
func (ns *netns) cmd(d *dev, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.name, fieldsyncBinary(ns.t), "--home", d.home}, args...)...)
}

// TestMDNSFindsTeammates: three devices on one (namespaced) LAN, no
// --peer anywhere: a base station serves, two others sync and find it (and
// each other) over mDNS; all end with the same observations.
func TestMDNSFindsTeammates(t *testing.T) {
	lan := lanOf(t, 3)
	team := newTeam(t, "base", "ana", "bea")
	base, ana, bea := team[0], team[1], team[2]
	base.must("import", features(t, 30, "base"))
	ana.must("import", features(t, 20, "ana"))
	bea.must("import", features(t, 10, "bea"))
	srv := lan[0].cmd(base, "serve", "--listen", "0.0.0.0:0", "--log-format", "json")
	stdout, _ := srv.StdoutPipe()
	var srvErr bytes.Buffer
	srv.Stderr = &srvErr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatalf("serve did not start: %v: %s", err, srvErr.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type res struct {
		who string
		out []byte
		err error
	}
	results := make(chan res, 2)
	for i, d := range []*dev{ana, bea} {
		c := lan[i+1].cmd(d, "sync", "--timeout", "30s", "--json")
		go func() {
			start := time.Now()
			out, err := c.CombinedOutput()
			t.Logf("sync in %s took %v", lan[i+1].name, time.Since(start).Round(time.Millisecond))
			results <- res{d.home, out, err}
		}()
	}
	for range 2 {
		select {
		case r := <-results:
			if r.err != nil {
				t.Fatalf("sync %s: %v\n%s\nserve log:\n%s", r.who, r.err, r.out, srvErr.String())
			}
			var found bool
			for _, line := range strings.Split(string(r.out), "\n") {
				var ev map[string]any
				if json.Unmarshal([]byte(line), &ev) == nil && ev["event"] == "summary" {
					found = ev["complete"] == true
				}
			}
			if !found {
				t.Fatalf("sync %s did not complete:\n%s", r.who, r.out)
			}
		case <-ctx.Done():
			t.Fatal("timed out")
		}
	}
	// The second sync may have missed the first one's data: one more
	// round settles it, still with mDNS alone.
	for i, d := range []*dev{ana, bea} {
		if out, err := lan[i+1].cmd(d, "sync", "--timeout", "30s").CombinedOutput(); err != nil {
			t.Fatalf("second sync: %v\n%s", err, out)
		}
	}
	for _, d := range team {
		if n := len(d.ids()); n != 60 {
			t.Fatalf("%s lists %d observations, want 60", d.home, n)
		}
	}
}

package interop

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/dht"
	"github.com/fieldsync/fieldsync/dht/dhttest"
)

// TestJSDHTFindsFieldsync: a JS Mainline DHT node (npm bittorrent-dht) on
// the same private DHT as `fieldsync serve --dht` finds the fieldsync peer
// under the project's topic: the wire format is the standard one.
func TestJSDHTFindsFieldsync(t *testing.T) {
	e := needJS(t)
	boot := strings.Join(dhttest.Network(t, 5), ",")
	home := filepath.Join(t.TempDir(), "h")
	if out, err := exec.Command(fieldsyncBin, "--home", home, "init", "river").CombinedOutput(); err != nil {
		t.Fatalf("init: %v %s", err, out)
	}
	var st struct{ DiscoveryKey string }
	out, err := exec.Command(fieldsyncBin, "--home", home, "status", "--json").Output()
	if err != nil || json.Unmarshal(out, &st) != nil {
		t.Fatalf("status: %v %s", err, out)
	}
	dkb, _ := hex.DecodeString(st.DiscoveryKey)
	topic := dht.Topic([32]byte(dkb))

	srv := exec.Command(fieldsyncBin, "--home", home, "serve", "--listen", "127.0.0.1:0", "--no-mdns",
		"--dht", "--dht-bootstrap", boot, "--dht-listen", "127.0.0.1:0")
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	var ready struct{ Port int }
	json.Unmarshal([]byte(line), &ready)
	want := fmt.Sprintf("127.0.0.1:%d", ready.Port)

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	start := time.Now()
	look := exec.CommandContext(ctx, e.node, filepath.Join(e.scriptDir, "dht.mjs"), "lookup", hex.EncodeToString(topic[:]), boot, want, "30000")
	look.Dir = e.scriptDir
	res, err := look.CombinedOutput()
	if err != nil {
		t.Fatalf("the JS DHT node did not find %s: %v\n%s", want, err, res)
	}
	t.Logf("bittorrent-dht found fieldsync at %s after %v: %s", want, time.Since(start).Round(time.Millisecond), strings.TrimSpace(string(res)))
}

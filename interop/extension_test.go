package interop

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/replicate"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
)

// TestExtensionWithJS: Go sends an extension message on a core's channel
// to JS hypercore 11.39.5 (core.registerExtension), which prints it and
// sends it back with "echo:" in front; Go receives the echo through
// CoreConfig.OnExtension.
func TestExtensionWithJS(t *testing.T) {
	e := needJS(t)
	seed := bytes.Repeat([]byte{0x41}, 32)
	p, ready := jsServe(t, e, "--seed", hex.EncodeToString(seed), "--blocks", "3", "--size", "100", "--echo-extension", "fieldsync/echo")
	var key hypercore.Hash
	kb, _ := hex.DecodeString(ready.Key)
	copy(key[:], kb)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", ready.Port))
	if err != nil {
		t.Fatal(err)
	}
	s, err := secretstream.Client(ctx, conn, secretstream.Config{MaxMessageSize: replicate.MaxMessageSize})
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	peer := replicate.NewPeer(s, replicate.Options{})
	echoes := make(chan string, 4)
	dir := filepath.Join(t.TempDir(), "copy")
	r, err := peer.Add(replicate.CoreConfig{Key: key, Download: true, Live: true,
		Create: func(m *hypercore.Manifest) (*hypercore.Core, error) {
			return hypercore.CreateReplica(dir, key, m, hypercore.DurabilityOS)
		},
		OnExtension: func(name string, msg []byte) { echoes <- name + "=" + string(msg) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); peer.Run(ctx) }()
	defer wg.Wait()
	defer peer.Close()

	for _, msg := range []string{"hello", "again"} {
		if err := r.SendExtension("fieldsync/echo", []byte(msg)); err != nil {
			t.Fatal(err)
		}
		var ev struct{ Event, Name, Message string }
		if err := json.Unmarshal(p.line(t, nodeTimeout), &ev); err != nil || ev.Event != "extension" || ev.Name != "fieldsync/echo" || ev.Message != hex.EncodeToString([]byte(msg)) {
			t.Fatalf("JS received %+v (%v), want %q", ev, err, msg)
		}
		select {
		case got := <-echoes:
			if got != "fieldsync/echo=echo:"+msg {
				t.Fatalf("Go received %q", got)
			}
		case <-ctx.Done():
			t.Fatal("no echo from JS")
		}
	}
}

package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Go's secretstream against the real @hyperswarm/secret-stream 6.9.2 from
// the JS harness: Noise XX handshake, header messages, encrypted messages
// and keep-alives, in both roles.

const jsScript = `
import net from 'net'
import SecretStream from '@hyperswarm/secret-stream'
import b4a from 'b4a'

const [mode, port, seedHex] = process.argv.slice(2)
const keyPair = SecretStream.keyPair(b4a.from(seedHex, 'hex'))
const hex = (b) => b4a.toString(b, 'hex')
const report = (s, extra) => process.stdout.write(JSON.stringify({
  handshakeHash: hex(s.handshakeHash), publicKey: hex(s.publicKey), remotePublicKey: hex(s.remotePublicKey), ...extra
}) + '\n')
const fail = (e) => { console.error(e); process.exit(1) }

if (mode === 'echo-server') {
  // Echoes every non-empty message; "bye" ends it with a report.
  const server = net.createServer((socket) => {
    const s = new SecretStream(false, socket, { keyPair })
    s.setKeepAlive(50)
    s.on('error', fail)
    s.on('data', (m) => {
      if (b4a.toString(m) === 'bye') { report(s, {}); s.end(); server.close(); return }
      s.write(m)
    })
  })
  server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'))
} else {
  // Sends the messages, expects them echoed, reports.
  const s = new SecretStream(true, net.connect(Number(port), '127.0.0.1'), { keyPair })
  s.on('error', fail)
  const sizes = [5, 19, 300, 70000, 1 << 20, 1]
  const msgs = sizes.map((n, i) => { const b = b4a.alloc(n); for (let j = 0; j < n; j++) b[j] = (j * 31 + i) & 0xff; return b })
  let got = 0
  let ok = true
  s.on('data', (m) => {
    if (m.byteLength === 0) { ok = false; return } // keepAlive is off here, so JS would surface one; Go sends none
    if (!b4a.equals(m, msgs[got])) ok = false
    if (++got === msgs.length) { report(s, { ok, got }); s.end() }
  })
  s.write(b4a.alloc(0))
  for (const m of msgs) s.write(m)
}
`

type jsReport struct {
	Port            int    `json:"port"`
	HandshakeHash   string `json:"handshakeHash"`
	PublicKey       string `json:"publicKey"`
	RemotePublicKey string `json:"remotePublicKey"`
	OK              *bool  `json:"ok"`
}

// jsNode returns node and a directory holding the script with the
// harness's node_modules (installed by TestMain, see jsharness_test.go).
func jsNode(t *testing.T) (string, string) {
	t.Helper()
	env := needJS(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ss.mjs"), []byte(jsScript), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(env.cacheDir, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return env.node, dir
}

func seedKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32))
}

// startNode starts the script and returns its stdout lines.
func startNode(t *testing.T, node, dir string, args ...string) (*bufio.Reader, func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(dir, "ss.mjs")}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	wait := func() error {
		err := cmd.Wait()
		if err != nil {
			return errors.New(err.Error() + ": " + stderr.String())
		}
		return nil
	}
	return bufio.NewReader(out), wait
}

func readReport(t *testing.T, r *bufio.Reader) jsReport {
	t.Helper()
	line, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("node printed no line: %v", err)
	}
	var rep jsReport
	if err := json.Unmarshal(line, &rep); err != nil {
		t.Fatalf("%v: %q", err, line)
	}
	return rep
}

func checkReport(t *testing.T, rep jsReport, s *secretstream.Stream, jsSeed byte) {
	t.Helper()
	if rep.HandshakeHash != hex.EncodeToString(s.HandshakeHash()) {
		t.Errorf("handshake hash: JS %s, Go %x", rep.HandshakeHash, s.HandshakeHash())
	}
	if rep.RemotePublicKey != hex.EncodeToString(s.PublicKey()) || rep.PublicKey != hex.EncodeToString(s.RemotePublicKey()) {
		t.Errorf("keys: JS %s/%s, Go %x/%x", rep.PublicKey, rep.RemotePublicKey, s.RemotePublicKey(), s.PublicKey())
	}
	if want := hex.EncodeToString(seedKey(jsSeed).Public().(ed25519.PublicKey)); rep.PublicKey != want {
		t.Errorf("JS public key %s, want %s", rep.PublicKey, want)
	}
}

// TestJSEchoServer: Go Client, JS secret-stream server echoing messages
// (and sending keep-alives every 50 ms, which Go drops).
func TestJSEchoServer(t *testing.T) {
	node, dir := jsNode(t)
	out, wait := startNode(t, node, dir, "echo-server", "0", hex.EncodeToString(bytes.Repeat([]byte{0x11}, 32)))
	rep := readReport(t, out)
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(rep.Port))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := secretstream.Client(ctx, conn, secretstream.Config{Static: seedKey(0x22), KeepAlive: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(20 * time.Second))
	sizes := []int{5, 0, 19, 300, 70000, 1 << 20, 1}
	for _, n := range sizes {
		if err := s.WriteMessage(payload(n, 1)); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			continue
		}
		m, err := s.ReadMessage()
		if err != nil || !bytes.Equal(m, payload(n, 1)) {
			t.Fatalf("echo of %d bytes: %d bytes, %v", n, len(m), err)
		}
	}
	time.Sleep(120 * time.Millisecond) // keep-alives both ways
	var batch [][]byte
	for i := 0; i < 100; i++ {
		batch = append(batch, payload(1000+i, byte(i)))
	}
	if err := s.WriteMessages(batch...); err != nil {
		t.Fatal(err)
	}
	for i, want := range batch {
		m, err := s.ReadMessage()
		if err != nil || !bytes.Equal(m, want) {
			t.Fatalf("batch echo %d: %d bytes, %v", i, len(m), err)
		}
	}
	if err := s.WriteMessage([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	checkReport(t, readReport(t, out), s, 0x11)
	if _, err := s.ReadMessage(); !errors.Is(err, io.EOF) {
		t.Errorf("after bye: %v, want EOF", err)
	}
	s.Close()
	if err := wait(); err != nil {
		t.Fatalf("node: %v", err)
	}
}

// TestJSClient: JS secret-stream client (keep-alive off, so it would
// surface any empty message), Go Server echoing.
func TestJSClient(t *testing.T) {
	node, dir := jsNode(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, wait := startNode(t, node, dir, "client", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), hex.EncodeToString(bytes.Repeat([]byte{0x33}, 32)))
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := secretstream.Server(ctx, conn, secretstream.Config{Static: seedKey(0x44)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(20 * time.Second))
	n := 0
	for {
		m, err := s.ReadMessage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if err := s.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	if n != 6 {
		t.Errorf("echoed %d messages, want 6 (the empty one dropped)", n)
	}
	rep := readReport(t, out)
	if rep.OK == nil || !*rep.OK {
		t.Errorf("JS client saw wrong echoes: %+v", rep)
	}
	checkReport(t, rep, s, 0x33)
	s.Close()
	if err := wait(); err != nil {
		t.Fatalf("node: %v", err)
	}
}

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
	return b
}

package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/fixtures"
)

// startServeHTTP runs serve with the map on a free loopback port and
// returns its sync address and the map's URL.
func startServeHTTP(t *testing.T, d *dev) (syncAddr, mapURL string) {
	t.Helper()
	cmd := exec.Command(fieldsyncBinary(t), "--home", d.home, "serve", "--listen", "127.0.0.1:0", "--no-mdns", "--http", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("serve did not start: %v: %s", err, errb.String())
	}
	var ready struct {
		Listen, URL string
	}
	if err := json.Unmarshal([]byte(line), &ready); err != nil || ready.URL == "" {
		t.Fatalf("serve ready line %q has no url: %v", line, err)
	}
	return ready.Listen, ready.URL
}

// TestWebMapInBrowser drives headless Chromium through the map served by
// `fieldsync serve --http`, with every name but 127.0.0.1 unresolvable.
func TestWebMapInBrowser(t *testing.T) {
	chromiumPath(t)
	devs := newTeam(t, "base", "phone")
	base, phone := devs[0], devs[1]
	dir := t.TempDir()
	fixture := filepath.Join(dir, "riverbasin.geojsonl")
	os.WriteFile(fixture, fixtures.RiverBasin(), 0o644)
	photo := filepath.Join(dir, "stumps.jpg")
	os.WriteFile(photo, fixtures.Photos()["stumps.jpg"], 0o644)
	base.must("import", fixture, "--time-property", "recorded")
	photoID := strings.TrimSpace(base.must("observe", "--lat", "-3.1", "--lon", "-60.0", "--tag", "category=illegal-logging", "--notes", "Fresh stumps by the landing", "--attach", photo))
	total := len(base.ids())

	syncAddr, mapURL := startServeHTTP(t, base)
	origin := strings.TrimSuffix(mapURL, "/")

	// Every request the page makes, and every answer's status.
	var mu sync.Mutex
	var requests []string
	var bad []string
	b := startBrowser(t, func(m cdpMessage) {
		switch m.Method {
		case "Network.requestWillBeSent":
			var p struct{ Request struct{ URL string } }
			json.Unmarshal(m.Params, &p)
			mu.Lock()
			requests = append(requests, p.Request.URL)
			mu.Unlock()
		case "Network.responseReceived":
			var p struct {
				Response struct {
					URL    string
					Status int
				}
			}
			json.Unmarshal(m.Params, &p)
			if p.Response.Status >= 400 {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("%d %s", p.Response.Status, p.Response.URL))
				mu.Unlock()
			}
		case "Network.loadingFailed":
			mu.Lock()
			bad = append(bad, "failed: "+string(m.Params))
			mu.Unlock()
		case "Runtime.exceptionThrown":
			mu.Lock()
			bad = append(bad, "exception: "+string(m.Params))
			mu.Unlock()
		}
	})
	s := b.page()
	for _, dom := range []string{"Network.enable", "Page.enable", "Runtime.enable"} {
		if err := b.call(s, dom, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.call(s, "Page.navigate", map[string]any{"url": mapURL}); err != nil {
		t.Fatal(err)
	}
	evalInt := func(expr string) int {
		var n int
		if err := b.eval(s, expr, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	count := func() int {
		return evalInt(`Number((document.getElementById('count')||{dataset:{}}).dataset.count ?? -1)`)
	}
	waitFor(t, 60*time.Second, 50*time.Millisecond, func() bool { return count() == total }, fmt.Sprintf("the page to show %d observations", total))
	// A mark that a reload would wipe.
	b.eval(s, `window.notReloaded = true`, nil)
	var markers int
	b.eval(s, `fieldsyncMap.ids().length`, &markers)
	if markers != total {
		t.Fatalf("%d markers on the map, want %d", markers, total)
	}

	// A real click on the photo observation's marker opens it.
	var pt struct{ X, Y float64 }
	waitFor(t, 30*time.Second, 50*time.Millisecond, func() bool {
		b.eval(s, fmt.Sprintf(`(fieldsyncMap.map.setView([-3.1, -60.0], 16), fieldsyncMap.markerPoint(%q))`, photoID), &pt)
		return pt.X > 0 && evalInt(`document.body.dataset.loading === 'false' ? 1 : 0`) == 1
	}, "the marker of the photo observation")
	b.eval(s, fmt.Sprintf(`fieldsyncMap.markerPoint(%q)`, photoID), &pt)
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		if err := b.call(s, "Input.dispatchMouseEvent", map[string]any{"type": typ, "x": pt.X, "y": pt.Y, "button": "left", "clickCount": 1}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, 50*time.Millisecond, func() bool {
		return evalInt(`(() => { const d = document.getElementById('detail'); const img = d.querySelector('img');
			return !d.hidden && d.dataset.id === `+fmt.Sprintf("%q", photoID)+` && img && img.complete && img.naturalWidth > 0 ? 1 : 0 })()`) == 1
	}, "the observation's panel with its photo")
	var detail string
	b.eval(s, `document.getElementById('detail').innerText`, &detail)
	for _, want := range []string{"Fresh stumps by the landing", "base", "1 version"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the panel does not say %q:\n%s", want, detail)
		}
	}

	// A filter changes the count to what list says.
	var listed []json.RawMessage
	json.Unmarshal([]byte(base.must("list", "--tag", "category=illegal-logging", "--format", "json")), &listed)
	if len(listed) == 0 || len(listed) == total {
		t.Fatalf("the filter should select some: %d of %d", len(listed), total)
	}
	b.eval(s, `document.getElementById('f-tag').value = 'category=illegal-logging'; document.getElementById('apply').click()`, nil)
	waitFor(t, 30*time.Second, 50*time.Millisecond, func() bool { return count() == len(listed) }, fmt.Sprintf("the filtered count %d", len(listed)))
	var href string
	b.eval(s, `document.getElementById('export-geojson').href`, &href)
	if u, err := url.Parse(href); err != nil || u.Query().Get("tag") != "category=illegal-logging" {
		t.Errorf("the GeoJSON download does not carry the filter: %s", href)
	}
	b.eval(s, `document.getElementById('clear').click()`, nil)
	waitFor(t, 30*time.Second, 50*time.Millisecond, func() bool { return count() == total }, "the count back after clearing")

	// A teammate's observation, synced into the served home, appears.
	phone.must("observe", "--lat", "-3.2", "--lon", "-60.1", "--tag", "category=fire", "--notes", "from the phone")
	if code, _, errs := phone.sync("--peer", syncAddr); code != 0 {
		t.Fatalf("phone sync: exit %d: %s", code, errs)
	}
	waitFor(t, 60*time.Second, 50*time.Millisecond, func() bool { return count() == total+1 }, "the synced observation on the page")
	var still bool
	b.eval(s, `window.notReloaded === true`, &still)
	if !still {
		t.Fatal("the page was reloaded")
	}
	var devicesText string
	b.eval(s, `document.getElementById('devices').innerText`, &devicesText)
	if !strings.Contains(devicesText, "phone") {
		t.Errorf("the devices panel does not name the phone: %q", devicesText)
	}

	// A screenshot, not blank.
	b.eval(s, `fieldsyncMap.map.setView([-2.5, -61], 7)`, nil)
	waitFor(t, 30*time.Second, 50*time.Millisecond, func() bool { return evalInt(`document.body.dataset.loading === 'false' ? 1 : 0`) == 1 }, "the map to settle")
	var shot struct{ Data string }
	if err := b.call(s, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(shot.Data)
	shotPath := filepath.Join(t.TempDir(), "map.png")
	os.WriteFile(shotPath, raw, 0o644)
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	colors := map[uint32]int{}
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y += 4 {
		for x := bd.Min.X; x < bd.Max.X; x += 4 {
			r, g, bb, _ := img.At(x, y).RGBA()
			colors[(r>>8)<<16|(g>>8)<<8|bb>>8]++
		}
	}
	most := 0
	for _, n := range colors {
		most = max(most, n)
	}
	samples := (bd.Dx() / 4) * (bd.Dy() / 4)
	if len(colors) < 20 || most > samples*9/10 {
		t.Errorf("the screenshot %s looks blank: %d colours, the commonest on %d of %d samples", shotPath, len(colors), most, samples)
	}
	t.Logf("screenshot %s: %dx%d, %d colours", shotPath, bd.Dx(), bd.Dy(), len(colors))

	mu.Lock()
	defer mu.Unlock()
	for _, u := range requests {
		if !strings.HasPrefix(u, origin+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page requested %s, off the server", u)
		}
	}
	if len(bad) > 0 {
		t.Errorf("failed requests or script errors:\n%s", strings.Join(bad, "\n"))
	}
	if len(requests) < 5 {
		t.Errorf("only %d requests seen: is the request log working?", len(requests))
	}
}

// BenchmarkWebFirstPaint opens the map at $FIELDSYNC_WEB_URL (bench/web.sh
// starts one over many observations) in a fresh tab each time and
// reports the page's first paint of its (clustered) observations
// (first-paint-ms: performance.now() when they are on screen, from
// navigation start) and, the anchor of the same navigation, the end of
// the page's load event (load-ms: its HTML, scripts and styles).
func BenchmarkWebFirstPaint(b *testing.B) {
	u := os.Getenv("FIELDSYNC_WEB_URL")
	if u == "" {
		b.Skip("set FIELDSYNC_WEB_URL (bench/web.sh does)")
	}
	br := startBrowser(b, nil)
	var paint, load float64
	for i := 0; i < b.N; i++ {
		s := br.page()
		if err := br.call(s, "Page.navigate", map[string]any{"url": u}); err != nil {
			b.Fatal(err)
		}
		var m struct{ Paint, Load float64 }
		deadline := time.Now().Add(2 * time.Minute)
		for m.Paint == 0 || m.Load == 0 {
			if time.Now().After(deadline) {
				b.Fatal("no first paint in 2 minutes")
			}
			br.eval(s, `({paint: Number(document.body && document.body.dataset.firstPaint || 0),
				load: (performance.getEntriesByType('navigation')[0] || {}).loadEventEnd || 0})`, &m)
			if m.Paint == 0 || m.Load == 0 {
				time.Sleep(20 * time.Millisecond)
			}
		}
		paint += m.Paint
		load += m.Load
		br.call("", "Target.closeTarget", map[string]any{"targetId": br.lastTarget})
	}
	b.ReportMetric(paint/float64(b.N), "first-paint-ms")
	b.ReportMetric(load/float64(b.N), "load-ms")
	b.ReportMetric(paint/load, "x-anchor")
}

// fieldsync web prints one JSON line when ready; on a non-loopback
// address it makes up a password, and the map asks for it.
func TestWebCommand(t *testing.T) {
	d := newTeam(t, "base")[0]
	if code, _, errs := d.cli("web", "--http", "nonsense"); code != 2 || !strings.HasPrefix(errs, "fieldsync: --http") {
		t.Errorf("--http nonsense: exit %d, %q", code, errs)
	}
	if code, _, errs := d.cli("web", "--http", ":0", "--basemap", filepath.Join(t.TempDir(), "none.mbtiles")); code != 2 || !strings.Contains(errs, "none.mbtiles") {
		t.Errorf("a missing basemap: exit %d, %q", code, errs)
	}
	for _, c := range []struct {
		addr     string
		password bool
	}{{":0", false}, {"0.0.0.0:0", true}} {
		cmd := exec.Command(fieldsyncBinary(t), "--home", d.home, "web", "--http", c.addr, "--json")
		stdout, _ := cmd.StdoutPipe()
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("web %s: %v: %s", c.addr, err, errb.String())
		}
		var ready map[string]string
		if err := json.Unmarshal([]byte(line), &ready); err != nil {
			t.Errorf("web %s printed %q", c.addr, line)
		}
		u, err := url.Parse(ready["url"])
		if err != nil || u.Scheme != "http" || u.Port() == "" || u.Port() == "0" || u.Path != "/" {
			t.Errorf("web %s: url %q", c.addr, ready["url"])
		}
		if (ready["password"] != "") != c.password || len(ready) != map[bool]int{false: 1, true: 2}[c.password] {
			t.Errorf("web %s: ready line %q", c.addr, line)
		}
		status := "http://127.0.0.1:" + u.Port() + "/api/status"
		resp, err := http.Get(status)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := 200
		if c.password {
			want = 401
		}
		if resp.StatusCode != want {
			t.Errorf("web %s: GET without a password: %d, want %d", c.addr, resp.StatusCode, want)
		}
		if c.password {
			req, _ := http.NewRequest("GET", status, nil)
			req.SetBasicAuth("coordinator", ready["password"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("with the printed password: %d", resp.StatusCode)
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("web %s after SIGTERM: %v: %s", c.addr, err, errb.String())
		}
	}
}

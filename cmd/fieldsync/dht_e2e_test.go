package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/dht/dhttest"
)

// TestDHTFindsTeammates: two devices that know nothing of each other but
// the project find each other through a private DHT on 127.0.0.1 and
// sync; a device of another project, announcing its own topic on the same
// DHT, is never dialled.
func TestDHTFindsTeammates(t *testing.T) {
	boot := strings.Join(dhttest.Network(t, 5), ",")
	team := newTeam(t, "base", "field")
	base, field := team[0], team[1]
	stranger := newTeam(t, "xavier")[0]
	base.must("import", features(t, 40, "base"))
	field.must("import", features(t, 15, "field"))
	dhtArgs := []string{"--dht", "--dht-bootstrap", boot, "--dht-listen", "127.0.0.1:0"}
	srv := base.serve(dhtArgs...)
	other := stranger.serve(dhtArgs...)
	start := time.Now()
	code, sum, errs := field.sync(append([]string{"--listen", "127.0.0.1:0", "--timeout", "30s"}, dhtArgs...)...)
	took := time.Since(start)
	if code != 0 || sum["complete"] != true {
		t.Fatalf("sync over the DHT: exit %d %v\n%s", code, sum, errs)
	}
	if n, _ := sum["strangers"].(float64); n != 0 {
		t.Fatalf("a device of another project was dialled: %v", sum)
	}
	t.Logf("sync --dht found the base station and completed in %v; dht: %v", took.Round(time.Millisecond), sum["dht"])
	if got := len(field.ids()); got != 55 {
		t.Fatalf("field lists %d observations, want 55", got)
	}
	waitFor(t, 10*time.Second, 100*time.Millisecond, func() bool { return len(base.ids()) == 55 }, "the base station to list 55 observations")
	if st := base.must("status"); !strings.Contains(st, "nodes known") {
		t.Fatalf("status does not show the DHT:\n%s", st)
	}
	srv.stop(t)
	other.stop(t)
	// The routing table persists in the home, for a quick restart.
	mustRead(t, base.home+"/dht-nodes")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the DHT routing table was not saved: %v", err)
	}
	if len(b) == 0 {
		t.Fatalf("%s is empty", path)
	}
	return b
}

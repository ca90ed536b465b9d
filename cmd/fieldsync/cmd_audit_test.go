package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAudit: a clean project exits 0 and lists its devices; a conflicting
// edit and a deletion are reported; media left out by --no-media is exit
// 2 with the missing attachment named; a flipped byte in a core is exit 1.
func TestAudit(t *testing.T) {
	team := newTeam(t, "alice", "bob")
	a, b := team[0], team[1]
	photos, _ := filepath.Glob("../../fixtures/photos/*.jpg")
	id := strings.TrimSpace(a.must("observe", "--lat", "-3", "--lon", "-60", "--tag", "category=fire", "--attach", photos[0]))
	gone := strings.TrimSpace(a.must("observe", "--lat", "-3.1", "--lon", "-60.1"))
	a.must("delete", gone)
	srv := a.serve()
	if code, _, errs := b.sync("--peer", srv.addr()); code != 0 {
		t.Fatal(errs)
	}
	srv.stop(t)
	// Concurrent edits of the same observation: a fork once they meet.
	a.must("edit", id, "--tag", "category=mining")
	b.must("edit", id, "--tag", "category=logging")
	srv = a.serve()
	if code, _, errs := b.sync("--peer", srv.addr()); code != 0 {
		t.Fatal(errs)
	}
	srv.stop(t)
	var rep auditReport
	out := b.must("audit", "--json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Integrity != "ok" || !rep.Complete || len(rep.Devices) != 2 || len(rep.Cores) != 4 {
		t.Fatalf("clean audit: %s", out)
	}
	if len(rep.Forks) != 1 || rep.Forks[0].ID != id || len(rep.Forks[0].Heads) != 2 {
		t.Fatalf("forks: %+v", rep.Forks)
	}
	if len(rep.Deleted) != 1 || rep.Deleted[0] != gone {
		t.Fatalf("deleted: %v", rep.Deleted)
	}
	// A third device that skipped media: incomplete, exit 2.
	c := &dev{t: t, home: filepath.Join(t.TempDir(), "carla")}
	var inv struct{ Code string }
	json.Unmarshal([]byte(a.must("invite", "--json")), &inv)
	c.must("join", inv.Code, "--device-name", "carla")
	srv = a.serve()
	if code, _, errs := c.sync("--peer", srv.addr(), "--no-media"); code != 0 {
		t.Fatal(errs)
	}
	srv.stop(t)
	code, out, errs := c.cli("audit", "--json")
	if code != exitAuditIncomplete || !strings.Contains(out, id+"/") || !strings.Contains(errs, "incomplete") {
		t.Fatalf("audit without media: exit %d\n%s\n%s", code, out, errs)
	}
	// One flipped byte in alice's data core as bob holds it: exit 1.
	data := ""
	for _, core := range rep.Cores {
		if core.Kind == "data" && core.Device == "alice" {
			data = filepath.Join(b.home, "projects", "river", "cores", core.Key)
		}
	}
	files, _ := filepath.Glob(filepath.Join(data, "*"))
	flipped := false
	for _, f := range files {
		if strings.HasSuffix(f, "data") {
			bs, _ := os.ReadFile(f)
			bs[len(bs)/2] ^= 1
			os.WriteFile(f, bs, 0o644)
			flipped = true
		}
	}
	if !flipped {
		t.Fatalf("no data file in %v", files)
	}
	code, out, errs = b.cli("audit")
	if code != exitAuditIntegrity || !strings.Contains(out, "FAILED") || !strings.Contains(errs, "integrity") {
		t.Fatalf("audit of a corrupt core: exit %d\nstdout %q\nstderr %q", code, out, errs)
	}
}

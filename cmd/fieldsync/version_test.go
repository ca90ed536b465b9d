package main

import (
	"bytes"
	"context"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--version"}, strings.NewReader(""), &out, &errb); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	line := out.String()
	if !strings.HasPrefix(line, "fieldsync ") || !strings.Contains(line, "(commit ") || strings.Count(line, "\n") != 1 {
		t.Fatalf("--version printed %q", line)
	}
}

func TestFormatVersion(t *testing.T) {
	vcs := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	for _, c := range []struct {
		v, c string
		info *debug.BuildInfo
		want string
	}{
		// Set by release.sh: wins over what Go recorded.
		{"1.2.0", "fedcba9876543210", vcs, "fieldsync 1.2.0 (commit fedcba987654, go1.x, os/arch)"},
		// go build in a checkout with changes.
		{"", "", vcs, "fieldsync devel (commit 0123456789ab+changes, go1.x, os/arch)"},
		// go install module@v1.3.0: the module version, no VCS data.
		{"", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0"}}, "fieldsync v1.3.0 (commit unknown, go1.x, os/arch)"},
		{"", "", nil, "fieldsync devel (commit unknown, go1.x, os/arch)"},
	} {
		if got := formatVersion(c.v, c.c, c.info, "go1.x", "os/arch"); got != c.want {
			t.Errorf("formatVersion(%q, %q) = %q, want %q", c.v, c.c, got, c.want)
		}
	}
}

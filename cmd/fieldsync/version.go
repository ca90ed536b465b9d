package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at build time by scripts/release.sh:
//
//	-ldflags "-X main.version=1.2.0 -X main.commit=<git hash>"
//
// They are the only package-level variables here, written by the linker
// and never at run time.
var (
	version string
	commit  string
)

// versionLine is what `fieldsync --version` prints: the version and commit
// set at build time or, for a plain `go build`/`go run`/`go install`, the
// module version and the VCS revision Go recorded in the binary.
func versionLine() string {
	info, _ := debug.ReadBuildInfo()
	return formatVersion(version, commit, info, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
}

func formatVersion(v, c string, info *debug.BuildInfo, goVersion, platform string) string {
	modified := false
	fromGo := c == "" // "+changes" is only said of a commit Go recorded
	if info != nil {
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if c == "" {
					c = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true" && fromGo
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	if len(c) > 12 {
		c = c[:12]
	}
	switch {
	case c == "":
		c = "unknown"
	case modified:
		c += "+changes"
	}
	return fmt.Sprintf("fieldsync %s (commit %s, %s, %s)", v, c, goVersion, platform)
}

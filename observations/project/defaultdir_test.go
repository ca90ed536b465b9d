package project

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestDefaultDirPerOS checks each platform's rule with a made-up
// environment, so all of them are tested on whichever OS runs the tests.
func TestDefaultDirPerOS(t *testing.T) {
	home := filepath.Join("H", "ana")
	userHome := func() (string, error) { return home, nil }
	noHome := func() (string, error) { return "", errors.New("no home") }
	for _, c := range []struct {
		goos string
		env  map[string]string
		home func() (string, error)
		want string // "" = an error
	}{
		{"linux", nil, userHome, filepath.Join(home, ".local", "share", "fieldsync")},
		{"linux", map[string]string{"XDG_DATA_HOME": "/data/xdg"}, userHome, filepath.Join("/data/xdg", "fieldsync")},
		{"linux", map[string]string{"XDG_DATA_HOME": "relative"}, userHome, filepath.Join(home, ".local", "share", "fieldsync")},
		{"freebsd", nil, userHome, filepath.Join(home, ".local", "share", "fieldsync")},
		{"darwin", map[string]string{"XDG_DATA_HOME": "/data/xdg"}, userHome, filepath.Join(home, "Library", "Application Support", "fieldsync")},
		{"windows", map[string]string{"LocalAppData": `C:\Users\Ana\AppData\Local`}, userHome, filepath.Join(`C:\Users\Ana\AppData\Local`, "fieldsync")},
		{"windows", nil, userHome, filepath.Join(home, "AppData", "Local", "fieldsync")},
		{"windows", map[string]string{"FIELDSYNC_HOME": "D:/fs", "LocalAppData": "C:/x"}, userHome, "D:/fs"},
		{"linux", map[string]string{"FIELDSYNC_HOME": "/srv/fieldsync"}, noHome, "/srv/fieldsync"},
		{"linux", nil, noHome, ""},
	} {
		got, err := defaultDir(c.goos, func(k string) string { return c.env[k] }, c.home)
		if c.want == "" {
			if err == nil {
				t.Errorf("%s %v: got %q, want an error", c.goos, c.env, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s %v: got %q, %v; want %q", c.goos, c.env, got, err, c.want)
		}
	}
}

// TestProjectNamesPortable: a new project's name is its folder, so a name
// Windows cannot use is refused on every OS, and names in any script work.
func TestProjectNamesPortable(t *testing.T) {
	h, err := OpenHome(filepath.Join(t.TempDir(), "home ñ"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"CON", "lpt1.survey", "north: river", "trailing."} {
		if _, err := h.Create(bad, "tablet"); !errors.Is(err, ErrBadName) {
			t.Errorf("Create(%q): err = %v, want ErrBadName", bad, err)
		}
	}
	p, err := h.Create("Relevé Ñandú 観測", "Tablette d'Élodie")
	if err != nil {
		t.Fatal(err)
	}
	q, err := h.Open("Relevé Ñandú 観測")
	if err != nil {
		t.Fatal(err)
	}
	if q.DeviceName != "Tablette d'Élodie" || q.Dir != p.Dir {
		t.Fatalf("reopened %+v", q)
	}
}

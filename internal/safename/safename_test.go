package safename

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFile(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"photo.jpg", "photo.jpg"},
		{"relevé 3 — ñandú.jpg", "relevé 3 — ñandú.jpg"}, // other scripts kept
		{"観測-Ωμέγα.png", "観測-Ωμέγα.png"},
		{"a:b*c?.jpg", "a_b_c_.jpg"},
		{`x<y>"z"|w\v/u`, "x_y__z__w_v_u"},
		{"tab\there\x00", "tab_here_"},
		{"name. . ", "name"},
		{"...", "_"},
		{"..", "_"},
		{".", "_"},
		{"", "_"},
		{"CON", "_CON"},
		{"con.txt", "_con.txt"},
		{"Nul .tar.gz", "_Nul .tar.gz"},
		{"COM1", "_COM1"},
		{"lpt9.log", "_lpt9.log"},
		{"COM²", "_COM²"},
		{"COM10", "COM10"},
		{"CONSOLE", "CONSOLE"},
		{"aux-notes", "aux-notes"},
		{".hidden", ".hidden"},
		{"bad\xffutf8", "bad_utf8"},
	} {
		if got := File(c.in); got != c.want {
			t.Errorf("File(%q) = %q, want %q", c.in, got, c.want)
		}
		if err := Check(File(c.in)); err != nil {
			t.Errorf("Check(File(%q)): %v", c.in, err)
		}
		if (Check(c.in) == nil) != (File(c.in) == c.in) {
			t.Errorf("Check(%q) = %v but File changes it to %q", c.in, Check(c.in), File(c.in))
		}
	}
}

func TestFileShortensKeepingExtension(t *testing.T) {
	long := strings.Repeat("é", 200) + ".jpeg" // 405 bytes
	got := File(long)
	if len(got) > MaxBytes || !utf8.ValidString(got) || !strings.HasSuffix(got, ".jpeg") {
		t.Fatalf("File(long) = %q (%d bytes)", got, len(got))
	}
	noExt := strings.Repeat("x", 300)
	if got := File(noExt); len(got) != MaxBytes {
		t.Fatalf("File of 300 x's is %d bytes", len(got))
	}
	if err := Check(long); !errors.Is(err, ErrNotPortable) {
		t.Fatalf("Check(long) = %v", err)
	}
}

func TestUnique(t *testing.T) {
	taken := map[string]bool{}
	var got []string
	for _, n := range []string{"a:b.jpg", "a_b.jpg", "A_B.jpg", "c.jpg"} {
		got = append(got, Unique(n, taken))
	}
	want := []string{"a_b.jpg", "a_b (2).jpg", "A_B (3).jpg", "c.jpg"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Unique gave %q, want %q", got, want)
	}
}

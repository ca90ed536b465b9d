package safename

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxBytes is the longest name File returns, in UTF-8 bytes: well under
// every file system's 255, leaving room for the folders around it.
const MaxBytes = 120

// ErrNotPortable is wrapped by Check's errors.
var ErrNotPortable = errors.New("not usable as a file name on every system")

// File returns a name for a file or folder made from name that every
// supported OS accepts: forbidden and control characters become '_',
// trailing dots and spaces are dropped, a Windows device name gets a '_'
// in front, and a long name is cut to MaxBytes at a character boundary,
// keeping its extension. A name that was fine is returned unchanged. Two
// different names can give the same result (and Windows and macOS do not
// tell case apart): callers writing several names into one folder must
// check for collisions (see Unique).
func File(name string) string {
	name = strings.ToValidUTF8(name, "_")
	var b strings.Builder
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`<>:"/\|?*`, r) {
			r = '_'
		}
		b.WriteRune(r)
	}
	name = strings.TrimRight(b.String(), ". ")
	if name == "" {
		return "_"
	}
	if reserved(name) {
		name = "_" + name
	}
	return shorten(name, MaxBytes)
}

// Unique returns File(name), changed if needed so that it differs, ignoring
// case, from every name in taken; it adds the result to taken (keys in
// lower case).
func Unique(name string, taken map[string]bool) string {
	base := File(name)
	out := base
	for i := 2; taken[strings.ToLower(out)]; i++ {
		stem, ext := splitExt(base)
		suffix := fmt.Sprintf(" (%d)", i)
		out = shorten(stem, MaxBytes-len(suffix)-len(ext)) + suffix + ext
	}
	taken[strings.ToLower(out)] = true
	return out
}

// Check reports why name cannot be used as it is as a file or folder name
// on every supported OS, or nil when it can (File(name) == name).
func Check(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("an empty name is %w", ErrNotPortable)
	case !utf8.ValidString(name):
		return fmt.Errorf("%q is not valid text: %w", name, ErrNotPortable)
	case strings.ContainsAny(name, `<>:"/\|?*`):
		return fmt.Errorf("%q holds one of < > : \" / \\ | ? * (Windows refuses them): %w", name, ErrNotPortable)
	case strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return fmt.Errorf("%q holds a control character: %w", name, ErrNotPortable)
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, " "):
		return fmt.Errorf("%q ends in a dot or space (Windows drops them): %w", name, ErrNotPortable)
	case reserved(name):
		return fmt.Errorf("%q is a device name on Windows: %w", name, ErrNotPortable)
	case len(name) > MaxBytes:
		return fmt.Errorf("%q is longer than %d bytes: %w", name, MaxBytes, ErrNotPortable)
	}
	return nil
}

// reserved reports whether Windows takes name for a device: CON, PRN, AUX,
// NUL, COM0-9 or LPT0-9 (also with superscript digits ¹²³), in any case,
// alone or before an extension, with spaces before it ignored.
func reserved(name string) bool {
	stem, _, _ := strings.Cut(name, ".")
	stem = strings.ToUpper(strings.TrimRight(stem, " "))
	switch stem {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(stem) < 4 || (stem[:3] != "COM" && stem[:3] != "LPT") {
		return false
	}
	switch d := stem[3:]; d {
	case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
		return true
	}
	return false
}

// shorten cuts name to at most max bytes at a character boundary, keeping
// an extension of up to 16 bytes.
func shorten(name string, max int) string {
	if len(name) <= max {
		return name
	}
	stem, ext := splitExt(name)
	if len(ext) > 16 || len(ext) >= max {
		stem, ext = name, ""
	}
	keep := max - len(ext)
	for keep > 0 && !utf8.RuneStart(stem[keep]) {
		keep--
	}
	return strings.TrimRight(stem[:keep], ". ") + ext
}

func splitExt(name string) (stem, ext string) {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[:i], name[i:]
	}
	return name, ""
}

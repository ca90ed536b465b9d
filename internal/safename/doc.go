// Package safename turns free text (attachment names from other devices,
// project names, observation ids) into file and folder names that work on
// Windows, macOS and Linux alike, so an export or a media folder made from
// synced data can be written, copied to a USB stick and opened on any of
// them.
//
// What differs by OS, and is handled here for all at once: Windows refuses
// the characters <>:"/\|?* and control characters, the device names CON,
// PRN, AUX, NUL, COM0-9 and LPT0-9 (with any extension), and names ending
// in a dot or space; every system limits a name to 255 units (bytes on
// Linux and macOS, UTF-16 units on Windows), and Windows tools beyond Go
// still stumble on paths over 260 characters, so names are kept short.
// Letters of any script are kept as they are.
//
// It is a pure, dependency-free leaf: it must never import anything from
// fieldsync.
package safename

package hypercoretest

import "runtime"

// AllocDuring reports the bytes allocated while f runs n times (by every
// goroutine: call it where nothing else runs). Tests of decoders use it to
// show that a length claiming more than the input holds is refused before
// anything is allocated for it.
func AllocDuring(n int, f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		f()
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

//go:build unix

package main

import "syscall"

// peakRSS is this process's peak resident memory in MiB (Linux reports
// ru_maxrss in KiB).
func peakRSS() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return round(float64(ru.Maxrss) / 1024)
}

//go:build !unix

package main

// peakRSS is not measured off Unix (the benchmarks are run on Linux).
func peakRSS() float64 { return 0 }

//go:build unix

package sdk

import "syscall"

// ProcessCPU (test only) is the CPU time (user+system) this process has used, in ns.
func ProcessCPU() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}

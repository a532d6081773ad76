package sdk_test

import "runtime"

// allocatedBytes is the process's cumulative heap allocation.
func allocatedBytes() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

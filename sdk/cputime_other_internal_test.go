//go:build !unix

package sdk

func ProcessCPU() (int64, bool) { return 0, false }

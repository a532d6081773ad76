//go:build !unix

package sdk_test

func processCPU() (int64, bool) { return 0, false }

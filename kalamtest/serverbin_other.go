//go:build js || wasip1

package kalamtest

import "testing"

// startBinaryForTest: there are no processes to start under js or wasip1.
func startBinaryForTest(t testing.TB, bin string, _ ...ServerOption) *Server {
	t.Helper()
	t.Fatalf("kalamtest: %s names a server binary, but this platform cannot start processes", EnvServerBin)
	return nil
}

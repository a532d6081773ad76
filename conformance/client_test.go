//go:build !js

package conformance_test

import (
	"testing"

	"github.com/kalamstack/kalam-go/conformance"
	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/kalamtest/emulator"
	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/transport/mock"
	"github.com/stretchr/testify/require"
)

// The client suite over the native transport (real sockets) against the
// KalamDB the environment names (kalamtest.Start): the emulator by default,
// a real server binary, an external URL or a container ...
func TestClientNative(t *testing.T) {
	conformance.Client(t, func(t *testing.T) conformance.Target {
		srv := kalamtest.Start(t)
		return conformance.Target{URL: srv.URL, User: srv.RootUser, Password: srv.RootPassword}
	})
}

// ... and over the in-memory transport: one test body, every mode.
func TestClientEmulatorMock(t *testing.T) {
	conformance.Client(t, func(t *testing.T) conformance.Target {
		const password = "MockRoot123!"
		emu, err := emulator.New(emulator.Options{RootPassword: password})
		require.NoError(t, err)
		t.Cleanup(func() { emu.Close() })
		return conformance.Target{URL: "http://kalamdb.mock", User: "root", Password: password,
			Options: []sdk.Option{sdk.WithTransport(mock.New(emu))}}
	})
}

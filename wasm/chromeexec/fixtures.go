package main

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/kalamstack/kalam-go/conformance"
	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/kalamtest/emulator"
)

// BrowserRootPassword is the fixture emulators' root password.
const BrowserRootPassword = "BrowserRoot123!"

// fixtures are the servers the repository's browser tests use, told to the
// program through its environment:
//
//	KALAM_TRANSPORT_URL   conformance.TransportHandler on the page's origin
//	KALAM_EMULATOR_URL    an emulator on another loopback origin whose CORS
//	                      allows the page's origin, behind a fault proxy
//	KALAM_REFUSING_URL    an emulator whose CORS does not allow the page
//	KALAM_EMULATOR_PASSWORD  root's password on both
//	KALAM_CONTROL_URL     POST {down,up,blackhole,unblackhole} here to act
//	                      on the proxy in front of KALAM_EMULATOR_URL
type fixtures struct {
	env     map[string]string
	handler http.Handler
	close   func()
}

func startFixtures(origin string) (*fixtures, error) {
	allowed, err := emulator.Listen("127.0.0.1:0", emulator.Options{RootPassword: BrowserRootPassword, AllowedOrigins: []string{origin}})
	if err != nil {
		return nil, err
	}
	refusing, err := emulator.Listen("127.0.0.1:0", emulator.Options{RootPassword: BrowserRootPassword, AllowedOrigins: []string{"http://allowed.invalid"}})
	if err != nil {
		allowed.Close()
		return nil, err
	}
	proxy, err := kalamtest.StartProxy(allowed.URL)
	if err != nil {
		allowed.Close()
		refusing.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", conformance.TransportHandler())
	mux.HandleFunc("POST /__control/{action}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("action") {
		case "down":
			proxy.Down()
		case "up":
			proxy.Up()
		case "blackhole":
			proxy.Blackhole(true)
		case "unblackhole":
			proxy.Blackhole(false)
		default:
			http.Error(w, fmt.Sprintf("unknown control %q (down, up, blackhole, unblackhole)", r.PathValue("action")), http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return &fixtures{
		env: map[string]string{
			"KALAM_TRANSPORT_URL":     origin,
			"KALAM_EMULATOR_URL":      strings.TrimSuffix(proxy.URL, "/"),
			"KALAM_REFUSING_URL":      refusing.URL,
			"KALAM_EMULATOR_PASSWORD": BrowserRootPassword,
			"KALAM_CONTROL_URL":       origin + "/__control/",
		},
		handler: mux,
		close: func() {
			proxy.Close()
			allowed.Close()
			refusing.Close()
		},
	}, nil
}

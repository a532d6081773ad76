// Command wazeroexec runs a GOOS=wasip1 program (typically a test binary)
// under the wazero runtime, so `go test -exec` can run the packages that
// must work in WASI runtimes:
//
//	GOOS=wasip1 GOARCH=wasm go test -exec "go run ./wasm/wazeroexec" ./transport/mock
//
// The host's root is mounted at /, the environment is passed through (Go's
// wasip1 port takes its working directory from PWD), and the program's exit
// code becomes ours.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wazeroexec program.wasm [args...]")
		os.Exit(2)
	}
	os.Exit(run(os.Args[1], os.Args[2:]))
}

func run(path string, args []string) int {
	ctx := context.Background()
	bin, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "wazeroexec: %v\n", err)
		return 2
	}
	cache := wazero.NewCompilationCache()
	if dir, err := os.UserCacheDir(); err == nil {
		if c, err := wazero.NewCompilationCacheWithDir(dir + "/kalam-wazero"); err == nil {
			cache = c
		}
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)

	cfg := wazero.NewModuleConfig().
		WithArgs(append([]string{path}, args...)...).
		WithStdin(os.Stdin).WithStdout(os.Stdout).WithStderr(os.Stderr).
		WithFSConfig(wazero.NewFSConfig().WithDirMount("/", "/")).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader)
	for _, kv := range os.Environ() {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				cfg = cfg.WithEnv(kv[:i], kv[i+1:])
				break
			}
		}
	}
	if wd, err := os.Getwd(); err == nil {
		cfg = cfg.WithEnv("PWD", wd)
	}
	_, err = rt.InstantiateWithConfig(ctx, bin, cfg)
	var exit *sys.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return int(exit.ExitCode())
	default:
		fmt.Fprintf(os.Stderr, "wazeroexec: %v\n", err)
		return 1
	}
}

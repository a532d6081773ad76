package chromium

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// GoTool is the go command of the toolchain that built the caller (falling
// back to the one on PATH).
func GoTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

// WasmExecJS returns the path of the toolchain's wasm_exec.js, the
// JavaScript half of a GOOS=js program (lib/wasm since Go 1.24, misc/wasm
// before).
func WasmExecJS() (string, error) {
	root := runtime.GOROOT()
	if out, err := exec.Command(GoTool(), "env", "GOROOT").Output(); err == nil {
		root = strings.TrimSpace(string(out))
	}
	for _, dir := range []string{"lib/wasm", "misc/wasm"} {
		if p := filepath.Join(root, dir, "wasm_exec.js"); fileExists(p) {
			return p, nil
		}
	}
	return "", errors.New("chromium: wasm_exec.js not found under " + root + " (lib/wasm or misc/wasm)")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

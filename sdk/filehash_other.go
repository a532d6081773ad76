//go:build !(js && wasm)

package sdk

import (
	"crypto/sha256"
	"hash"
)

// newFileHash verifies downloads (filehash_js.go has the browser's).
func newFileHash() hash.Hash { return sha256.New() }

//go:build js && wasm

package sdk

import (
	"hash"

	"github.com/kalamstack/kalam-go/sdk/internal/sha256"
)

// newFileHash verifies downloads; in browsers a small SHA-256 keeps the
// FIPS crypto module (about 130 KB of wasm) out of the bundle.
func newFileHash() hash.Hash { return sha256.New() }

//go:build !js

package realtime

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
)

// gunzip inflates a gzip frame, at most limit bytes. In browsers
// (gunzip_js.go) the browser's DecompressionStream does it instead.
func gunzip(p []byte, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxMessageBytes
	}
	zr, err := gzip.NewReader(bytes.NewReader(p))
	if err != nil {
		return nil, fmt.Errorf("realtime: gzip frame of %d bytes: %w", len(p), err)
	}
	defer zr.Close()
	var out bytes.Buffer
	n, err := out.ReadFrom(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("realtime: inflating a gzip frame of %d bytes after %d bytes: %w", len(p), n, err)
	}
	if n > limit {
		return nil, fmt.Errorf("%w: a gzip frame of %d bytes inflates beyond %d bytes", ErrMessageTooLarge, len(p), limit)
	}
	return out.Bytes(), nil
}

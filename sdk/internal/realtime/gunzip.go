//go:build !js

package realtime

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
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
	// The trailer's ISIZE (length mod 2^32) sizes the buffer when it is
	// plausible: never above the limit nor above deflate's best ratio
	// (about 1032:1), so a lying trailer cannot make a small frame
	// allocate the limit; otherwise the buffer doubles as bytes arrive and
	// inflation stops one byte past the limit.
	hint := int64(64 << 10)
	if len(p) >= 18 {
		isize := int64(binary.LittleEndian.Uint32(p[len(p)-4:]))
		hint = min(isize+bytes.MinRead, limit+1, int64(len(p))*1032+bytes.MinRead)
	}
	out := make([]byte, 0, max(hint, 512))
	for {
		if len(out) == cap(out) {
			if int64(len(out)) > limit {
				break
			}
			nb := make([]byte, len(out), min(int64(cap(out))*2, limit+1))
			copy(nb, out)
			out = nb
		}
		n, err := zr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("realtime: inflating a gzip frame of %d bytes after %d bytes: %w", len(p), len(out), err)
		}
	}
	if int64(len(out)) > limit {
		return nil, fmt.Errorf("%w: a gzip frame of %d bytes inflates beyond %d bytes", ErrMessageTooLarge, len(p), limit)
	}
	return out, nil
}

// gunzipHead inflates at most n bytes of a gzip frame: a truncated or
// corrupt frame yields what could be read.
func gunzipHead(p []byte, n int) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(p))
	if err != nil {
		return nil
	}
	head, _ := io.ReadAll(io.LimitReader(zr, int64(n)))
	return head
}

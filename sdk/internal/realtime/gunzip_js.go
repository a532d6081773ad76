//go:build js && wasm

package realtime

import (
	"errors"
	"fmt"
	"syscall/js"
)

// gunzip inflates a gzip frame, at most limit bytes, with the browser's
// DecompressionStream: linking compress/gzip would add about 0.1 MB of
// wasm for what every browser already has. It must not be called from a
// JavaScript callback (it waits on promises); the read loop is a goroutine.
func gunzip(p []byte, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxMessageBytes
	}
	ctor := js.Global().Get("DecompressionStream")
	if ctor.IsUndefined() {
		return nil, fmt.Errorf("realtime: a gzip frame of %d bytes arrived and this runtime has no DecompressionStream", len(p))
	}
	ds := ctor.New("gzip")
	in := js.Global().Get("Uint8Array").New(len(p))
	js.CopyBytesToJS(in, p)
	w := ds.Get("writable").Call("getWriter")
	// A corrupt frame rejects these as well as the reads; the reads report it.
	w.Call("write", in).Call("catch", ignoreRejection)
	w.Call("close").Call("catch", ignoreRejection)
	r := ds.Get("readable").Call("getReader")
	var out []byte
	for {
		chunk, err := awaitPromise(r.Call("read"))
		if err != nil {
			return nil, fmt.Errorf("realtime: inflating a gzip frame of %d bytes after %d bytes: %w", len(p), len(out), err)
		}
		if chunk.Get("done").Bool() {
			return out, nil
		}
		v := chunk.Get("value")
		n := v.Get("byteLength").Int()
		if int64(len(out)+n) > limit {
			r.Call("cancel").Call("catch", ignoreRejection)
			return nil, fmt.Errorf("%w: a gzip frame of %d bytes inflates beyond %d bytes", ErrMessageTooLarge, len(p), limit)
		}
		start := len(out)
		out = append(out, make([]byte, n)...)
		js.CopyBytesToGo(out[start:], v)
	}
}

// It is a JavaScript built-in (Boolean, called with the reason and
// ignoring it), not a Go function: a rejection may settle after the
// program exited, when calling into Go would throw.
var ignoreRejection = js.Global().Get("Boolean")

// awaitPromise waits for a promise that always settles (a stream read).
func awaitPromise(promise js.Value) (js.Value, error) {
	type settled struct {
		v   js.Value
		err error
	}
	ch := make(chan settled, 1)
	ok := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- settled{v: args[0]}
		return nil
	})
	fail := js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "promise rejected"
		if len(args) > 0 && args[0].Type() == js.TypeObject && args[0].Get("message").Type() == js.TypeString {
			msg = args[0].Get("message").String()
		}
		ch <- settled{err: errors.New(msg)}
		return nil
	})
	promise.Call("then", ok, fail)
	s := <-ch
	ok.Release()
	fail.Release()
	return s.v, s.err
}

// gunzipHead inflates the first n bytes of a gzip frame (the browser's
// stream inflates the frame whole; this runs only for frames that failed to
// decode).
func gunzipHead(p []byte, n int) []byte {
	out, err := gunzip(p, DefaultMaxMessageBytes)
	if err != nil {
		return nil
	}
	return out[:min(n, len(out))]
}

//go:build js

package jsonscan

import "github.com/kalamstack/kalam-go/sdk/internal/jsonlite"

// Browser builds decode and encode through jsonlite, which gives
// encoding/json's results for the SDK's types without linking its general
// reflection-driven decoder and encoder (~0.15 MB of the gzipped bundle).

func Unmarshal(p []byte, v any) error { return jsonlite.Unmarshal(p, v) }

func Marshal(v any) ([]byte, error) { return jsonlite.Marshal(v) }

// DecodeAny is jsonlite's UseNumber decoding; p is one JSON value (a cell),
// so reading the first value and reading all of it agree.
func DecodeAny(p []byte) (any, error) {
	var v any
	if err := jsonlite.UnmarshalUseNumber(p, &v); err != nil {
		return nil, err
	}
	return v, nil
}

//go:build !js

package jsonscan

import (
	"encoding/json"
	"strings"
)

// Unmarshal is json.Unmarshal; browser builds use jsonlite's (see
// std_js.go), so that they do not link encoding/json's general decoder.
func Unmarshal(p []byte, v any) error { return json.Unmarshal(p, v) }

// Marshal is json.Marshal (jsonlite's in browser builds).
func Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// DecodeAny decodes the first JSON value in p as a json.Decoder with
// UseNumber does: objects, arrays, strings, json.Number, bools and nil.
func DecodeAny(p []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(p)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

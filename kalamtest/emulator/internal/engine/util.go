package engine

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"slices"

	"github.com/ncruces/go-sqlite3"
)

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func asSqliteError(err error, target **sqlite3.Error) bool { return errors.As(err, target) }

// marshalJSON encodes like serde_json: no HTML escaping of <, > and &.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// jsonString is a Go string as a JSON string literal.
func jsonString(s string) json.RawMessage {
	b, _ := marshalJSON(s) // a string always encodes
	return b
}

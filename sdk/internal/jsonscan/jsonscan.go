// Package jsonscan is the byte-level JSON scanner shared by the SDK's
// direct decoders (SQL replies in sdk, server frames in realtime). Its
// helpers work on input already checked with json.Valid, so they check
// structure only; a caller that meets anything unusual returns
// ErrSlowPath and lets encoding/json decode (and word the error).
package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/kalamstack/kalam-go/sdk/internal/jsonlite"
	"unicode/utf8"
)

// ErrSlowPath sends the input to encoding/json; it never reaches users.
var ErrSlowPath = errors.New("sdk: take the reflective JSON decoder")

// Object walks the members of the JSON object at b[i] (body already
// validated), calling member with each key and the index of its value;
// member returns the index just past the value. Keys must be plain,
// distinct and case-distinct among the known ones.
func Object(b []byte, i int, known []string, member func(key string, v int) (int, error)) (int, error) {
	var seen uint32
	return Members(b, i, func(key []byte, v int) (int, error) {
		for k, name := range known {
			if string(key) == name {
				if seen&(1<<k) != 0 {
					return 0, ErrSlowPath
				}
				seen |= 1 << k
				return member(name, v)
			}
			if bytes.EqualFold(key, []byte(name)) {
				return 0, ErrSlowPath // json matches keys case-insensitively
			}
		}
		return ValueEnd(b, v), nil
	})
}

// Array calls elem for each element of the JSON array at b[i] and
// reports whether the value was null instead.
func Array(b []byte, i int, elem func(v int) (int, error)) (end int, null bool, err error) {
	if b[i] == 'n' {
		return i + len("null"), true, nil
	}
	if b[i] != '[' {
		return 0, false, ErrSlowPath
	}
	i = SkipSpace(b, i+1)
	if b[i] == ']' {
		return i + 1, false, nil
	}
	for {
		if i, err = elem(i); err != nil {
			return 0, false, err
		}
		i = SkipSpace(b, i)
		if b[i] == ']' {
			return i + 1, false, nil
		}
		i = SkipSpace(b, i+1)
	}
}

// String reads the JSON string (or null, leaving *dst alone) at b[i].
func String(b []byte, i int, dst *string) (int, error) {
	if b[i] == 'n' {
		return i + len("null"), nil
	}
	if b[i] != '"' {
		return 0, ErrSlowPath
	}
	end := StringEnd(b, i)
	s := b[i+1 : end-1]
	if bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s) {
		return 0, ErrSlowPath
	}
	*dst = string(s)
	return end, nil
}

// Raw copies the JSON value at b[i], as json.RawMessage decoding does.
func Raw(b []byte, i int, dst *json.RawMessage) int {
	end := ValueEnd(b, i)
	*dst = append(json.RawMessage(nil), b[i:end]...)
	return end
}

// Number returns the number token at b[i]; null yields "".
func Number(b []byte, i int) (string, int, error) {
	if b[i] == 'n' {
		return "", i + len("null"), nil
	}
	if b[i] != '-' && (b[i] < '0' || b[i] > '9') {
		return "", 0, ErrSlowPath
	}
	end := ValueEnd(b, i)
	return string(b[i:end]), end, nil
}

// SkipSpace, ValueEnd and StringEnd are jsonlite's: the byte-level
// scanning this package and the browser decoder share.

// SkipSpace returns the index of the first non-space byte at or after i.
func SkipSpace(b []byte, i int) int { return jsonlite.SkipSpace(b, i) }

// ValueEnd returns the index just past the JSON value starting at i, or -1.
func ValueEnd(b []byte, i int) int { return jsonlite.ValueEnd(b, i) }

// StringEnd returns the index just past the JSON string starting at i, or
// -1.
func StringEnd(b []byte, i int) int { return jsonlite.StringEnd(b, i) }

// Members walks every member of the JSON object at b[i], calling member
// with the raw key (no escapes: those are ErrSlowPath) and the index of
// its value; member returns the index just past the value.
func Members(b []byte, i int, member func(key []byte, v int) (int, error)) (int, error) {
	i = SkipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return 0, ErrSlowPath
	}
	i = SkipSpace(b, i+1)
	if b[i] == '}' {
		return i + 1, nil
	}
	for {
		end := StringEnd(b, i)
		key := b[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return 0, ErrSlowPath
		}
		i = SkipSpace(b, end)
		i = SkipSpace(b, i+1) // past ':'
		var err error
		if i, err = member(key, i); err != nil {
			return 0, err
		}
		i = SkipSpace(b, i)
		if b[i] == '}' {
			return i + 1, nil
		}
		i = SkipSpace(b, i+1) // past ','
	}
}

// Decode fills v from p as json.Unmarshal would: through fast when p is
// valid JSON and fast can read it, else through json.Unmarshal, which also
// words the errors. The one fallback policy of the direct decoders.
func Decode[T any](p []byte, v *T, fast func([]byte, *T) error) error {
	if json.Valid(p) {
		var out T
		if fast(p, &out) == nil {
			*v = out
			return nil
		}
	}
	var zero T
	*v = zero
	return Unmarshal(p, v)
}

package sdk

import (
	"encoding"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonlite"
)

// encodeArgs renders Go values as the JSON array KalamDB binds to $1..$n.
// It fails before anything is sent, naming the placeholder and the type.
//
// Mapping (KalamDB binds null, bool, integers fitting int64, other numbers as
// Float64, and strings; arrays and objects are rejected by the server):
//   - nil, nil pointers: null
//   - bool: true/false
//   - signed and unsigned integers: JSON integers, exact (no float64 on the
//     way); a uint64 above math.MaxInt64 is sent as a decimal string, since
//     the server would bind it as a lossy Float64
//   - float32/float64: JSON numbers, always with a fraction or exponent so
//     the server binds Float64; NaN and ±Inf are rejected
//   - string; []byte when valid UTF-8 (as a string)
//   - time.Time: an RFC 3339 string in UTC with microseconds, which KalamDB
//     coerces to TIMESTAMP/DATETIME (integer µs would be bound as Int64)
//   - json.Number: as written; json.RawMessage: only a scalar JSON value
//   - 16-byte arrays (UUID types): canonical lowercase hyphenated string,
//     unless the type is a fmt.Stringer or encoding.TextMarshaler
//   - encoding.TextMarshaler, fmt.Stringer: their text, as a string
//   - maps, slices, structs, channels, functions: rejected
func encodeArgs(args []any) ([]byte, error) {
	buf := make([]byte, 0, 16*len(args)+2)
	buf = append(buf, '[')
	for i, a := range args {
		if i > 0 {
			buf = append(buf, ',')
		}
		var err error
		buf, err = appendArg(buf, a)
		if err != nil {
			return nil, fmt.Errorf("sdk: argument $%d (index %d, type %T): %w", i+1, i, a, err)
		}
	}
	return append(buf, ']'), nil
}

func appendArg(buf []byte, a any) ([]byte, error) {
	switch v := a.(type) {
	case nil:
		return append(buf, "null"...), nil
	case bool:
		return strconv.AppendBool(buf, v), nil
	case string:
		return appendJSONString(buf, v), nil
	case int:
		return strconv.AppendInt(buf, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(buf, v, 10), nil
	case int32:
		return strconv.AppendInt(buf, int64(v), 10), nil
	case float64:
		return appendFloat(buf, v, 64)
	case time.Time:
		return appendJSONString(buf, formatTimestamp(v)), nil
	case json.Number:
		if _, err := strconv.ParseFloat(string(v), 64); err != nil || !json.Valid([]byte(v)) {
			return nil, fmt.Errorf("json.Number %q is not a number", string(v))
		}
		return append(buf, v...), nil
	case json.RawMessage:
		if !json.Valid(v) {
			return nil, fmt.Errorf("json.RawMessage is not valid JSON")
		}
		if first := firstNonSpace(v); first == '[' || first == '{' {
			return nil, fmt.Errorf("KalamDB does not bind arrays or objects; pass JSON text as a string")
		}
		return append(buf, v...), nil
	case []byte:
		if !utf8.Valid(v) {
			return nil, fmt.Errorf("[]byte is not valid UTF-8; KalamDB parameters are JSON scalars, so binary data must be encoded (e.g. hex) by the caller")
		}
		return appendJSONString(buf, string(v)), nil
	case encoding.TextMarshaler:
		if rv := reflect.ValueOf(a); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return append(buf, "null"...), nil
		}
		t, err := v.MarshalText()
		if err != nil {
			return nil, fmt.Errorf("MarshalText: %w", err)
		}
		return appendJSONString(buf, string(t)), nil
	case fmt.Stringer:
		if rv := reflect.ValueOf(a); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return append(buf, "null"...), nil
		}
		return appendJSONString(buf, v.String()), nil
	}
	rv := reflect.ValueOf(a)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return append(buf, "null"...), nil
		}
		return appendArg(buf, rv.Elem().Interface())
	case reflect.Bool:
		return strconv.AppendBool(buf, rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(buf, rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return appendJSONString(buf, strconv.FormatUint(u, 10)), nil
		}
		return strconv.AppendUint(buf, u, 10), nil
	case reflect.Float32:
		return appendFloat(buf, rv.Float(), 32)
	case reflect.Float64:
		return appendFloat(buf, rv.Float(), 64)
	case reflect.String:
		return appendJSONString(buf, rv.String()), nil
	case reflect.Array:
		if rv.Len() == 16 && rv.Type().Elem().Kind() == reflect.Uint8 {
			var u [16]byte
			reflect.Copy(reflect.ValueOf(&u).Elem(), rv)
			return appendJSONString(buf, formatUUID(u)), nil
		}
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return appendArg(buf, rv.Bytes())
		}
	}
	return nil, fmt.Errorf("unsupported parameter type %s (KalamDB binds only null, bool, numbers and strings; encode it to one of those)", rv.Type())
}

func appendFloat(buf []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%v cannot be sent: JSON has no NaN or Infinity", f)
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'g', -1, bits)
	for _, c := range buf[start:] {
		if c == '.' || c == 'e' || c == 'E' {
			return buf, nil
		}
	}
	// Keep a fraction so KalamDB binds Float64, not Int64.
	return append(buf, ".0"...), nil
}

// appendJSONString escapes s as json.Marshal does.
func appendJSONString(buf []byte, s string) []byte { return jsonlite.AppendString(buf, s) }

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

// formatTimestamp renders t as KalamDB reads timestamps: RFC 3339, UTC,
// microsecond precision (the server stores µs).
func formatTimestamp(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.999999Z07:00")
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

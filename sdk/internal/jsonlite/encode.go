package jsonlite

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// Marshal is json.Marshal.
func Marshal(v any) ([]byte, error) {
	return appendValue(nil, reflect.ValueOf(v))
}

func appendValue(b []byte, v reflect.Value) ([]byte, error) {
	if !v.IsValid() {
		return append(b, "null"...), nil
	}
	t := v.Type()
	// encoding/json takes pointer-receiver methods only on addressable
	// values, value-receiver ones always.
	if t.Kind() != reflect.Pointer && v.CanAddr() {
		pt := reflect.PointerTo(t)
		if pt.Implements(marshalerType) {
			return appendMarshaler(b, v.Addr())
		}
		if pt.Implements(textMarshalerType) {
			return appendTextMarshaler(b, v.Addr())
		}
	}
	if t.Implements(marshalerType) {
		return appendMarshaler(b, v)
	}
	if t.Implements(textMarshalerType) {
		return appendTextMarshaler(b, v)
	}
	switch v.Kind() {
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return appendFloat(b, v)
	case reflect.String:
		if t == numberType {
			s := v.String()
			if s == "" {
				s = "0"
			}
			if !isValidNumber(s) {
				return nil, errors.New("json: invalid number literal " + strconv.Quote(s))
			}
			return append(b, s...), nil
		}
		return AppendString(b, v.String()), nil
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		return appendValue(b, v.Elem())
	case reflect.Struct:
		fs, err := cachedFields(t)
		if err != nil {
			return nil, err
		}
		b = append(b, '{')
		first := true
		for i := range fs.list {
			f := &fs.list[i]
			fv := v.Field(f.index)
			if f.omitEmpty && isEmptyValue(fv) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(AppendString(b, f.name), ':')
			if b, err = appendValue(b, fv); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case reflect.Map:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		if t.Key().Kind() != reflect.String {
			return nil, errUnsupported
		}
		type kv struct {
			k string
			v reflect.Value
		}
		kvs := make([]kv, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			kvs = append(kvs, kv{it.Key().String(), it.Value()})
		}
		slices.SortFunc(kvs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
		b = append(b, '{')
		for i, e := range kvs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(AppendString(b, e.k), ':')
			var err error
			if b, err = appendValue(b, e.v); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case reflect.Slice:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		if et := t.Elem(); et.Kind() == reflect.Uint8 {
			pt := reflect.PointerTo(et)
			if !pt.Implements(marshalerType) && !pt.Implements(textMarshalerType) {
				b = append(b, '"')
				b = base64.StdEncoding.AppendEncode(b, v.Bytes())
				return append(b, '"'), nil
			}
		}
		fallthrough
	case reflect.Array:
		b = append(b, '[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, v.Index(i)); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	return nil, &json.UnsupportedTypeError{Type: t}
}

func appendMarshaler(b []byte, v reflect.Value) ([]byte, error) {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return append(b, "null"...), nil
	}
	out, err := v.Interface().(json.Marshaler).MarshalJSON()
	if err == nil {
		// encoding/json compacts and HTML-escapes what MarshalJSON wrote.
		var compact, escaped bytes.Buffer
		if err = json.Compact(&compact, out); err == nil {
			json.HTMLEscape(&escaped, compact.Bytes())
			return append(b, escaped.Bytes()...), nil
		}
	}
	return nil, &json.MarshalerError{Type: v.Type(), Err: err}
}

// AppendRaw appends the JSON text raw as json.Marshal writes a
// json.RawMessage: checked, compacted and HTML-escaped.
func AppendRaw(b, raw []byte) ([]byte, error) {
	if json.Valid(raw) && !needsCompact(raw) {
		return append(b, raw...), nil // already compact and escaped
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, &json.MarshalerError{Type: rawMessageType, Err: err}
	}
	// HTML-escape as json.HTMLEscape (outside strings none of these occur).
	for _, c := range compact.Bytes() {
		if c == '<' || c == '>' || c == '&' {
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		} else {
			b = append(b, c)
		}
	}
	return lineSeparators(b), nil
}

// needsCompact reports bytes that Compact or HTMLEscape may rewrite:
// spaces, <, >, & and the lead byte of U+2028 and U+2029.
func needsCompact(raw []byte) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\r', '\n', '<', '>', '&', 0xE2:
			return true
		}
	}
	return false
}

// lineSeparators rewrites U+2028 and U+2029 in b as \u2028 and \u2029.
func lineSeparators(b []byte) []byte {
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0xE2 && b[i+1] == 0x80 && b[i+2]&^1 == 0xA8 {
			c := b[i+2]
			b = append(b[:i], append([]byte{'\\', 'u', '2', '0', '2', hex[c&0xF]}, b[i+3:]...)...)
			i += 5
		}
	}
	return b
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func appendTextMarshaler(b []byte, v reflect.Value) ([]byte, error) {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return append(b, "null"...), nil
	}
	out, err := v.Interface().(encoding.TextMarshaler).MarshalText()
	if err != nil {
		return nil, &json.MarshalerError{Type: v.Type(), Err: err}
	}
	return AppendString(b, string(out)), nil
}

func appendFloat(b []byte, v reflect.Value) ([]byte, error) {
	f := v.Float()
	bits := v.Type().Bits()
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, &json.UnsupportedValueError{Value: v, Str: strconv.FormatFloat(f, 'g', -1, bits)}
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// e-09 to e-9, as encoding/json writes it.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

const hex = "0123456789abcdef"

// AppendString appends s as json.Marshal writes a string: HTML-sensitive
// and control bytes escaped, invalid UTF-8 as \ufffd, U+2028 and U+2029
// escaped.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

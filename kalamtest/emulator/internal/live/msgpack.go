package live

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

// A small MessagePack codec covering what the protocol carries: nil, bool,
// integers (int64 and uint64 kept exact), float64, strings, binary, arrays
// and string-keyed maps. Outgoing messages are built from obj values so the
// same tree encodes to JSON and MessagePack (rmp_serde's to_vec_named shape).

func mpAppendNil(b []byte) []byte { return append(b, 0xc0) }

func mpAppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

func mpAppendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0:
		return mpAppendUint(b, uint64(v))
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

func mpAppendUint(b []byte, v uint64) []byte {
	switch {
	case v < 128:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

func mpAppendFloat(b []byte, v float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(v))
}

func mpAppendString(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func mpAppendBin(b []byte, p []byte) []byte {
	n := len(p)
	switch {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, p...)
}

func mpAppendArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

func mpAppendMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}

// mpAppendAny encodes a decoded-JSON style value (what mpDecode returns,
// plus int and map[string]any with sorted keys for determinism).
func mpAppendAny(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return mpAppendNil(b), nil
	case bool:
		return mpAppendBool(b, x), nil
	case int:
		return mpAppendInt(b, int64(x)), nil
	case int64:
		return mpAppendInt(b, x), nil
	case uint64:
		return mpAppendUint(b, x), nil
	case float64:
		return mpAppendFloat(b, x), nil
	case string:
		return mpAppendString(b, x), nil
	case []byte:
		return mpAppendBin(b, x), nil
	case []any:
		b = mpAppendArrayHeader(b, len(x))
		for _, e := range x {
			var err error
			if b, err = mpAppendAny(b, e); err != nil {
				return nil, err
			}
		}
		return b, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = mpAppendMapHeader(b, len(keys))
		for _, k := range keys {
			b = mpAppendString(b, k)
			var err error
			if b, err = mpAppendAny(b, x[k]); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("msgpack: cannot encode %T", v)
}

var errMsgpackShort = errors.New("msgpack: unexpected end of data")

// maxMsgpackDepth bounds nesting so hostile input cannot exhaust the stack.
const maxMsgpackDepth = 64

// mpDecode decodes one complete MessagePack value; trailing bytes are an
// error. Integers come back as int64 (or uint64 above MaxInt64), floats as
// float64, str as string, bin as []byte, maps as map[string]any.
func mpDecode(p []byte) (any, error) {
	d := mpDecoder{p: p}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.i != len(d.p) {
		return nil, fmt.Errorf("msgpack: %d trailing bytes after the value", len(d.p)-d.i)
	}
	return v, nil
}

type mpDecoder struct {
	p []byte
	i int
}

func (d *mpDecoder) take(n int) ([]byte, error) {
	if n < 0 || len(d.p)-d.i < n {
		return nil, errMsgpackShort
	}
	s := d.p[d.i : d.i+n]
	d.i += n
	return s, nil
}

func (d *mpDecoder) uintN(n int) (uint64, error) {
	s, err := d.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range s {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func (d *mpDecoder) value(depth int) (any, error) {
	if depth > maxMsgpackDepth {
		return nil, fmt.Errorf("msgpack: nesting deeper than %d", maxMsgpackDepth)
	}
	hb, err := d.take(1)
	if err != nil {
		return nil, err
	}
	c := hb[0]
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c&0xf0 == 0x80:
		return d.mapN(int(c&0x0f), depth)
	case c&0xf0 == 0x90:
		return d.arrayN(int(c&0x0f), depth)
	case c&0xe0 == 0xa0:
		return d.str(int(c & 0x1f))
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := d.uintN(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		s, err := d.take(int(min(n, uint64(len(d.p)+1))))
		if err != nil {
			return nil, err
		}
		return append([]byte(nil), s...), nil
	case 0xca:
		v, err := d.uintN(4)
		return float64(math.Float32frombits(uint32(v))), err
	case 0xcb:
		v, err := d.uintN(8)
		return math.Float64frombits(v), err
	case 0xcc, 0xcd, 0xce, 0xcf:
		v, err := d.uintN(1 << (c - 0xcc))
		if err != nil {
			return nil, err
		}
		if v > math.MaxInt64 {
			return v, nil
		}
		return int64(v), nil
	case 0xd0:
		v, err := d.uintN(1)
		return int64(int8(v)), err
	case 0xd1:
		v, err := d.uintN(2)
		return int64(int16(v)), err
	case 0xd2:
		v, err := d.uintN(4)
		return int64(int32(v)), err
	case 0xd3:
		v, err := d.uintN(8)
		return int64(v), err
	case 0xd9, 0xda, 0xdb:
		n, err := d.uintN(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		return d.str(int(min(n, uint64(len(d.p)+1))))
	case 0xdc, 0xdd:
		n, err := d.uintN(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.arrayN(int(min(n, uint64(len(d.p)+1))), depth)
	case 0xde, 0xdf:
		n, err := d.uintN(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapN(int(min(n, uint64(len(d.p)+1))), depth)
	}
	return nil, fmt.Errorf("msgpack: unsupported type byte 0x%02x at offset %d", c, d.i-1)
}

func (d *mpDecoder) str(n int) (any, error) {
	s, err := d.take(n)
	if err != nil {
		return nil, err
	}
	return string(s), nil
}

func (d *mpDecoder) arrayN(n int, depth int) (any, error) {
	// Every element takes at least one byte: a count beyond the remaining
	// input is corrupt, and checking first keeps allocation bounded.
	if n > len(d.p)-d.i {
		return nil, errMsgpackShort
	}
	out := make([]any, n)
	for i := range out {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (d *mpDecoder) mapN(n int, depth int) (any, error) {
	if 2*n > len(d.p)-d.i {
		return nil, errMsgpackShort
	}
	out := make(map[string]any, n)
	for range n {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		ks, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("msgpack: map key of type %T, want string", k)
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[ks] = v
	}
	return out, nil
}

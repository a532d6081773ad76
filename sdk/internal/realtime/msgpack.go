package realtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonlite"
)

// maxMsgpackDepth bounds nesting so hostile input cannot exhaust the stack.
const maxMsgpackDepth = 64

// MsgpackToJSON transcodes one MessagePack value (rmp_serde's named form:
// maps with string keys) into JSON text, so one JSON decoder serves both
// serializations. Integers keep every digit; binary becomes an array of byte
// numbers, as KalamDB writes bytes in JSON; extension types, non-string map
// keys, NaN/Inf floats, trailing bytes and truncated input are errors.
func MsgpackToJSON(p []byte) ([]byte, error) {
	d := mpDecoder{in: p, out: make([]byte, 0, len(p)+len(p)/2)}
	if err := d.value(0); err != nil {
		return nil, err
	}
	if d.pos != len(p) {
		return nil, fmt.Errorf("msgpack: %d trailing bytes after the value", len(p)-d.pos)
	}
	return d.out, nil
}

type mpDecoder struct {
	in  []byte
	pos int
	out []byte
}

var errMsgpackTruncated = errors.New("msgpack: truncated input")

func (d *mpDecoder) take(n int) ([]byte, error) {
	if n < 0 || len(d.in)-d.pos < n {
		return nil, errMsgpackTruncated
	}
	b := d.in[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *mpDecoder) uint(n int) (uint64, error) {
	b, err := d.take(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b)), nil
	}
	return binary.BigEndian.Uint64(b), nil
}

func (d *mpDecoder) value(depth int) error {
	if depth > maxMsgpackDepth {
		return fmt.Errorf("msgpack: nesting deeper than %d", maxMsgpackDepth)
	}
	tb, err := d.take(1)
	if err != nil {
		return err
	}
	t := tb[0]
	switch {
	case t <= 0x7f:
		d.out = strconv.AppendUint(d.out, uint64(t), 10)
		return nil
	case t >= 0xe0:
		d.out = strconv.AppendInt(d.out, int64(int8(t)), 10)
		return nil
	case t&0xf0 == 0x80:
		return d.mapBody(int(t&0x0f), depth)
	case t&0xf0 == 0x90:
		return d.arrayBody(int(t&0x0f), depth)
	case t&0xe0 == 0xa0:
		return d.str(int(t & 0x1f))
	}
	switch t {
	case 0xc0:
		d.out = append(d.out, "null"...)
	case 0xc2:
		d.out = append(d.out, "false"...)
	case 0xc3:
		d.out = append(d.out, "true"...)
	case 0xc4, 0xc5, 0xc6:
		n, err := d.uint(1 << (t - 0xc4))
		if err != nil {
			return err
		}
		b, err := d.take(int(min(n, math.MaxInt32)))
		if err != nil {
			return err
		}
		// Reserve the exact text length once: a 16 MiB value must not
		// double its way through ~60 MiB of digits.
		need := 2 + len(b)
		for _, c := range b {
			need += 1 + int(bool2int(c >= 10)) + int(bool2int(c >= 100))
		}
		d.out = slices.Grow(d.out, need)
		d.out = append(d.out, '[')
		for i, c := range b {
			if i > 0 {
				d.out = append(d.out, ',')
			}
			d.out = strconv.AppendUint(d.out, uint64(c), 10)
		}
		d.out = append(d.out, ']')
	case 0xca:
		u, err := d.uint(4)
		if err != nil {
			return err
		}
		return d.float(float64(math.Float32frombits(uint32(u))), 32)
	case 0xcb:
		u, err := d.uint(8)
		if err != nil {
			return err
		}
		return d.float(math.Float64frombits(u), 64)
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, err := d.uint(1 << (t - 0xcc))
		if err != nil {
			return err
		}
		d.out = strconv.AppendUint(d.out, u, 10)
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (t - 0xd0)
		u, err := d.uint(size)
		if err != nil {
			return err
		}
		var v int64
		switch size {
		case 1:
			v = int64(int8(u))
		case 2:
			v = int64(int16(u))
		case 4:
			v = int64(int32(u))
		default:
			v = int64(u)
		}
		d.out = strconv.AppendInt(d.out, v, 10)
	case 0xd9, 0xda, 0xdb:
		n, err := d.uint(1 << (t - 0xd9))
		if err != nil {
			return err
		}
		return d.str(int(min(n, math.MaxInt32)))
	case 0xdc, 0xdd:
		n, err := d.uint(2 << (t - 0xdc))
		if err != nil {
			return err
		}
		return d.arrayBody(int(min(n, math.MaxInt32)), depth)
	case 0xde, 0xdf:
		n, err := d.uint(2 << (t - 0xde))
		if err != nil {
			return err
		}
		return d.mapBody(int(min(n, math.MaxInt32)), depth)
	default:
		return fmt.Errorf("msgpack: unsupported type byte 0x%02x at offset %d", t, d.pos-1)
	}
	return nil
}

func (d *mpDecoder) float(f float64, bits int) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("msgpack: float %v has no JSON form", f)
	}
	d.out = strconv.AppendFloat(d.out, f, 'g', -1, bits)
	return nil
}

func (d *mpDecoder) str(n int) error {
	b, err := d.take(n)
	if err != nil {
		return err
	}
	if !utf8.Valid(b) {
		return fmt.Errorf("msgpack: string at offset %d is not valid UTF-8", d.pos-n)
	}
	if plainJSONText(b) {
		d.out = append(append(append(d.out, '"'), b...), '"')
		return nil
	}
	// Escaped as json.Marshal does.
	d.out = jsonlite.AppendString(d.out, string(b))
	return nil
}

// plainJSONText reports whether b needs no escaping as a JSON string
// (json.Marshal's rules: control bytes, quote, backslash, <, >, & and
// non-ASCII, which it may rewrite, take the general path).
func plainJSONText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func (d *mpDecoder) arrayBody(n, depth int) error {
	if n > len(d.in)-d.pos { // every element takes at least one byte
		return errMsgpackTruncated
	}
	d.out = append(d.out, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			d.out = append(d.out, ',')
		}
		if err := d.value(depth + 1); err != nil {
			return err
		}
	}
	d.out = append(d.out, ']')
	return nil
}

func (d *mpDecoder) mapBody(n, depth int) error {
	if n > (len(d.in)-d.pos)/2 {
		return errMsgpackTruncated
	}
	d.out = append(d.out, '{')
	for i := 0; i < n; i++ {
		if i > 0 {
			d.out = append(d.out, ',')
		}
		tb, err := d.take(1)
		if err != nil {
			return err
		}
		t := tb[0]
		var klen uint64
		switch {
		case t&0xe0 == 0xa0:
			klen = uint64(t & 0x1f)
		case t >= 0xd9 && t <= 0xdb:
			if klen, err = d.uint(1 << (t - 0xd9)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("msgpack: map key at offset %d is not a string (type byte 0x%02x)", d.pos-1, t)
		}
		if err := d.str(int(min(klen, math.MaxInt32))); err != nil {
			return err
		}
		d.out = append(d.out, ':')
		if err := d.value(depth + 1); err != nil {
			return err
		}
	}
	d.out = append(d.out, '}')
	return nil
}

func bool2int(b bool) byte {
	if b {
		return 1
	}
	return 0
}

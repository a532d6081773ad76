// Package jsonlite is the subset of encoding/json the SDK's own types need
// (structs with plain json tags, maps, slices, strings, numbers, bools,
// pointers, interfaces, json.Number, json.RawMessage, time.Time, the SDK's
// decoders through Unmarshaler, and json.Marshaler/encoding.TextMarshaler
// when encoding), with encoding/json's results and error values. Browser
// builds use it instead of encoding/json, whose general decoder and
// encoder cost ~0.6 MB of wasm (~0.15 MB gzipped); native builds keep
// encoding/json. The differential tests run both on the SDK's types and
// fuzzed input.
package jsonlite

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Unmarshal is json.Unmarshal.
func Unmarshal(data []byte, v any) error { return unmarshal(data, v, false) }

// UnmarshalUseNumber is json.Unmarshal with json.Decoder.UseNumber: numbers
// in interface values become json.Number.
func UnmarshalUseNumber(data []byte, v any) error { return unmarshal(data, v, true) }

func unmarshal(data []byte, v any, useNumber bool) error {
	if !json.Valid(data) {
		return syntaxError(data)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &json.InvalidUnmarshalError{Type: reflect.TypeOf(v)}
	}
	d := decoder{data: data, useNumber: useNumber}
	d.off = SkipSpace(data, 0)
	if err := d.value(rv); err != nil {
		return d.addContext(err)
	}
	return d.saved
}

// syntaxError returns json.Unmarshal's *json.SyntaxError for invalid data.
// json.Compact runs the same scanner and words the same message, but does
// not count bytes, so the offset (just past the first bad byte, or
// len(data) when the input ends early) is found by bisecting prefixes.
func syntaxError(data []byte) error {
	var buf []byte
	msg := func(p []byte, extra byte) string {
		buf = append(append(buf[:0], p...), extra)
		if extra == 0 {
			buf = buf[:len(p)]
		}
		var out bytes.Buffer
		if err := json.Compact(&out, buf); err != nil {
			return err.Error()
		}
		return ""
	}
	var out bytes.Buffer
	err := json.Compact(&out, data)
	se, ok := err.(*json.SyntaxError)
	if !ok {
		return err
	}
	// bad reports an error inside data[:k] itself: one that a byte more
	// does not change. Compact ends input with a space, so a prefix that
	// stops inside a number or literal ("1.", "tru") fails only at its end,
	// and differently once a NUL follows.
	bad := func(k int) bool {
		m := msg(data[:k], 0)
		return m != "" && m != "unexpected end of JSON input" && m == msg(data[:k], 1)
	}
	lo, hi := 1, len(data)+1 // smallest k in [lo, hi) with bad(k), or len(data)+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if bad(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	se.Offset = int64(min(lo, len(data)))
	return se
}

// errUnsupported reports a Go type outside the subset (a programming
// error in the SDK, never caused by input).
var errUnsupported = errors.New("jsonlite: unsupported Go type")

type decoder struct {
	data      []byte
	off       int // next byte to read
	useNumber bool
	saved     error

	// Error context, as encoding/json keeps it: the innermost struct and
	// the JSON names of the fields leading to the value being decoded.
	ctxStruct reflect.Type
	ctxFields []string
}

// typeError saves encoding/json's error for a JSON val that cannot go
// into a Go t; off is where encoding/json's scanner stood.
func (d *decoder) typeError(val string, t reflect.Type, off int64) {
	d.save(&json.UnmarshalTypeError{Value: val, Type: t, Offset: off})
}

func (d *decoder) save(err error) {
	if d.saved == nil {
		d.saved = d.addContext(err)
	}
}

func (d *decoder) addContext(err error) error {
	if d.ctxStruct == nil && len(d.ctxFields) == 0 {
		return err
	}
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		if d.ctxStruct != nil {
			te.Struct = d.ctxStruct.Name()
		}
		fields := d.ctxFields
		if te.Field != "" {
			fields = append(fields[:len(fields):len(fields)], te.Field)
		}
		te.Field = strings.Join(fields, ".")
	}
	return err
}

// value decodes the value at d.off into v (invalid v: skip it) and leaves
// d.off just past it.
func (d *decoder) value(v reflect.Value) error {
	switch d.data[d.off] {
	case '{':
		if !v.IsValid() {
			d.off = ValueEnd(d.data, d.off)
			return nil
		}
		return d.object(v)
	case '[':
		if !v.IsValid() {
			d.off = ValueEnd(d.data, d.off)
			return nil
		}
		return d.array(v)
	}
	start := d.off
	d.off = ValueEnd(d.data, start)
	if !v.IsValid() {
		return nil
	}
	return d.literal(d.data[start:d.off], v)
}

var (
	numberType = reflect.TypeFor[json.Number]()
)

// selfPointer reports e == p for the pointer p (encoding/json's guard
// against an interface holding its own address), as Value.Equal would.
func selfPointer(e, p reflect.Value) bool {
	return e.Kind() == reflect.Pointer && e.Type() == p.Type() && e.UnsafePointer() == p.UnsafePointer()
}

// indirect is encoding/json's: it walks down v allocating pointers until
// a non-pointer or an unmarshaler; decodingNull stops at the first
// settable pointer so it can be set to nil. Where encoding/json would call
// a json.Unmarshaler or encoding.TextUnmarshaler, jsonlite decodes
// json.RawMessage and time.Time itself and calls an Unmarshaler's
// UnmarshalJSONLite; any other such type is errUnsupported.
func indirect(v reflect.Value, decodingNull bool) (Unmarshaler, reflect.Value, error) {
	v0 := v
	haveAddr := false
	if v.Kind() != reflect.Pointer && v.Type().Name() != "" && v.CanAddr() {
		haveAddr = true
		v = v.Addr()
	}
	for {
		if v.Kind() == reflect.Interface && !v.IsNil() {
			e := v.Elem()
			if e.Kind() == reflect.Pointer && !e.IsNil() && (!decodingNull || e.Elem().Kind() == reflect.Pointer) {
				haveAddr = false
				v = e
				continue
			}
		}
		if v.Kind() != reflect.Pointer {
			break
		}
		if decodingNull && v.CanSet() {
			break
		}
		if e := v.Elem(); e.Kind() == reflect.Interface && selfPointer(e.Elem(), v) {
			v = e
			break
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if v.Type().NumMethod() > 0 && v.CanInterface() {
			// Type assertions, not Type.Implements: the same answer
			// without linking reflect's method-set comparison. Asserting
			// json.Unmarshaler without calling it keeps no methods.
			switch u := v.Interface().(type) {
			case Unmarshaler:
				return u, reflect.Value{}, nil
			case *json.RawMessage:
				return (*rawMessage)(u), reflect.Value{}, nil
			case *time.Time:
				return (*timeValue)(u), reflect.Value{}, nil
			case json.Unmarshaler:
				return nil, reflect.Value{}, errUnsupported
			case encoding.TextUnmarshaler:
				if !decodingNull {
					return nil, reflect.Value{}, errUnsupported
				}
			}
		}
		if haveAddr {
			v = v0
			haveAddr = false
		} else {
			v = v.Elem()
		}
	}
	return nil, v, nil
}

// composite hands an array or object to an Unmarshaler; otherwise it
// returns the value to fill.
func (d *decoder) composite(v reflect.Value) (reflect.Value, bool, error) {
	start := d.off
	u, pv, err := indirect(v, false)
	if err != nil {
		return pv, true, err
	}
	if u == nil {
		return pv, false, nil
	}
	d.off = ValueEnd(d.data, start)
	return pv, true, u.UnmarshalJSONLite(d.data[start:d.off])
}

func (d *decoder) array(v reflect.Value) error {
	start := d.off
	v, done, err := d.composite(v)
	if done {
		return err
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.NumMethod() == 0 {
			v.Set(reflect.ValueOf(d.arrayAny()))
			return nil
		}
		fallthrough
	default:
		d.typeError("array", v.Type(), int64(start+1))
		d.off = ValueEnd(d.data, start)
		return nil
	case reflect.Array, reflect.Slice:
	}
	i := 0
	d.off = SkipSpace(d.data, d.off+1)
	for d.data[d.off] != ']' {
		if v.Kind() == reflect.Slice {
			if i >= v.Cap() {
				v.Grow(1)
			}
			if i >= v.Len() {
				v.SetLen(i + 1)
			}
		}
		var elem reflect.Value
		if i < v.Len() {
			elem = v.Index(i)
		}
		if err := d.value(elem); err != nil {
			return err
		}
		i++
		d.off = SkipSpace(d.data, d.off)
		if d.data[d.off] == ',' {
			d.off = SkipSpace(d.data, d.off+1)
		}
	}
	d.off++
	if i < v.Len() {
		if v.Kind() == reflect.Array {
			for ; i < v.Len(); i++ {
				v.Index(i).SetZero()
			}
		} else {
			v.SetLen(i)
		}
	}
	if i == 0 && v.Kind() == reflect.Slice {
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	}
	return nil
}

func (d *decoder) object(v reflect.Value) error {
	start := d.off
	v, done, err := d.composite(v)
	if done {
		return err
	}
	t := v.Type()
	if v.Kind() == reflect.Interface && v.NumMethod() == 0 {
		v.Set(reflect.ValueOf(d.objectAny()))
		return nil
	}
	var fields *structFields
	switch v.Kind() {
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return errUnsupported // integer and TextUnmarshaler keys: not in the subset
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
	case reflect.Struct:
		var err error
		if fields, err = cachedFields(t); err != nil {
			return err
		}
	default:
		d.typeError("object", t, int64(start+1))
		d.off = ValueEnd(d.data, start)
		return nil
	}

	var mapElem reflect.Value
	origStruct, origDepth := d.ctxStruct, len(d.ctxFields)
	d.off = SkipSpace(d.data, d.off+1)
	for d.data[d.off] != '}' {
		keyStart := d.off
		d.off = StringEnd(d.data, keyStart)
		item := d.data[keyStart:d.off]
		key := unquote(item)

		var subv reflect.Value
		if v.Kind() == reflect.Map {
			if !mapElem.IsValid() {
				mapElem = reflect.New(t.Elem()).Elem()
			} else {
				mapElem.SetZero()
			}
			subv = mapElem
		} else if f := fields.find(key); f != nil {
			subv = v.Field(f.index)
			d.ctxStruct = t
			d.ctxFields = append(d.ctxFields, f.name)
		}

		d.off = SkipSpace(d.data, d.off)
		d.off = SkipSpace(d.data, d.off+1) // past ':'
		if err := d.value(subv); err != nil {
			return err
		}

		if v.Kind() == reflect.Map {
			kv := reflect.New(t.Key()).Elem()
			kv.SetString(string(key))
			v.SetMapIndex(kv, subv)
		}

		d.off = SkipSpace(d.data, d.off)
		d.ctxStruct, d.ctxFields = origStruct, d.ctxFields[:origDepth]
		if d.data[d.off] == ',' {
			d.off = SkipSpace(d.data, d.off+1)
		}
	}
	d.off++
	return nil
}

// literal stores the scalar item (string, number, true, false, null) in v.
func (d *decoder) literal(item []byte, v reflect.Value) error {
	end := int64(d.off) // encoding/json's offset for literal errors
	isNull := item[0] == 'n'
	u, pv, err := indirect(v, isNull)
	if err != nil {
		return err
	}
	if u != nil {
		return u.UnmarshalJSONLite(item)
	}
	v = pv
	t, k := v.Type(), v.Kind()
	anyIface := k == reflect.Interface && v.NumMethod() == 0
	switch c := item[0]; c {
	case 'n':
		switch k {
		case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice:
			v.SetZero()
		}
		return nil
	case 't', 'f':
		switch {
		case k == reflect.Bool:
			v.SetBool(c == 't')
		case anyIface:
			v.Set(reflect.ValueOf(c == 't'))
		default:
			d.typeError("bool", t, end)
		}
		return nil
	case '"':
		s := unquote(item)
		switch {
		case k == reflect.String:
			if t == numberType && !isValidNumber(string(s)) {
				return errors.New("json: invalid number literal, trying to unmarshal " + strconv.Quote(string(item)) + " into Number")
			}
			v.SetString(string(s))
		case anyIface:
			v.Set(reflect.ValueOf(string(s)))
		case k == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
			b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
			n, err := base64.StdEncoding.Decode(b, s)
			if err != nil {
				d.save(err)
				break
			}
			v.SetBytes(b[:n])
		default:
			d.typeError("string", t, end)
		}
		return nil
	}
	s := string(item) // a number
	switch k {
	case reflect.Interface:
		n, err := d.number(s, end+1)
		switch {
		case err != nil:
			d.save(err)
		case !anyIface:
			d.typeError("number", t, end)
		default:
			v.Set(reflect.ValueOf(n))
		}
	case reflect.String:
		if t != numberType {
			d.typeError("number", t, end)
			break
		}
		v.SetString(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v.OverflowInt(n) {
			d.typeError("number "+s, t, end)
			break
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || v.OverflowUint(n) {
			d.typeError("number "+s, t, end)
			break
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(s, t.Bits())
		if err != nil || v.OverflowFloat(n) {
			d.typeError("number "+s, t, end)
			break
		}
		v.SetFloat(n)
	default:
		d.typeError("number", t, end)
	}
	return nil
}

// number is a number in an interface value: float64 or json.Number.
func (d *decoder) number(s string, off int64) (any, error) {
	if d.useNumber {
		return json.Number(s), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, &json.UnmarshalTypeError{Value: "number " + s, Type: reflect.TypeFor[float64](), Offset: off}
	}
	return f, nil
}

// valueAny decodes the value at d.off as an any (map[string]any, []any,
// string, float64 or json.Number, bool, nil).
func (d *decoder) valueAny() any {
	switch d.data[d.off] {
	case '{':
		return d.objectAny()
	case '[':
		return d.arrayAny()
	}
	start := d.off
	d.off = ValueEnd(d.data, start)
	item := d.data[start:d.off]
	switch item[0] {
	case 'n':
		return nil
	case 't':
		return true
	case 'f':
		return false
	case '"':
		return string(unquote(item))
	}
	n, err := d.number(string(item), int64(d.off+1))
	if err != nil {
		d.save(err)
	}
	return n
}

func (d *decoder) arrayAny() []any {
	v := make([]any, 0)
	d.off = SkipSpace(d.data, d.off+1)
	for d.data[d.off] != ']' {
		v = append(v, d.valueAny())
		d.off = SkipSpace(d.data, d.off)
		if d.data[d.off] == ',' {
			d.off = SkipSpace(d.data, d.off+1)
		}
	}
	d.off++
	return v
}

func (d *decoder) objectAny() map[string]any {
	m := make(map[string]any)
	d.off = SkipSpace(d.data, d.off+1)
	for d.data[d.off] != '}' {
		keyStart := d.off
		d.off = StringEnd(d.data, keyStart)
		key := string(unquote(d.data[keyStart:d.off]))
		d.off = SkipSpace(d.data, d.off)
		d.off = SkipSpace(d.data, d.off+1) // past ':'
		m[key] = d.valueAny()
		d.off = SkipSpace(d.data, d.off)
		if d.data[d.off] == ',' {
			d.off = SkipSpace(d.data, d.off+1)
		}
	}
	d.off++
	return m
}

// isValidNumber is encoding/json's check of a json.Number's text.
func isValidNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	default:
		return false
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[2:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	return s == ""
}

// unquote decodes the (valid) JSON string literal item as encoding/json
// does: invalid UTF-8 and unpaired surrogates become U+FFFD.
func unquote(item []byte) []byte {
	s := item[1 : len(item)-1]
	plain := true
	for _, c := range s {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain || bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return s
	}
	b := make([]byte, 0, len(s)+2*utf8.UTFMax)
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			r++
			switch s[r] {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := getu4(s[r-1:])
				r += 4
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r+1:])); dec != unicode.ReplacementChar {
						r += 6
						b = utf8.AppendRune(b, dec)
						break
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
			default: // '"', '\\', '/'
				b = append(b, s[r])
			}
			r++
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			b = utf8.AppendRune(b, rr)
		}
	}
	return b
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// field is a struct field as encoding/json sees it.
type field struct {
	name      string
	index     int
	omitEmpty bool
}

type structFields struct {
	list   []field
	byName map[string]*field
}

// find is encoding/json's key match: exact, else case-insensitive.
func (fs *structFields) find(key []byte) *field {
	if f := fs.byName[string(key)]; f != nil {
		return f
	}
	for i := range fs.list {
		if foldEqual(fs.list[i].name, key) {
			return &fs.list[i]
		}
	}
	return nil
}

// foldEqual is encoding/json's folded-name match, which it documents as
// bytes.EqualFold.
func foldEqual(name string, key []byte) bool { return bytes.EqualFold([]byte(name), key) }

var fieldCache sync.Map // reflect.Type → *structFields

func cachedFields(t reflect.Type) (*structFields, error) {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields), nil
	}
	fs := &structFields{byName: map[string]*field{}}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil, errUnsupported // embedded fields: not in the subset
		}
		if !sf.IsExported() {
			continue
		}
		tag, ok := jsonTag(sf.Tag)
		if !ok {
			return nil, errUnsupported
		}
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if valid, ok := validTag(name); !ok {
			return nil, errUnsupported
		} else if !valid {
			name = ""
		}
		if name == "" {
			name = sf.Name
		}
		f := field{name: name, index: i}
		for opts != "" {
			var o string
			o, opts, _ = strings.Cut(opts, ",")
			switch o {
			case "omitempty":
				f.omitEmpty = true
			case "omitzero", "string":
				return nil, errUnsupported
			}
		}
		fs.list = append(fs.list, f)
	}
	for i := range fs.list {
		if _, dup := fs.byName[fs.list[i].name]; dup {
			return nil, errUnsupported // duplicate names: encoding/json's dominance rules
		}
		fs.byName[fs.list[i].name] = &fs.list[i]
	}
	f, _ := fieldCache.LoadOrStore(t, fs)
	return f.(*structFields), nil
}

// jsonTag is sf.Tag.Get("json") for tags without escapes (StructTag.Get
// would link strconv.Unquote); ok is false for a tag with escapes.
func jsonTag(tag reflect.StructTag) (v string, ok bool) {
	s := string(tag)
	for s != "" {
		k, rest, found := strings.Cut(s, ":\"")
		if !found {
			return "", true
		}
		v, rest, found = strings.Cut(rest, "\"")
		if !found || strings.IndexByte(v, '\\') >= 0 {
			return "", false
		}
		if strings.TrimLeft(k, " ") == "json" {
			return v, true
		}
		s = rest
	}
	return "", true
}

// validTag is encoding/json's isValidTag for ASCII names; ok is false for
// a name with other runes (unicode's letter tables are not worth linking
// for tags the SDK does not have).
func validTag(s string) (valid, ok bool) {
	if s == "" {
		return false, true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			return false, false
		case strings.IndexByte("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c) >= 0:
		case !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'):
			return false, true
		}
	}
	return true, true
}

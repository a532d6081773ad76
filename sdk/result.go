package sdk

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonscan"
)

// Result is the reply to one Query. It embeds the first statement's result,
// so single-statement callers use res.Rows(), res.RowCount and so on
// directly; Results lists every statement's result.
//
// In a multi-statement batch KalamDB removes the results of INSERT, UPDATE
// and DELETE from their positions and appends at most three summaries
// ("Inserted N row(s)", "Updated ...", "Deleted ...") at the end.
type Result struct {
	*StatementResult
	all []*StatementResult
	// Took is the server's handling time.
	Took time.Duration
}

// Results returns the results as the server sent them. A single statement
// has exactly one. A batch (several statements in one Query) does not get
// one per statement: KalamDB keeps the other results (SELECT, DDL) in
// order and folds every INSERT, UPDATE and DELETE into at most three
// summaries appended at the end ("Inserted N row(s)", "Updated N row(s)",
// "Deleted N row(s)", in that order); so INSERT; SELECT; INSERT yields the
// SELECT's rows, then one "Inserted 2 row(s)". The first failing statement
// stops the batch and the whole Query returns its error.
func (r *Result) Results() []*StatementResult { return r.all }

// StatementResult is the result of one statement.
type StatementResult struct {
	// Columns is the schema, in row order (empty for DML and DDL).
	Columns []Column
	// RowCount is the number of rows returned (SELECT) or affected (DML).
	// A SELECT without LIMIT is cut by the server to 50 rows, and any SELECT
	// to 1000; RowCount is the count after that cut.
	RowCount int
	// Message is the server's note ("Inserted 1 row(s)"); empty for SELECT.
	Message string
	// AsUser is the user the statement ran as.
	AsUser string

	rows   []Row
	byName map[string]int // lower-cased column name -> index
	plan   atomic.Pointer[cachedPlan]
}

// Server row caps with KalamDB's default configuration
// (limits.default_query_limit and limits.max_query_limit).
const (
	DefaultRowCap = 50
	MaxRowCap     = 1000
)

// MayBeCapped reports whether a row-returning statement came back with
// exactly DefaultRowCap or MaxRowCap rows, in which case the server may
// have cut the result: add LIMIT (at most 1000) and page with OFFSET or a
// key to be sure you saw every row.
func (s *StatementResult) MayBeCapped() bool {
	return s.Columns != nil && s.rows != nil && (len(s.rows) == DefaultRowCap || len(s.rows) == MaxRowCap)
}

// Rows returns the rows (nil for statements that return none).
func (s *StatementResult) Rows() []Row { return s.rows }

// ColumnIndex returns the index of the named column (case-insensitive), or -1.
func (s *StatementResult) ColumnIndex(name string) int {
	if i, ok := s.byName[strings.ToLower(name)]; ok {
		return i
	}
	return -1
}

// Maps returns every row as a map from column name to value (see Row.Map).
func (s *StatementResult) Maps() ([]map[string]any, error) {
	out := make([]map[string]any, len(s.rows))
	for i, r := range s.rows {
		m, err := r.Map()
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		out[i] = m
	}
	return out, nil
}

// Column describes one result column.
type Column struct {
	Name  string
	Index int
	Type  DataType
	// PrimaryKey, NotNull and Unique are the column's flags (pk, nn, uq);
	// computed expressions carry none.
	PrimaryKey, NotNull, Unique bool
}

// Row is one result row. Its accessors take a column name
// (case-insensitive) and report type mismatches, NULLs and range overflows
// as errors naming the column.
type Row struct {
	res   *StatementResult
	cells []json.RawMessage
}

// Len returns the number of cells.
func (r Row) Len() int { return len(r.cells) }

// Raw returns the cell exactly as the server sent it.
func (r Row) Raw(name string) (json.RawMessage, error) {
	i, err := r.index(name)
	if err != nil {
		return nil, err
	}
	return r.cells[i], nil
}

// IsNull reports whether the named cell is NULL.
func (r Row) IsNull(name string) (bool, error) {
	i, err := r.index(name)
	if err != nil {
		return false, err
	}
	return isNull(r.cells[i]), nil
}

func (r Row) index(name string) (int, error) {
	if r.res == nil {
		return 0, errors.New("sdk: zero Row")
	}
	i := r.res.ColumnIndex(name)
	if i < 0 {
		return 0, fmt.Errorf("sdk: no column %q in the result", name)
	}
	return i, nil
}

// readCell is the typed accessors' path: no destination escapes to the
// heap, and errors are the ScanError convertCell's would be.
func readCell[T any](r Row, name, target string, conv func(json.RawMessage) (T, error)) (T, error) {
	var zero T
	i, err := r.index(name)
	if err != nil {
		return zero, err
	}
	raw := r.cells[i]
	if isNull(raw) {
		return zero, r.cellError(i, target, ErrNull)
	}
	v, err := conv(raw)
	if err != nil {
		return zero, r.cellError(i, target, err)
	}
	return v, nil
}

func (r Row) cellError(i int, target string, err error) error {
	col := r.res.Columns[i]
	return &ScanError{Column: col.Name, Type: col.Type, Target: target, Err: err}
}

func parseFloat64(raw json.RawMessage) (float64, error) {
	if len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		// A bare JSON number: parsed in place (strconv keeps no
		// reference to its argument; its errors copy it).
		if f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(raw), len(raw)), 64); err == nil {
			return f, nil
		}
	}
	s, err := numberText(raw)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a float64", s)
	}
	return f, nil
}

func (r Row) get(name string, dest any) error {
	i, err := r.index(name)
	if err != nil {
		return err
	}
	return r.scanCell(i, dest)
}

// String returns a text cell; numbers come back as their decimal text.
func (r Row) String(name string) (string, error) { return readCell(r, name, "*string", textOf) }

// Int64 returns an integer cell exactly (BigInt arrives as a JSON string and
// is never converted through float64).
func (r Row) Int64(name string) (int64, error) { return readCell(r, name, "*int64", parseInt) }

// Uint64 returns a non-negative integer cell exactly.
func (r Row) Uint64(name string) (uint64, error) { var v uint64; return v, r.get(name, &v) }

// Int returns an integer cell, failing when it does not fit an int.
func (r Row) Int(name string) (int, error) { var v int; return v, r.get(name, &v) }

// Float64 returns a numeric cell as float64.
func (r Row) Float64(name string) (float64, error) {
	return readCell(r, name, "*float64", parseFloat64)
}

// Bool returns a Boolean cell.
func (r Row) Bool(name string) (bool, error) { var v bool; return v, r.get(name, &v) }

// Decimal returns a Decimal (or any numeric) cell exactly.
func (r Row) Decimal(name string) (Decimal, error) { var v Decimal; return v, r.get(name, &v) }

// Time returns a Timestamp or DateTime (µs since the epoch) or a Date (days
// since the epoch) as a time.Time in UTC.
func (r Row) Time(name string) (time.Time, error) {
	i, err := r.index(name)
	if err != nil {
		return time.Time{}, err
	}
	raw := r.cells[i]
	if isNull(raw) {
		return time.Time{}, r.cellError(i, "*time.Time", ErrNull)
	}
	t, err := timeOf(r.res.Columns[i].Type, raw)
	if err != nil {
		return time.Time{}, r.cellError(i, "*time.Time", err)
	}
	return t, nil
}

// TimeOfDay returns a Time cell (µs since midnight) as a duration.
func (r Row) TimeOfDay(name string) (time.Duration, error) {
	var v time.Duration
	return v, r.get(name, &v)
}

// UUID returns a Uuid cell.
func (r Row) UUID(name string) (UUID, error) { var v UUID; return v, r.get(name, &v) }

// JSON returns a Json cell's document (the server sends JSON text inside a
// string; this returns the text itself).
func (r Row) JSON(name string) (json.RawMessage, error) {
	var v json.RawMessage
	return v, r.get(name, &v)
}

// Bytes returns a Bytes cell (sent as an array of byte numbers).
func (r Row) Bytes(name string) ([]byte, error) { var v []byte; return v, r.get(name, &v) }

// Embedding returns an Embedding cell as a vector.
func (r Row) Embedding(name string) ([]float32, error) { var v []float32; return v, r.get(name, &v) }

// File returns a FILE cell's reference.
func (r Row) File(name string) (FileRef, error) { var v FileRef; return v, r.get(name, &v) }

// Value returns the cell as its natural Go value (see Map).
func (r Row) Value(name string) (any, error) { var v any; return v, r.get(name, &v) }

// Map returns the row as column name -> natural Go value: nil, bool, int64
// (BigInt, Int, SmallInt), float64, Decimal, string (Text, Uuid), []byte,
// json.RawMessage (Json), time.Time (Timestamp, DateTime, Date),
// time.Duration (Time), []float32 (Embedding), FileRef (File).
func (r Row) Map() (map[string]any, error) {
	m := make(map[string]any, len(r.cells))
	for i := range r.cells {
		var v any
		if err := r.scanCell(i, &v); err != nil {
			return nil, err
		}
		m[r.res.Columns[i].Name] = v
	}
	return m, nil
}

// Scan copies the row's cells, in column order, into dest. Each dest is a
// pointer: *string, *int*, *uint*, *float*, *bool, *Decimal, *big.Rat,
// *time.Time, *time.Duration, *UUID, *[]byte, *[]float32, *json.RawMessage,
// *FileRef, *any, an encoding.TextUnmarshaler or json.Unmarshaler, or a
// pointer to a pointer of those to accept NULL (set to nil). A NULL into a
// non-pointer target is an error.
func (r Row) Scan(dest ...any) error {
	if len(dest) != len(r.cells) {
		return fmt.Errorf("sdk: Scan: %d destinations for %d columns", len(dest), len(r.cells))
	}
	for i, d := range dest {
		if err := r.scanCell(i, d); err != nil {
			return err
		}
	}
	return nil
}

// ScanStruct fills the fields of the struct dest points to from the columns
// with the same name: the `kalam:"col"` tag, else the field name compared
// case-insensitively. `kalam:"-"` skips a field. Columns without a field are
// ignored; a tagged field without a column is an error.
func (r Row) ScanStruct(dest any) error {
	rv := reflect.ValueOf(dest)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("sdk: ScanStruct: need a non-nil pointer to a struct, got %T", dest)
	}
	if r.res == nil {
		return errors.New("sdk: zero Row")
	}
	plan, err := r.res.structPlan(rv.Elem().Type())
	if err != nil {
		return err
	}
	return r.scanPlanned(rv.Elem(), plan)
}

// scanPlanned fills struct sv by a plan made for its type and this
// row's columns.
func (r Row) scanPlanned(sv reflect.Value, plan []fieldPlan) error {
	for _, f := range plan {
		var fv reflect.Value
		if len(f.field) == 1 {
			fv = sv.Field(f.field[0])
		} else {
			var err error
			if fv, err = sv.FieldByIndexErr(f.field); err != nil {
				return fmt.Errorf("sdk: ScanStruct into %s: column %q: %w", sv.Type(), r.res.Columns[f.col].Name, err)
			}
		}
		// A pointer fits an interface without allocating.
		if err := r.scanCell(f.col, fv.Addr().Interface()); err != nil {
			return err
		}
	}
	return nil
}

// CollectRows scans every row of the result's first statement into a T (a
// struct, see Row.ScanStruct). The field mapping is planned once.
func CollectRows[T any](res *Result) ([]T, error) {
	if res == nil || res.StatementResult == nil {
		return nil, errors.New("sdk: CollectRows: nil result")
	}
	out := make([]T, len(res.rows))
	if len(out) == 0 {
		return out, nil
	}
	t := reflect.TypeOf(out).Elem()
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("sdk: CollectRows: need a struct type, got %s", t)
	}
	plan, err := res.structPlan(t)
	if err != nil {
		return nil, err
	}
	all := reflect.ValueOf(out)
	for i, row := range res.rows {
		if err := row.scanPlanned(all.Index(i), plan); err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
	}
	return out, nil
}

type fieldPlan struct {
	col   int
	field []int
}

// cachedPlan is the last struct plan made for a result: rows of one
// result scanned one by one (ScanStruct in a loop) reuse it.
type cachedPlan struct {
	t    reflect.Type
	plan []fieldPlan
}

// structPlan maps struct fields to column indexes for this result.
func (s *StatementResult) structPlan(t reflect.Type) ([]fieldPlan, error) {
	if c := s.plan.Load(); c != nil && c.t == t {
		return c.plan, nil
	}
	plan, err := s.makeStructPlan(t)
	if err == nil {
		s.plan.Store(&cachedPlan{t: t, plan: plan})
	}
	return plan, err
}

func (s *StatementResult) makeStructPlan(t reflect.Type) ([]fieldPlan, error) {
	var plan []fieldPlan
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		tag, tagged := f.Tag.Lookup("kalam")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		col := s.ColumnIndex(name)
		if col < 0 {
			if tagged {
				return nil, fmt.Errorf("sdk: field %s.%s: no column %q in the result", t.Name(), f.Name, name)
			}
			continue
		}
		plan = append(plan, fieldPlan{col: col, field: f.Index})
	}
	return plan, nil
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// scanCell converts cell i into dest; it is the one place where wire values
// become Go values.
func (r Row) scanCell(i int, dest any) error {
	col := r.res.Columns[i]
	if err := convertCell(col.Type, r.cells[i], dest); err != nil {
		return &ScanError{Column: col.Name, Type: col.Type, Target: fmt.Sprintf("%T", dest), Err: err}
	}
	return nil
}

// ScanError reports a cell that could not be converted.
type ScanError struct {
	Column string
	Type   DataType
	Target string
	Err    error
}

func (e *ScanError) Error() string {
	return fmt.Sprintf("sdk: column %q (%s) into %s: %v", e.Column, e.Type, e.Target, e.Err)
}

func (e *ScanError) Unwrap() error { return e.Err }

// ErrNull is wrapped by a ScanError when a NULL meets a target that cannot
// hold it.
var ErrNull = errors.New("value is NULL (scan into a pointer to accept NULL)")

func convertCell(dt DataType, raw json.RawMessage, dest any) error {
	if dest == nil {
		return errors.New("destination is nil")
	}
	null := isNull(raw)
	switch d := dest.(type) {
	case *any:
		if null {
			*d = nil
			return nil
		}
		v, err := naturalValue(dt, raw)
		*d = v
		return err
	case *json.RawMessage:
		if null {
			*d = nil
			return nil
		}
		if dt.Kind == KindJSON && raw[0] == '"' {
			s, err := unquote(raw)
			if err != nil {
				return err
			}
			if !json.Valid([]byte(s)) {
				return errors.New("Json cell does not hold valid JSON text")
			}
			*d = json.RawMessage(s)
			return nil
		}
		*d = append((*d)[:0], raw...)
		return nil
	}
	// The common scalar targets skip reflection.
	switch d := dest.(type) {
	case *int64:
		if null {
			return ErrNull
		}
		n, err := parseInt(raw)
		*d = n
		return err
	case *int:
		if null {
			return ErrNull
		}
		n, err := parseInt(raw)
		if err == nil && int64(int(n)) != n {
			return fmt.Errorf("%d overflows int", n)
		}
		*d = int(n)
		return err
	case *float64:
		if null {
			return ErrNull
		}
		f, err := parseFloat64(raw)
		*d = f
		return err
	}
	rv := reflect.ValueOf(dest)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("destination must be a non-nil pointer, got %T", dest)
	}
	if rv.Elem().Kind() == reflect.Pointer {
		if null {
			rv.Elem().Set(reflect.Zero(rv.Elem().Type()))
			return nil
		}
		fresh := reflect.New(rv.Elem().Type().Elem())
		if err := convertCell(dt, raw, fresh.Interface()); err != nil {
			return err
		}
		rv.Elem().Set(fresh)
		return nil
	}
	if null {
		return ErrNull
	}
	switch d := dest.(type) {
	case *string:
		s, err := textOf(raw)
		*d = s
		return err
	case *bool:
		switch string(raw) {
		case "true", `"true"`:
			*d = true
		case "false", `"false"`:
			*d = false
		default:
			return fmt.Errorf("%s is not a boolean", snippet(raw))
		}
		return nil
	case *Decimal:
		s, err := numberText(raw)
		if err != nil {
			return err
		}
		v, err := ParseDecimal(s)
		*d = v
		return err
	case *big.Rat:
		s, err := numberText(raw)
		if err != nil {
			return err
		}
		if _, ok := d.SetString(s); !ok {
			return fmt.Errorf("%q is not a number", s)
		}
		return nil
	case *time.Time:
		t, err := timeOf(dt, raw)
		*d = t
		return err
	case *time.Duration:
		n, err := parseInt(raw)
		if err != nil {
			return err
		}
		if n > math.MaxInt64/int64(time.Microsecond) || n < math.MinInt64/int64(time.Microsecond) {
			return fmt.Errorf("%d µs overflows time.Duration", n)
		}
		*d = time.Duration(n) * time.Microsecond
		return nil
	case *[]byte:
		b, err := bytesOf(raw)
		*d = b
		return err
	case *[]float32:
		v, err := vectorOf(raw)
		*d = v
		return err
	case *UUID:
		b := []byte(raw)
		if len(b) < 2 || b[0] != '"' {
			return fmt.Errorf("%s is not a UUID string", snippet(raw))
		}
		u, err := parseUUID(b[1 : len(b)-1])
		*d = u
		return err
	case *FileRef:
		f, err := ParseFileRef(raw)
		*d = f
		return err
	case encoding.TextUnmarshaler:
		s, err := textOf(raw)
		if err != nil {
			return err
		}
		return d.UnmarshalText([]byte(s))
	case json.Unmarshaler:
		return d.UnmarshalJSON(raw)
	}
	ev := rv.Elem()
	switch ev.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := parseInt(raw)
		if err != nil {
			return err
		}
		if ev.OverflowInt(n) {
			return fmt.Errorf("%d overflows %s", n, ev.Type())
		}
		ev.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		s, err := numberText(raw)
		if err != nil {
			return err
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a non-negative integer", s)
		}
		if ev.OverflowUint(n) {
			return fmt.Errorf("%d overflows %s", n, ev.Type())
		}
		ev.SetUint(n)
		return nil
	case reflect.Float32, reflect.Float64:
		s, err := numberText(raw)
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(s, ev.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a %s", s, ev.Type())
		}
		ev.SetFloat(f)
		return nil
	case reflect.String:
		s, err := textOf(raw)
		ev.SetString(s)
		return err
	case reflect.Bool:
		var b bool
		if err := convertCell(dt, raw, &b); err != nil {
			return err
		}
		ev.SetBool(b)
		return nil
	}
	return fmt.Errorf("unsupported destination type %T", dest)
}

// naturalValue picks the Go value for a cell by its column type.
func naturalValue(dt DataType, raw json.RawMessage) (any, error) {
	switch dt.Kind {
	case KindBoolean:
		var b bool
		return b, convertCell(dt, raw, &b)
	case KindSmallInt, KindInt, KindBigInt:
		n, err := parseInt(raw)
		if err != nil {
			// A UInt64 above MaxInt64 is typed BigInt too; keep it exact.
			if s, serr := numberText(raw); serr == nil {
				if u, uerr := strconv.ParseUint(s, 10, 64); uerr == nil {
					return u, nil
				}
			}
		}
		return n, err
	case KindFloat, KindDouble:
		var f float64
		return f, convertCell(dt, raw, &f)
	case KindDecimal:
		var d Decimal
		return d, convertCell(dt, raw, &d)
	case KindBytes:
		return bytesOf(raw)
	case KindJSON:
		var j json.RawMessage
		return j, convertCell(dt, raw, &j)
	case KindTimestamp, KindDateTime, KindDate:
		return timeOf(dt, raw)
	case KindTime:
		var d time.Duration
		return d, convertCell(dt, raw, &d)
	case KindEmbedding:
		return vectorOf(raw)
	case KindFile:
		return ParseFileRef(raw)
	case KindText, KindUUID:
		if raw[0] == '"' {
			return unquote(raw)
		}
	}
	v, err := jsonscan.DecodeAny(raw)
	if err != nil {
		return nil, fmt.Errorf("malformed cell %s: %w", snippet(raw), err)
	}
	return v, nil
}

func unquote(raw json.RawMessage) (string, error) {
	// Fast path: no escapes.
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && !strings.ContainsAny(string(raw[1:len(raw)-1]), `\"`) {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := jsonscan.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s is not a string", snippet(raw))
	}
	return s, nil
}

// textOf accepts strings, and numbers and booleans as their JSON text.
func textOf(raw json.RawMessage) (string, error) {
	switch raw[0] {
	case '"':
		return unquote(raw)
	case '[', '{':
		return "", fmt.Errorf("%s is not text", snippet(raw))
	}
	return string(raw), nil
}

// numberText returns the digits of a number sent as a JSON number or a
// numeric string (BigInt, UInt64 and Decimal are strings on the wire).
func numberText(raw json.RawMessage) (string, error) {
	s := string(raw)
	if raw[0] == '"' {
		var err error
		if s, err = unquote(raw); err != nil {
			return "", err
		}
	}
	if s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
		return "", fmt.Errorf("%s is not a number", snippet(raw))
	}
	return s, nil
}

// parseInt reads an integer sent as a JSON number or a numeric string
// without going through float64 (or allocating, on the common path).
func parseInt(raw json.RawMessage) (int64, error) {
	b := []byte(raw)
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	if n, ok := parseDecimalInt(b); ok {
		return n, nil
	}
	s, err := numberText(raw)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("%s overflows int64", s)
		}
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return n, nil
}

// parseDecimalInt parses [-]digits that fit an int64; ok is false for
// anything else (the caller then takes the slow path for a precise error).
func parseDecimalInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	switch {
	case !neg && u <= math.MaxInt64:
		return int64(u), true
	case neg && u <= 1<<63:
		return -int64(u-1) - 1, true
	}
	return 0, false
}

// timeOf reads µs since the epoch (Timestamp, DateTime), days since the
// epoch (Date), or an RFC 3339 string (computed Text columns).
func timeOf(dt DataType, raw json.RawMessage) (time.Time, error) {
	if raw[0] == '"' {
		s, err := unquote(raw)
		if err != nil {
			return time.Time{}, err
		}
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02"} {
				if t, err := time.Parse(layout, s); err == nil {
					return t.UTC(), nil
				}
			}
			return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
		}
	}
	n, err := parseInt(raw)
	if err != nil {
		return time.Time{}, err
	}
	if dt.Kind == KindDate {
		return time.Unix(n*86400, 0).UTC(), nil
	}
	// Expressions such as NOW() come typed Timestamp but in nanoseconds;
	// µs values stay below 1e17 until the year 5138.
	if n >= 1e17 || n <= -1e17 {
		return time.Unix(0, n).UTC(), nil
	}
	return time.UnixMicro(n).UTC(), nil
}

func bytesOf(raw json.RawMessage) ([]byte, error) {
	switch raw[0] {
	case '[':
		if b, ok := byteArray(raw); ok {
			return b, nil
		}
		var nums []int
		if err := jsonscan.Unmarshal(raw, &nums); err != nil {
			return nil, fmt.Errorf("%s is not an array of bytes", snippet(raw))
		}
		b := make([]byte, len(nums))
		for i, n := range nums {
			if n < 0 || n > 255 {
				return nil, fmt.Errorf("byte %d is %d, outside 0..255", i, n)
			}
			b[i] = byte(n)
		}
		return b, nil
	case '"':
		s, err := unquote(raw)
		return []byte(s), err
	}
	return nil, fmt.Errorf("%s is not bytes", snippet(raw))
}

// byteArray reads a plain [n,n,...] of 0..255 into exactly one
// allocation of the result's size (a 16 MiB value went through an []int
// of 128 MiB); ok is false for anything else, left to json.Unmarshal.
func byteArray(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '[' || raw[len(raw)-1] != ']' {
		return nil, false
	}
	body := raw[1 : len(raw)-1]
	if len(body) == 0 {
		return []byte{}, true
	}
	out := make([]byte, 0, bytes.Count(body, []byte{','})+1)
	v, digits := 0, 0
	for _, c := range body {
		switch {
		case c >= '0' && c <= '9':
			if digits > 0 && v == 0 {
				return nil, false // a leading zero is not JSON
			}
			v = v*10 + int(c-'0')
			digits++
			if v > 255 || digits > 3 {
				return nil, false
			}
		case c == ',' && digits > 0:
			out = append(out, byte(v))
			v, digits = 0, 0
		default:
			return nil, false
		}
	}
	if digits == 0 {
		return nil, false
	}
	return append(out, byte(v)), true
}

// vectorOf reads an Embedding: a JSON array, or the same as JSON text.
func vectorOf(raw json.RawMessage) ([]float32, error) {
	src := []byte(raw)
	if raw[0] == '"' {
		s, err := unquote(raw)
		if err != nil {
			return nil, err
		}
		src = []byte(s)
	}
	var v []float32
	if err := jsonscan.Unmarshal(src, &v); err != nil {
		return nil, fmt.Errorf("%s is not a vector of numbers", snippet(raw))
	}
	return v, nil
}

package kalamsql

import (
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
)

// rows iterates over a reply the SDK already holds in memory (KalamDB sends
// a whole result at once), one result set per statement.
type rows struct {
	sets    []*sdk.StatementResult
	set     int
	pos     int
	targets []any // decode targets of the current set, reused row to row
}

var (
	_ driver.RowsNextResultSet              = (*rows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeScanType         = (*rows)(nil)
	_ driver.RowsColumnTypeNullable         = (*rows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*rows)(nil)
	_ driver.RowsColumnTypeLength           = (*rows)(nil)
)

func newRows(res *sdk.Result) *rows { return &rows{sets: res.Results()} }

func (r *rows) cur() *sdk.StatementResult {
	if r.set < len(r.sets) {
		return r.sets[r.set]
	}
	return nil
}

func (r *rows) Columns() []string {
	cur := r.cur()
	if cur == nil {
		return nil
	}
	names := make([]string, len(cur.Columns))
	for i, c := range cur.Columns {
		names[i] = c.Name
	}
	return names
}

func (r *rows) Close() error {
	r.sets, r.set = nil, 0
	return nil
}

func (r *rows) HasNextResultSet() bool { return r.set+1 < len(r.sets) }

func (r *rows) NextResultSet() error {
	if !r.HasNextResultSet() {
		return io.EOF
	}
	r.set++
	r.pos, r.targets = 0, nil
	return nil
}

func (r *rows) Next(dest []driver.Value) error {
	cur := r.cur()
	if cur == nil {
		return io.EOF
	}
	all := cur.Rows()
	if r.pos >= len(all) {
		return io.EOF
	}
	row := all[r.pos]
	r.pos++
	if r.targets == nil {
		r.targets = make([]any, len(cur.Columns))
		for i, c := range cur.Columns {
			r.targets[i] = target(c.Type.Kind)
		}
	}
	// Scan overwrites every target (nil or a fresh value), and driverValue
	// copies the value out, so reusing them is safe.
	if err := row.Scan(r.targets...); err != nil {
		return err
	}
	for i, c := range cur.Columns {
		v, err := driverValue(c.Type.Kind, r.targets[i])
		if err != nil {
			return fmt.Errorf("kalamsql: column %q: %w", c.Name, err)
		}
		dest[i] = v
	}
	return nil
}

// target is what the SDK decodes a cell of kind k into: a pointer to a
// pointer so NULL arrives as nil, or the raw cell where the driver renders
// the text itself.
func target(k sdk.Kind) any {
	switch k {
	case sdk.KindBoolean:
		return new(*bool)
	case sdk.KindSmallInt, sdk.KindInt, sdk.KindBigInt:
		return new(*int64)
	case sdk.KindFloat, sdk.KindDouble:
		return new(*float64)
	case sdk.KindBytes:
		return new(*[]byte)
	case sdk.KindTimestamp, sdk.KindDateTime, sdk.KindDate:
		return new(*time.Time)
	case sdk.KindTime:
		return new(*time.Duration)
	case sdk.KindJSON, sdk.KindEmbedding, sdk.KindUnknown:
		return new(json.RawMessage)
	default: // Decimal (exact text), Text, Uuid, File (FileRef JSON)
		return new(*string)
	}
}

// driverValue turns a decoded cell into a database/sql value: int64,
// float64, bool, string, []byte, time.Time or nil. Decimals stay text so
// they scan exactly into string or sdk.Decimal.
func driverValue(k sdk.Kind, t any) (driver.Value, error) {
	switch p := t.(type) {
	case **bool:
		if *p == nil {
			return nil, nil
		}
		return **p, nil
	case **int64:
		if *p == nil {
			return nil, nil
		}
		return **p, nil
	case **float64:
		if *p == nil {
			return nil, nil
		}
		return **p, nil
	case **[]byte:
		if *p == nil {
			return nil, nil
		}
		return **p, nil
	case **time.Time:
		if *p == nil {
			return nil, nil
		}
		return **p, nil
	case **time.Duration:
		if *p == nil {
			return nil, nil
		}
		return formatTimeOfDay(**p), nil
	case **string:
		if *p == nil {
			return nil, nil
		}
		return **p, nil
	case *json.RawMessage:
		if *p == nil || string(*p) == "null" {
			return nil, nil
		}
		switch k {
		case sdk.KindJSON: // the document's text (the SDK unwrapped the string)
			return []byte(*p), nil
		case sdk.KindEmbedding: // "[0.1,0.2]", the form KalamDB accepts back
			return string(*p), nil
		}
		var s string
		if json.Unmarshal(*p, &s) == nil {
			return s, nil
		}
		return string(*p), nil
	}
	return nil, fmt.Errorf("internal: unexpected target %T", t)
}

// formatTimeOfDay renders a TIME cell as KalamDB accepts it back ("10:00:00",
// with microseconds when present).
func formatTimeOfDay(d time.Duration) string {
	us := d.Microseconds()
	h, m, s, f := us/3_600_000_000, us/60_000_000%60, us/1_000_000%60, us%1_000_000
	if f == 0 {
		return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	}
	return strings.TrimRight(fmt.Sprintf("%02d:%02d:%02d.%06d", h, m, s, f), "0")
}

func (r *rows) col(i int) sdk.Column { return r.cur().Columns[i] }

// ColumnTypeDatabaseTypeName returns KalamDB's SQL type name (as DESCRIBE
// TABLE spells it), without parameters: BIGINT, DECIMAL, EMBEDDING, FILE, ...
func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	return TypeName(r.col(i).Type)
}

// TypeName is the SQL name of a KalamDB type.
func TypeName(t sdk.DataType) string {
	switch t.Kind {
	case sdk.KindBoolean:
		return "BOOLEAN"
	case sdk.KindSmallInt:
		return "SMALLINT"
	case sdk.KindInt:
		return "INT"
	case sdk.KindBigInt:
		return "BIGINT"
	case sdk.KindFloat:
		return "FLOAT"
	case sdk.KindDouble:
		return "DOUBLE"
	case sdk.KindDecimal:
		return "DECIMAL"
	case sdk.KindText:
		return "TEXT"
	case sdk.KindBytes:
		return "BYTES"
	case sdk.KindJSON:
		return "JSON"
	case sdk.KindTimestamp:
		return "TIMESTAMP"
	case sdk.KindDateTime:
		return "DATETIME"
	case sdk.KindDate:
		return "DATE"
	case sdk.KindTime:
		return "TIME"
	case sdk.KindUUID:
		return "UUID"
	case sdk.KindEmbedding:
		return "EMBEDDING"
	case sdk.KindFile:
		return "FILE"
	}
	return strings.ToUpper(t.Name)
}

var (
	tBool      = reflect.TypeFor[bool]()
	tInt64     = reflect.TypeFor[int64]()
	tFloat64   = reflect.TypeFor[float64]()
	tString    = reflect.TypeFor[string]()
	tBytes     = reflect.TypeFor[[]byte]()
	tTime      = reflect.TypeFor[time.Time]()
	tRaw       = reflect.TypeFor[json.RawMessage]()
	tDecimal   = reflect.TypeFor[sdk.Decimal]()
	tUUID      = reflect.TypeFor[sdk.UUID]()
	tFile      = reflect.TypeFor[sdk.FileRef]()
	tNullBool  = reflect.TypeFor[sql.NullBool]()
	tNullInt   = reflect.TypeFor[sql.NullInt64]()
	tNullFloat = reflect.TypeFor[sql.NullFloat64]()
	tNullStr   = reflect.TypeFor[sql.NullString]()
	tNullTime  = reflect.TypeFor[sql.NullTime]()
	tNullDec   = reflect.TypeFor[sql.Null[sdk.Decimal]]()
	tNullUUID  = reflect.TypeFor[sql.Null[sdk.UUID]]()
	tNullFile  = reflect.TypeFor[sql.Null[sdk.FileRef]]()
)

// ColumnTypeScanType is the Go type a column scans into without loss;
// nullable columns get the sql.Null form.
func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	c := r.col(i)
	pick := func(t, null reflect.Type) reflect.Type {
		if c.NotNull {
			return t
		}
		return null
	}
	switch c.Type.Kind {
	case sdk.KindBoolean:
		return pick(tBool, tNullBool)
	case sdk.KindSmallInt, sdk.KindInt, sdk.KindBigInt:
		return pick(tInt64, tNullInt)
	case sdk.KindFloat, sdk.KindDouble:
		return pick(tFloat64, tNullFloat)
	case sdk.KindDecimal:
		return pick(tDecimal, tNullDec)
	case sdk.KindUUID:
		return pick(tUUID, tNullUUID)
	case sdk.KindFile:
		return pick(tFile, tNullFile)
	case sdk.KindBytes:
		return tBytes
	case sdk.KindJSON:
		return tRaw
	case sdk.KindTimestamp, sdk.KindDateTime, sdk.KindDate:
		return pick(tTime, tNullTime)
	}
	return pick(tString, tNullStr)
}

// ColumnTypeNullable: KalamDB flags NOT NULL columns ("nn"); computed
// expressions carry no flags and are reported nullable.
func (r *rows) ColumnTypeNullable(i int) (nullable, ok bool) {
	return !r.col(i).NotNull, true
}

// ColumnTypePrecisionScale reports DECIMAL(p,s).
func (r *rows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	t := r.col(i).Type
	if t.Kind != sdk.KindDecimal {
		return 0, 0, false
	}
	return int64(t.Precision), int64(t.Scale), true
}

// ColumnTypeLength reports an EMBEDDING's dimension.
func (r *rows) ColumnTypeLength(i int) (length int64, ok bool) {
	t := r.col(i).Type
	if t.Kind != sdk.KindEmbedding {
		return 0, false
	}
	return int64(t.Dim), true
}

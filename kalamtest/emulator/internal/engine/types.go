package engine

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// kType is a KalamDataType (sql-model §4.1). SQLite's affinities cannot
// recover it, so the catalog keeps it per column.
type kType struct {
	Name      string `json:"name"`
	Precision int    `json:"precision,omitempty"`
	Scale     int    `json:"scale,omitempty"`
	Dim       int    `json:"dim,omitempty"`
}

var (
	tBoolean   = kType{Name: "Boolean"}
	tSmallInt  = kType{Name: "SmallInt"}
	tInt       = kType{Name: "Int"}
	tBigInt    = kType{Name: "BigInt"}
	tFloat     = kType{Name: "Float"}
	tDouble    = kType{Name: "Double"}
	tText      = kType{Name: "Text"}
	tBytes     = kType{Name: "Bytes"}
	tJSON      = kType{Name: "Json"}
	tTimestamp = kType{Name: "Timestamp"}
	tDateTime  = kType{Name: "DateTime"}
	tDate      = kType{Name: "Date"}
	tTime      = kType{Name: "Time"}
	tUUID      = kType{Name: "Uuid"}
	tFile      = kType{Name: "File"}
	// tNowNanos is DataFusion's NOW(): Timestamp(ns) on the wire, stored by
	// the engine in µs like every timestamp (http-api §6.5: raw unit).
	tNowNanos = kType{Name: "Timestamp", Scale: 9}
)

// typeSpellings maps SQL type names (sql-model §4.1) to their KalamDataType.
var typeSpellings = map[string]kType{
	"BOOLEAN": tBoolean, "BOOL": tBoolean,
	"SMALLINT": tSmallInt, "INT2": tSmallInt, "SMALLSERIAL": tSmallInt, "TINYINT": tSmallInt,
	"INT": tInt, "INTEGER": tInt, "INT4": tInt, "MEDIUMINT": tInt, "SERIAL": tInt,
	"BIGINT": tBigInt, "INT8": tBigInt, "BIGSERIAL": tBigInt,
	"FLOAT": tFloat, "REAL": tFloat, "FLOAT4": tFloat,
	"DOUBLE": tDouble, "FLOAT8": tDouble,
	"TEXT": tText, "VARCHAR": tText, "CHAR": tText, "STRING": tText, "NVARCHAR": tText, "CHARACTER": tText,
	"BYTES": tBytes, "BINARY": tBytes, "VARBINARY": tBytes, "BLOB": tBytes, "BYTEA": tBytes,
	"JSON": tJSON, "JSONB": tJSON,
	"TIMESTAMP": tTimestamp, "TIMESTAMPTZ": tTimestamp,
	"DATETIME": tDateTime,
	"DATE":     tDate,
	"TIME":     tTime,
	"UUID":     tUUID,
	"FILE":     tFile,
}

// dataTypeJSON is the serde external tagging the wire uses.
func (t kType) dataTypeJSON() json.RawMessage {
	switch t.Name {
	case "Decimal":
		return json.RawMessage(fmt.Sprintf(`{"Decimal":{"precision":%d,"scale":%d}}`, t.Precision, t.Scale))
	case "Embedding":
		return json.RawMessage(fmt.Sprintf(`{"Embedding":%d}`, t.Dim))
	}
	return json.RawMessage(`"` + t.Name + `"`)
}

// sqlName is the SQL spelling DESCRIBE TABLE shows.
func (t kType) sqlName() string {
	switch t.Name {
	case "Decimal":
		return fmt.Sprintf("DECIMAL(%d, %d)", t.Precision, t.Scale)
	case "Embedding":
		return fmt.Sprintf("EMBEDDING(%d)", t.Dim)
	case "Text":
		return "TEXT"
	case "Uuid":
		return "UUID"
	case "Json":
		return "JSON"
	}
	return strings.ToUpper(t.Name)
}

// sqliteType is the physical column type.
func (t kType) sqliteType() string {
	switch t.Name {
	case "Boolean", "SmallInt", "Int", "BigInt", "Timestamp", "DateTime", "Date", "Time":
		return "INTEGER"
	case "Float", "Double", "Decimal":
		return "REAL"
	case "Bytes":
		return "BLOB"
	}
	return "TEXT"
}

// castError is DataFusion's wording for a failed cast.
func castError(v any, t kType) error {
	return fmt.Errorf("Arrow error: Cast error: Cannot cast value '%v' to %s", describeValue(v), t.Name)
}

func describeValue(v any) string {
	switch x := v.(type) {
	case []byte:
		return hex.EncodeToString(x)
	case nil:
		return "NULL"
	}
	return fmt.Sprint(v)
}

// coerce converts an SQLite value (nil, int64, float64, string, []byte) to
// the stored form of t, as DataFusion would cast on insert or comparison.
func coerce(t kType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t.Name {
	case "Boolean":
		switch x := v.(type) {
		case int64:
			return boolInt(x != 0), nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true", "t", "1", "yes", "y", "on":
				return int64(1), nil
			case "false", "f", "0", "no", "n", "off":
				return int64(0), nil
			}
		}
	case "SmallInt", "Int", "BigInt":
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case float64:
			if math.Abs(x) >= 9.223372036854775807e18 {
				// arrow_json_conversion.rs (kalamdb-commons) names the column.
				g := strings.Replace(strconv.FormatFloat(x, 'g', -1, 64), "e+", "e", 1)
				return nil, &coercionError{fmt.Sprintf("Unable to cast value Float64 to %s for column '%%s': Arrow error: Cast error: Can't cast value %s to type %s", arrowIntName(t.Name), g, arrowIntName(t.Name))}
			}
			if x != math.Trunc(x) {
				return nil, castError(v, t)
			}
			n = int64(x)
		case string:
			p, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return nil, castError(v, t)
			}
			n = p
		default:
			return nil, castError(v, t)
		}
		if t.Name == "SmallInt" && (n < math.MinInt16 || n > math.MaxInt16) ||
			t.Name == "Int" && (n < math.MinInt32 || n > math.MaxInt32) {
			return nil, fmt.Errorf("Arrow error: Cast error: Can't cast value %d to type %s", n, t.Name)
		}
		return n, nil
	case "Float", "Double", "Decimal":
		var f float64
		switch x := v.(type) {
		case int64:
			f = float64(x)
		case float64:
			f = x
		case string:
			p, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return nil, castError(v, t)
			}
			f = p
		default:
			return nil, castError(v, t)
		}
		if t.Name == "Decimal" {
			limit := math.Pow10(t.Precision - t.Scale)
			if math.Abs(f) >= limit {
				src := "Float64"
				switch v.(type) {
				case int64:
					src = "Int64"
				case string:
					src = "Utf8"
				}
				max := strconv.FormatFloat(limit-math.Pow10(-t.Scale), 'f', t.Scale, 64)
				return nil, &coercionError{fmt.Sprintf("Unable to cast value %s to Decimal128(%d, %d) for column '%%s': Arrow error: Invalid argument error: %s is too large to store in a Decimal128 of precision %d. Max is %s",
					src, t.Precision, t.Scale, strconv.FormatFloat(f, 'f', t.Scale, 64), t.Precision, max)}
			}
		}
		return f, nil
	case "Text", "Json", "File":
		switch x := v.(type) {
		case string:
			return x, nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			return formatFloat(x, 64), nil
		case []byte:
			return string(x), nil
		}
	case "Bytes":
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	case "Uuid":
		switch x := v.(type) {
		case string:
			if u, ok := canonicalUUID(x); ok {
				return u, nil
			}
			return nil, &coercionError{fmt.Sprintf("Invalid UUID literal '%s' for column '%%s': %s", x, uuidProblem(x))}
		case []byte:
			if len(x) == 16 {
				return formatUUID(x), nil
			}
		}
	case "Timestamp", "DateTime":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			return int64(x), nil
		case string:
			if us, ok := parseTimestampMicros(x); ok {
				return us, nil
			}
			return nil, fmt.Errorf("Arrow error: Parser error: Error parsing timestamp from '%s'", x)
		}
	case "Date":
		switch x := v.(type) {
		case int64:
			return x, nil
		case string:
			d, err := time.Parse("2006-01-02", strings.TrimSpace(x))
			if err != nil {
				if us, ok := parseTimestampMicros(x); ok {
					return floorDiv(us, 86400e6), nil
				}
				return nil, fmt.Errorf("Arrow error: Cast error: Cannot cast string '%s' to value of Date32 type", x)
			}
			return d.Unix() / 86400, nil
		}
	case "Time":
		switch x := v.(type) {
		case int64:
			return x, nil
		case string:
			for _, layout := range []string{"15:04:05.999999999", "15:04"} {
				if tm, err := time.Parse(layout, strings.TrimSpace(x)); err == nil {
					return int64(tm.Hour())*3600e6 + int64(tm.Minute())*60e6 + int64(tm.Second())*1e6 + int64(tm.Nanosecond()/1000), nil
				}
			}
			return nil, fmt.Errorf("Arrow error: Cast error: Cannot cast string '%s' to value of Time64(Microsecond) type", x)
		}
	case "Embedding":
		s, ok := v.(string)
		if !ok {
			return nil, castError(v, t)
		}
		var vals []float64
		if err := json.Unmarshal([]byte(s), &vals); err != nil {
			return nil, fmt.Errorf("Invalid embedding literal '%s': expected a JSON array of numbers", s)
		}
		if len(vals) != t.Dim {
			return nil, &coercionError{fmt.Sprintf("Embedding dimension mismatch for column '%%s': expected %d, got %d", t.Dim, len(vals))}
		}
		parts := make([]string, len(vals))
		for i, f := range vals {
			parts[i] = formatFloat(float64(float32(f)), 32)
		}
		return "[" + strings.Join(parts, ",") + "]", nil
	}
	return nil, castError(v, t)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// parseTimestampMicros accepts the literal forms DataFusion casts to a
// timestamp; a value without a zone is UTC.
func parseTimestampMicros(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02 15:04",
		"2006-01-02T15:04",
		"2006-01-02",
	} {
		if tm, err := time.Parse(layout, s); err == nil {
			return tm.UnixMicro(), true
		}
	}
	return 0, false
}

func canonicalUUID(s string) (string, bool) {
	h := strings.ReplaceAll(strings.TrimSpace(s), "-", "")
	h = strings.TrimSuffix(strings.TrimPrefix(h, "{"), "}")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 16 {
		return "", false
	}
	return formatUUID(b), true
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// formatFloat renders like serde_json (ryu): shortest round-trip digits,
// "100.0" for integral values, exponent form outside [1e-5, 1e16).
func formatFloat(f float64, bits int) string {
	a := math.Abs(f)
	if a != 0 && (a < 1e-5 || a >= 1e16) {
		s := strconv.FormatFloat(f, 'e', -1, bits)
		mant, exp, _ := strings.Cut(s, "e")
		exp = strings.TrimPrefix(exp, "+")
		neg := strings.HasPrefix(exp, "-")
		exp = strings.TrimLeft(strings.TrimPrefix(exp, "-"), "0")
		if neg {
			exp = "-" + exp
		}
		return mant + "e" + exp
	}
	s := strconv.FormatFloat(f, 'f', -1, bits)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// encodeCell renders a stored value per http-api §6.5.
func encodeCell(t kType, v any) (json.RawMessage, error) {
	if v == nil {
		return json.RawMessage("null"), nil
	}
	switch t.Name {
	case "Boolean":
		if n, ok := v.(int64); ok {
			if n != 0 {
				return json.RawMessage("true"), nil
			}
			return json.RawMessage("false"), nil
		}
	case "SmallInt", "Int", "Timestamp", "DateTime", "Date", "Time":
		switch x := v.(type) {
		case int64:
			if t == tNowNanos {
				x *= 1000
			}
			return json.RawMessage(strconv.FormatInt(x, 10)), nil
		case float64:
			return json.RawMessage(strconv.FormatInt(int64(x), 10)), nil
		}
	case "BigInt":
		switch x := v.(type) {
		case int64:
			return json.RawMessage(`"` + strconv.FormatInt(x, 10) + `"`), nil
		case float64:
			return json.RawMessage(`"` + strconv.FormatInt(int64(x), 10) + `"`), nil
		}
	case "Float", "Double":
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			f = float64(x)
		default:
			return nil, fmt.Errorf("cannot encode %T as %s", v, t.Name)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("cannot serialize non-finite float %v", f)
		}
		if t.Name == "Float" {
			return json.RawMessage(formatFloat(float64(float32(f)), 32)), nil
		}
		return json.RawMessage(formatFloat(f, 64)), nil
	case "Decimal":
		switch x := v.(type) {
		case float64:
			return json.RawMessage(`"` + strconv.FormatFloat(x, 'f', t.Scale, 64) + `"`), nil
		case int64:
			return json.RawMessage(`"` + strconv.FormatFloat(float64(x), 'f', t.Scale, 64) + `"`), nil
		}
	case "Bytes":
		var b []byte
		switch x := v.(type) {
		case []byte:
			b = x
		case string:
			b = []byte(x)
		}
		var sb strings.Builder
		sb.WriteByte('[')
		for i, c := range b {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(strconv.Itoa(int(c)))
		}
		sb.WriteByte(']')
		return json.RawMessage(sb.String()), nil
	case "Embedding":
		if s, ok := v.(string); ok {
			return json.RawMessage(s), nil
		}
	default: // Text, Json, File, Uuid
		switch x := v.(type) {
		case string:
			return jsonString(x), nil
		case int64:
			return jsonString(strconv.FormatInt(x, 10)), nil
		case float64:
			return jsonString(formatFloat(x, 64)), nil
		case []byte:
			return jsonString(string(x)), nil
		}
	}
	return nil, fmt.Errorf("cannot encode stored %T value as %s", v, t.Name)
}

// inferType is the KalamDataType of a computed value (http-api §6.4:
// integers are Int64 → BigInt, reals Float64 → Double, else Text).
func inferType(v any) kType {
	switch v.(type) {
	case int64:
		return tBigInt
	case float64:
		return tDouble
	case []byte:
		return tBytes
	}
	return tText
}

// coercionError is a value the server's schema coercion rejects; its text
// names the column (%s), which coerce does not know
// (kalamdb-commons conversions/arrow_json_conversion.rs).
type coercionError struct{ format string }

func (e *coercionError) Error() string { return fmt.Sprintf(e.format, "?") }

// forColumn is the server's "Schema coercion failed" text for column col.
func (e *coercionError) forColumn(col string) string {
	return "Invalid operation: Schema coercion failed: " + fmt.Sprintf(e.format, col)
}

func arrowIntName(name string) string {
	switch name {
	case "SmallInt":
		return "Int16"
	case "Int":
		return "Int32"
	}
	return "Int64"
}

// uuidProblem is the uuid crate's reason for the common shapes of a bad
// literal: the first character that is not a hex digit or '-' (1-based).
func uuidProblem(s string) string {
	for i, r := range s {
		if r != '-' && !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return fmt.Sprintf("invalid character: found `%c` at %d", r, i+1)
		}
	}
	return fmt.Sprintf("invalid length: found %d", len(s))
}

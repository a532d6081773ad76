package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonscan"
)

// Kind is a KalamDB column type (KalamDataType).
type Kind int

const (
	KindUnknown Kind = iota // a type this SDK does not know; see DataType.Name
	KindBoolean
	KindSmallInt
	KindInt
	KindBigInt
	KindFloat
	KindDouble
	KindDecimal
	KindText
	KindBytes
	KindJSON
	KindTimestamp
	KindDateTime
	KindDate
	KindTime
	KindUUID
	KindEmbedding
	KindFile
)

var kindNames = [...]string{
	KindUnknown: "Unknown", KindBoolean: "Boolean", KindSmallInt: "SmallInt", KindInt: "Int",
	KindBigInt: "BigInt", KindFloat: "Float", KindDouble: "Double", KindDecimal: "Decimal",
	KindText: "Text", KindBytes: "Bytes", KindJSON: "Json", KindTimestamp: "Timestamp",
	KindDateTime: "DateTime", KindDate: "Date", KindTime: "Time", KindUUID: "Uuid",
	KindEmbedding: "Embedding", KindFile: "File",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// DataType is a column's KalamDB type with its parameters.
type DataType struct {
	Kind Kind
	// Precision and Scale are set for KindDecimal.
	Precision, Scale int
	// Dim is the vector length of KindEmbedding.
	Dim int
	// Name is the type as the server wrote it ("BigInt", "Decimal(10,2)",
	// "Embedding(384)", or an unknown name verbatim).
	Name string
}

func (d DataType) String() string { return d.Name }

// parseDataType reads KalamDataType's serde form: a string ("BigInt") or an
// object ({"Decimal":{"precision":10,"scale":2}}, {"Embedding":384}). Unknown
// names become KindUnknown so a newer server does not break decoding.
func parseDataType(raw json.RawMessage) (DataType, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return DataType{Kind: KindUnknown, Name: "Unknown"}, nil
	}
	var name string
	if raw[0] == '"' {
		// Type names are plain ASCII; only a name with escapes needs the
		// JSON decoder (this runs for every column of every result).
		if len(raw) >= 2 && raw[len(raw)-1] == '"' && bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 {
			name = string(raw[1 : len(raw)-1])
		} else if err := jsonscan.Unmarshal(raw, &name); err != nil {
			return DataType{}, fmt.Errorf("data_type %s: %w", raw, err)
		}
		for k, n := range kindNames {
			if n == name && Kind(k) != KindUnknown {
				return DataType{Kind: Kind(k), Name: name}, nil
			}
		}
		return DataType{Kind: KindUnknown, Name: name}, nil
	}
	var obj map[string]json.RawMessage
	if err := jsonscan.Unmarshal(raw, &obj); err != nil || len(obj) != 1 {
		return DataType{}, fmt.Errorf("data_type %s is neither a name nor a one-key object", snippet(raw))
	}
	for key, val := range obj {
		switch key {
		case "Decimal":
			var p struct {
				Precision int `json:"precision"`
				Scale     int `json:"scale"`
			}
			if err := jsonscan.Unmarshal(val, &p); err != nil {
				return DataType{}, fmt.Errorf("data_type Decimal %s: %w", snippet(val), err)
			}
			return DataType{Kind: KindDecimal, Precision: p.Precision, Scale: p.Scale, Name: fmt.Sprintf("Decimal(%d,%d)", p.Precision, p.Scale)}, nil
		case "Embedding":
			var dim int
			if err := jsonscan.Unmarshal(val, &dim); err != nil {
				return DataType{}, fmt.Errorf("data_type Embedding %s: %w", snippet(val), err)
			}
			return DataType{Kind: KindEmbedding, Dim: dim, Name: fmt.Sprintf("Embedding(%d)", dim)}, nil
		default:
			return DataType{Kind: KindUnknown, Name: key}, nil
		}
	}
	return DataType{}, fmt.Errorf("data_type %s is empty", snippet(raw))
}

// Decimal is an exact decimal value as KalamDB sends it ("200.75").
type Decimal struct {
	s string
}

// ParseDecimal checks that s is a decimal number: an optional sign,
// digits with at most one '.', and an optional exponent.
func ParseDecimal(s string) (Decimal, error) {
	if !isDecimalText(s) {
		return Decimal{}, fmt.Errorf("sdk: %q is not a decimal number", s)
	}
	return Decimal{s: s}, nil
}

func isDecimalText(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		case (c == 'e' || c == 'E') && digits > 0:
			exp := s[i+1:]
			if len(exp) > 0 && (exp[0] == '-' || exp[0] == '+') {
				exp = exp[1:]
			}
			if exp == "" {
				return false
			}
			for j := 0; j < len(exp); j++ {
				if exp[j] < '0' || exp[j] > '9' {
					return false
				}
			}
			return true
		default:
			return false
		}
	}
	return digits > 0
}

// String returns the decimal exactly as the server wrote it.
func (d Decimal) String() string { return d.s }

// Rat returns the value as an exact rational.
func (d Decimal) Rat() *big.Rat {
	r, ok := new(big.Rat).SetString(d.s)
	if !ok {
		return new(big.Rat)
	}
	return r
}

// MarshalText lets a Decimal be used as a query argument (sent as a string).
func (d Decimal) MarshalText() ([]byte, error) { return []byte(d.s), nil }

// UUID is a 16-byte UUID. As an argument it is sent in canonical form.
type UUID [16]byte

func (u UUID) String() string { return formatUUID(u) }

// ParseUUID reads the canonical hyphenated form (either case) or 32 hex
// digits.
func ParseUUID(s string) (UUID, error) { return parseUUID([]byte(s)) }

func parseUUID(b []byte) (UUID, error) {
	var u UUID
	switch len(b) {
	case 36:
		if b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
			return u, fmt.Errorf("sdk: %q is not a UUID", b)
		}
	case 32:
	default:
		return u, fmt.Errorf("sdk: %q is not a UUID", b)
	}
	j := 0
	for i := 0; i < 16; i++ {
		if len(b) == 36 && (j == 8 || j == 13 || j == 18 || j == 23) {
			j++
		}
		hi, ok1 := unhex(b[j])
		lo, ok2 := unhex(b[j+1])
		if !ok1 || !ok2 {
			return u, fmt.Errorf("sdk: %q is not a UUID", b)
		}
		u[i] = hi<<4 | lo
		j += 2
	}
	return u, nil
}

// UnmarshalText lets Scan fill a UUID.
func (u *UUID) UnmarshalText(b []byte) error {
	v, err := ParseUUID(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

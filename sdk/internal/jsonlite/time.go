package jsonlite

import (
	"encoding/json"
	"errors"
	"time"
)

// Unmarshaler is json.Unmarshaler under another method name: the SDK's
// types with their own JSON decoding implement it (delegating to their
// UnmarshalJSON) so that jsonlite reaches them. jsonlite calls no method
// named UnmarshalJSON or UnmarshalText through an interface; such a call
// would make the linker keep those methods on every type that goes into
// an interface, time.Time's among them, and with them time.Parse.
type Unmarshaler interface {
	UnmarshalJSONLite([]byte) error
}

// rawMessage decodes as json.RawMessage does: a copy of the raw value.
type rawMessage json.RawMessage

func (m *rawMessage) UnmarshalJSONLite(b []byte) error {
	*m = append((*m)[0:0], b...)
	return nil
}

// timeValue decodes as time.Time.UnmarshalJSON does: null leaves it as
// is; the text between the quotes, not unescaped, is parsed as
// time.Parse(time.RFC3339, ...) parses it (Go 1.26 accepts what Parse
// accepts: its strict RFC 3339 checks are disabled, go.dev/issue/54580).
type timeValue time.Time

var errTimeNotString = errors.New("Time.UnmarshalJSON: input is not a JSON string")

func (t *timeValue) UnmarshalJSONLite(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return errTimeNotString
	}
	v, err := parseRFC3339(string(b[1 : len(b)-1]))
	*t = timeValue(v)
	return err
}

// timeFields are time.RFC3339's elements after the year, each after a
// one-byte literal, as time.Parse reads them: two digits (one allowed
// for the hour) and the range it checks there (the day is checked last,
// against the month).
var timeFields = [...]struct {
	sep, layout, name string
	fixed             bool
	min, max          int
}{
	{"-", "01", "month", true, 1, 12},
	{"-", "02", "", true, 0, 99},
	{"T", "15", "hour", false, 0, 23},
	{":", "04", "minute", true, 0, 59},
	{":", "05", "second", true, 0, 59},
}

// parseRFC3339 is time.Parse(time.RFC3339, value): the same times (zone
// included) and the same *time.ParseError values. It walks the layout's
// elements as time.Parse does: 2006 - 01 - 02 T 15 : 04 : 05 Z07:00, with
// the fractional seconds Parse accepts after the seconds.
func parseRFC3339(value string) (time.Time, error) {
	s := value
	if len(s) < 4 || !isDigit(s, 0) || !isDigit(s, 1) || !isDigit(s, 2) || !isDigit(s, 3) {
		return time.Time{}, timeError(value, "2006", s, "")
	}
	year := int(s[0]-'0')*1000 + int(s[1]-'0')*100 + int(s[2]-'0')*10 + int(s[3]-'0')
	s = s[4:]
	var f [len(timeFields)]int // month, day, hour, minute, second
	for k, e := range timeFields {
		if len(s) == 0 || s[0] != e.sep[0] {
			return time.Time{}, timeError(value, e.sep, s, "")
		}
		hold := s[1:]
		n, rest, ok := getnum(hold, e.fixed)
		if !ok {
			return time.Time{}, timeError(value, e.layout, hold, "")
		}
		if s = rest; n < e.min || n > e.max {
			return time.Time{}, timeError(value, e.layout, s, ": "+e.name+" out of range")
		}
		f[k] = n
	}
	nsec := 0
	if len(s) >= 2 && (s[0] == '.' || s[0] == ',') && isDigit(s, 1) {
		n := 2
		for isDigit(s, n) {
			n++
		}
		// Nine digits count; Parse ignores the rest.
		for i := 1; i < 10; i++ {
			nsec *= 10
			if i < n {
				nsec += int(s[i] - '0')
			}
		}
		s = s[n:]
	}

	utc, offset := false, 0
	if hold := s; len(s) >= 1 && s[0] == 'Z' {
		s = s[1:]
		utc = true
	} else {
		if len(s) < 6 || s[3] != ':' {
			return time.Time{}, timeError(value, "Z07:00", hold, "")
		}
		hr, _, ok := getnum(s[1:3], true)
		mn := 0
		if ok {
			mn, _, ok = getnum(s[4:6], true)
		}
		sign := s[0]
		s = s[6:]
		// Parse allows offsets of 24 hours or 60 minutes; the later
		// range message wins, as in Parse.
		rangeErr := ""
		if hr > 24 {
			rangeErr = "hour"
		}
		if mn > 60 {
			rangeErr = "minute"
		}
		if rangeErr != "" {
			return time.Time{}, timeError(value, "Z07:00", s, ": time zone offset "+rangeErr+" out of range")
		}
		offset = (hr*60 + mn) * 60
		if sign == '-' {
			offset = -offset
		}
		if !ok || sign != '+' && sign != '-' {
			return time.Time{}, timeError(value, "Z07:00", hold, "")
		}
	}
	if s != "" {
		return time.Time{}, timeError(value, "", s, ": extra text: "+quoteTime(s))
	}
	month, day := f[0], f[1]
	if day < 1 || day > daysIn(month, year) {
		return time.Time{}, timeError(value, "", "", ": day out of range")
	}
	t := time.Date(year, time.Month(month), day, f[2], f[3], f[4], nsec, time.UTC)
	if utc {
		return t, nil
	}
	t = t.Add(-time.Duration(offset) * time.Second)
	// The local zone when its offset then is the one given, else an
	// unnamed fixed zone, as Parse does.
	if _, off := t.In(time.Local).Zone(); off == offset {
		return t.In(time.Local), nil
	}
	return t.In(time.FixedZone("", offset)), nil
}

func timeError(value, layoutElem, valueElem, msg string) error {
	return &time.ParseError{Layout: time.RFC3339, Value: value, LayoutElem: layoutElem, ValueElem: valueElem, Message: msg}
}

// getnum is time.Parse's: two digits, or one unless fixed.
func getnum(s string, fixed bool) (int, string, bool) {
	if !isDigit(s, 0) || fixed && !isDigit(s, 1) {
		return 0, s, false
	}
	if !isDigit(s, 1) {
		return int(s[0] - '0'), s[1:], true
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), s[2:], true
}

func isDigit(s string, i int) bool { return i < len(s) && '0' <= s[i] && s[i] <= '9' }

func daysIn(month, year int) int {
	if month == 2 {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 30 + (month+month/8)%2
}

// quoteTime is the time package's quote, which words ParseError's extra
// text: " and \ escaped, and every byte of a rune outside printable ASCII
// (or of invalid UTF-8) as \xHH.
func quoteTime(s string) string {
	const hex = "0123456789abcdef"
	buf := []byte{'"'}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < ' ' || c >= 0x80:
			buf = append(buf, '\\', 'x', hex[c>>4], hex[c&0xF])
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		default:
			buf = append(buf, c)
		}
	}
	return string(append(buf, '"'))
}

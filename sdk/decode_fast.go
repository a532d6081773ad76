package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// decodeSQLResponse fills sr from body as json.Unmarshal would. Every
// query result passes through here, and reflection-driven decoding of
// this small fixed shape cost more than the rest of the SDK's per-call
// work, so the common shape is read directly; anything unusual (escaped
// keys, keys differing only in case, duplicate keys, unexpected types,
// invalid UTF-8) falls back to json.Unmarshal, which also words the errors.
// FuzzDecodeSQLResponse checks the two agree.
func decodeSQLResponse(body []byte, sr *sqlResponse) error {
	if !json.Valid(body) {
		return json.Unmarshal(body, sr)
	}
	var fast sqlResponse
	if err := fastTopLevel(body, &fast); err != nil {
		*sr = sqlResponse{}
		return json.Unmarshal(body, sr)
	}
	*sr = fast
	return nil
}

// errSlowPath sends a body to json.Unmarshal; it never reaches callers.
var errSlowPath = errors.New("sdk: take the reflective JSON decoder")

// fastObject walks the members of the JSON object at b[i] (body already
// validated), calling member with each key and the index of its value;
// member returns the index just past the value. Keys must be plain,
// distinct and case-distinct among the known ones.
func fastObject(b []byte, i int, known []string, member func(key string, v int) (int, error)) (int, error) {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return 0, errSlowPath
	}
	var seen uint32
	i = skipSpace(b, i+1)
	if b[i] == '}' {
		return i + 1, nil
	}
	for {
		end := stringEnd(b, i)
		key := b[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return 0, errSlowPath
		}
		i = skipSpace(b, end)
		i = skipSpace(b, i+1) // past ':'
		k := -1
		for n, name := range known {
			if string(key) == name {
				k = n
				break
			}
			if bytes.EqualFold(key, []byte(name)) {
				return 0, errSlowPath // json matches keys case-insensitively
			}
		}
		var err error
		if k >= 0 {
			if seen&(1<<k) != 0 {
				return 0, errSlowPath
			}
			seen |= 1 << k
			i, err = member(known[k], i)
		} else {
			i = valueEnd(b, i)
		}
		if err != nil {
			return 0, err
		}
		i = skipSpace(b, i)
		if b[i] == '}' {
			return i + 1, nil
		}
		i = skipSpace(b, i+1) // past ','
	}
}

// fastArray calls elem for each element of the JSON array at b[i] and
// reports whether the value was null instead.
func fastArray(b []byte, i int, elem func(v int) (int, error)) (end int, null bool, err error) {
	if b[i] == 'n' {
		return i + len("null"), true, nil
	}
	if b[i] != '[' {
		return 0, false, errSlowPath
	}
	i = skipSpace(b, i+1)
	if b[i] == ']' {
		return i + 1, false, nil
	}
	for {
		if i, err = elem(i); err != nil {
			return 0, false, err
		}
		i = skipSpace(b, i)
		if b[i] == ']' {
			return i + 1, false, nil
		}
		i = skipSpace(b, i+1)
	}
}

// fastString reads the JSON string (or null, leaving *dst alone) at b[i].
func fastString(b []byte, i int, dst *string) (int, error) {
	if b[i] == 'n' {
		return i + len("null"), nil
	}
	if b[i] != '"' {
		return 0, errSlowPath
	}
	end := stringEnd(b, i)
	s := b[i+1 : end-1]
	if bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s) {
		return 0, errSlowPath
	}
	*dst = string(s)
	return end, nil
}

// fastRaw copies the JSON value at b[i], as json.RawMessage decoding does.
func fastRaw(b []byte, i int, dst *json.RawMessage) int {
	end := valueEnd(b, i)
	*dst = append(json.RawMessage(nil), b[i:end]...)
	return end
}

// fastNumber returns the number token at b[i]; null yields "".
func fastNumber(b []byte, i int) (string, int, error) {
	if b[i] == 'n' {
		return "", i + len("null"), nil
	}
	if b[i] != '-' && (b[i] < '0' || b[i] > '9') {
		return "", 0, errSlowPath
	}
	end := valueEnd(b, i)
	return string(b[i:end]), end, nil
}

func fastTopLevel(b []byte, sr *sqlResponse) error {
	_, err := fastObject(b, 0, []string{"status", "results", "took", "error"}, func(key string, v int) (int, error) {
		switch key {
		case "status":
			return fastString(b, v, &sr.Status)
		case "results":
			sr.Results = []wireResult{}
			end, null, err := fastArray(b, v, func(e int) (int, error) {
				sr.Results = append(sr.Results, wireResult{})
				return fastResult(b, e, &sr.Results[len(sr.Results)-1])
			})
			if null {
				sr.Results = nil
			}
			return end, err
		case "took":
			num, end, err := fastNumber(b, v)
			if err == nil && num != "" {
				sr.Took, err = strconv.ParseFloat(num, 64)
				if err != nil {
					err = errSlowPath
				}
			}
			return end, err
		default: // "error"
			return fastRaw(b, v, &sr.Error), nil
		}
	})
	return err
}

func fastResult(b []byte, i int, r *wireResult) (int, error) {
	return fastObject(b, i, []string{"schema", "rows", "row_count", "message", "as_user"}, func(key string, v int) (int, error) {
		switch key {
		case "schema":
			r.Schema = []wireField{}
			end, null, err := fastArray(b, v, func(e int) (int, error) {
				r.Schema = append(r.Schema, wireField{})
				return fastField(b, e, &r.Schema[len(r.Schema)-1])
			})
			if null {
				r.Schema = nil
			}
			return end, err
		case "rows":
			// Aliased, not copied: the body is the reply's own buffer and
			// the rows' cells point into it anyway.
			end := valueEnd(b, v)
			r.Rows = b[v:end:end]
			return end, nil
		case "row_count":
			num, end, err := fastNumber(b, v)
			if num != "" {
				r.RowCount = json.Number(num)
			}
			return end, err
		case "message":
			return fastString(b, v, &r.Message)
		default: // "as_user"
			return fastString(b, v, &r.AsUser)
		}
	})
}

func fastField(b []byte, i int, f *wireField) (int, error) {
	return fastObject(b, i, []string{"name", "data_type", "index", "flags"}, func(key string, v int) (int, error) {
		switch key {
		case "name":
			return fastString(b, v, &f.Name)
		case "data_type":
			return fastRaw(b, v, &f.DataType), nil
		case "index":
			num, end, err := fastNumber(b, v)
			if err == nil && num != "" {
				n, perr := strconv.ParseInt(num, 10, strconv.IntSize)
				if perr != nil {
					return 0, errSlowPath
				}
				f.Index = int(n)
			}
			return end, err
		default: // "flags"
			f.Flags = []string{}
			end, null, err := fastArray(b, v, func(e int) (int, error) {
				var s string
				end, err := fastString(b, e, &s)
				if b[e] == 'n' {
					return 0, errSlowPath // json leaves the element ""; keep it simple
				}
				f.Flags = append(f.Flags, s)
				return end, err
			})
			if null {
				f.Flags = nil
			}
			return end, err
		}
	})
}

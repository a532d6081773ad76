package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonscan"
)

// decodeSQLResponse fills sr from body as json.Unmarshal would. Every
// query result passes through here, and reflection-driven decoding of
// this small fixed shape cost more than the rest of the SDK's per-call
// work, so the common shape is read directly; anything unusual (escaped
// keys, keys differing only in case, duplicate keys, unexpected types,
// invalid UTF-8) falls back to json.Unmarshal, which also words the errors.
// FuzzDecodeSQLResponse checks the two agree.
func decodeSQLResponse(body []byte, sr *sqlResponse) error {
	return jsonscan.Decode(body, sr, fastTopLevel)
}

func fastTopLevel(b []byte, sr *sqlResponse) error {
	_, err := jsonscan.Object(b, 0, []string{"status", "results", "took", "error"}, func(key string, v int) (int, error) {
		switch key {
		case "status":
			return jsonscan.String(b, v, &sr.Status)
		case "results":
			sr.Results = []wireResult{}
			end, null, err := jsonscan.Array(b, v, func(e int) (int, error) {
				sr.Results = append(sr.Results, wireResult{})
				return fastResult(b, e, &sr.Results[len(sr.Results)-1])
			})
			if null {
				sr.Results = nil
			}
			return end, err
		case "took":
			num, end, err := jsonscan.Number(b, v)
			if err == nil && num != "" {
				sr.Took, err = strconv.ParseFloat(num, 64)
				if err != nil {
					err = jsonscan.ErrSlowPath
				}
			}
			return end, err
		default: // "error"
			return jsonscan.Raw(b, v, &sr.Error), nil
		}
	})
	return err
}

func fastResult(b []byte, i int, r *wireResult) (int, error) {
	return jsonscan.Object(b, i, []string{"schema", "rows", "row_count", "message", "as_user"}, func(key string, v int) (int, error) {
		switch key {
		case "schema":
			r.Schema = []wireField{}
			end, null, err := jsonscan.Array(b, v, func(e int) (int, error) {
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
			end := jsonscan.ValueEnd(b, v)
			r.Rows = b[v:end:end]
			return end, nil
		case "row_count":
			num, end, err := jsonscan.Number(b, v)
			if num != "" {
				r.RowCount = json.Number(num)
			}
			return end, err
		case "message":
			return jsonscan.String(b, v, &r.Message)
		default: // "as_user"
			return jsonscan.String(b, v, &r.AsUser)
		}
	})
}

func fastField(b []byte, i int, f *wireField) (int, error) {
	return jsonscan.Object(b, i, []string{"name", "data_type", "index", "flags"}, func(key string, v int) (int, error) {
		switch key {
		case "name":
			return jsonscan.String(b, v, &f.Name)
		case "data_type":
			return jsonscan.Raw(b, v, &f.DataType), nil
		case "index":
			num, end, err := jsonscan.Number(b, v)
			if err == nil && num != "" {
				n, perr := strconv.ParseInt(num, 10, strconv.IntSize)
				if perr != nil {
					return 0, jsonscan.ErrSlowPath
				}
				f.Index = int(n)
			}
			return end, err
		default: // "flags"
			f.Flags = []string{}
			end, null, err := jsonscan.Array(b, v, func(e int) (int, error) {
				var s string
				end, err := jsonscan.String(b, e, &s)
				if b[e] == 'n' {
					return 0, jsonscan.ErrSlowPath // json leaves the element ""; keep it simple
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

// splitRows cuts a JSON array of arrays into cells that alias raw (one
// allocation for all cells). raw has already been validated by
// encoding/json, so only structure is checked here.
func splitRows(raw []byte, ncols, rowsHint int) ([][]json.RawMessage, error) {
	i := jsonscan.SkipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, errors.New("rows is not an array")
	}
	var rows [][]json.RawMessage
	cells := make([]json.RawMessage, 0, ncols*max(rowsHint, 8))
	if rowsHint > 0 {
		rows = make([][]json.RawMessage, 0, rowsHint)
	}
	i = jsonscan.SkipSpace(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return rows, nil
	}
	for {
		if i >= len(raw) || raw[i] != '[' {
			return nil, fmt.Errorf("row %d is not an array", len(rows))
		}
		start := len(cells)
		i = jsonscan.SkipSpace(raw, i+1)
		if i < len(raw) && raw[i] == ']' {
			i++
		} else {
			for {
				end := jsonscan.ValueEnd(raw, i)
				if end < 0 {
					return nil, fmt.Errorf("row %d: malformed cell", len(rows))
				}
				cells = append(cells, raw[i:end:end])
				i = jsonscan.SkipSpace(raw, end)
				if i >= len(raw) {
					return nil, fmt.Errorf("row %d: truncated", len(rows))
				}
				if raw[i] == ']' {
					i++
					break
				}
				if raw[i] != ',' {
					return nil, fmt.Errorf("row %d: malformed cell", len(rows))
				}
				i = jsonscan.SkipSpace(raw, i+1)
			}
		}
		row := cells[start:len(cells):len(cells)]
		if len(row) != ncols {
			return nil, fmt.Errorf("row %d has %d cells but the schema has %d columns", len(rows), len(row), ncols)
		}
		rows = append(rows, row)
		i = jsonscan.SkipSpace(raw, i)
		if i >= len(raw) {
			return nil, errors.New("rows: truncated")
		}
		if raw[i] == ']' {
			return rows, nil
		}
		if raw[i] != ',' {
			return nil, fmt.Errorf("rows: expected ',' after row %d", len(rows)-1)
		}
		i = jsonscan.SkipSpace(raw, i+1)
	}
}

package emulator

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSQLRequest drives the /v1/api/sql JSON decoder (http-api.md §6.1,
// §6.2) with arbitrary bodies: it never panics, and what it accepts is a
// request the real server would accept too (sql present, params scalars
// only, numbers kept exact).
func FuzzSQLRequest(f *testing.F) {
	for _, seed := range []string{
		`{"sql":"SELECT 1"}`,
		`{"sql":"SELECT $1","params":[9007199254740993]}`,
		`{"sql":"SELECT $1, $2, $3, $4","params":[null,true,"x",1.5e300],"namespace_id":"app"}`,
		`{"sql":"x","params":[[1]]}`,
		`{"sql":"x","params":[{"a":1}]}`,
		`{"sql":"x","params":{}}`,
		`{"sql":null}`,
		`{"sql":"a","sql":"b"}`,
		`{"sql":"x"} trailing`,
		`[]`, ``, `{`, `"sql"`, `{"sql":"\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeSQLRequest(body)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error text")
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		params, perr := decodeParams(p.params)
		if perr != nil {
			if perr.code != "INVALID_PARAMETER" {
				t.Fatalf("param error code %s", perr.code)
			}
			return
		}
		if len(params) != len(p.params) {
			t.Fatalf("%d params decoded from %d", len(params), len(p.params))
		}
		for i, v := range params {
			switch v := v.(type) {
			case nil, bool, string:
			case json.Number:
				if string(v) != string(bytes.TrimSpace(p.params[i])) {
					t.Fatalf("number %s changed to %s", p.params[i], v)
				}
			default:
				t.Fatalf("param %d has type %T", i+1, v)
			}
		}
	})
}

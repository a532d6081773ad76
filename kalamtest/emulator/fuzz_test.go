package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
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
			require.NotEqual(t, "", err.Error(), "empty error text")
			return
		}
		require.True(t, json.Valid(body), "accepted invalid JSON %q", body)
		params, perr := decodeParams(p.params)
		if perr != nil {
			require.Equal(t, "INVALID_PARAMETER", perr.code, "param error code %s", perr.code)
			return
		}
		require.Len(t, params, len(p.params), "%d params decoded from %d", len(params), len(p.params))
		for i, v := range params {
			switch v := v.(type) {
			case nil, bool, string:
			case json.Number:
				require.Equal(t, string(bytes.TrimSpace(p.params[i])), string(v), "number %s changed to %s", p.params[i], v)
			default:
				require.FailNow(t, fmt.Sprintf("param %d has type %T", i+1, v))
			}
		}
	})
}

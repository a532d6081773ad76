package sdk

import (
	"encoding/json"
	"github.com/stretchr/testify/require"
	"reflect"
	"testing"
)

// FuzzDecodeResult: no reply, however malformed, may panic the decoder, and
// whatever decodes must be readable through every accessor without panics.
func FuzzDecodeResult(f *testing.F) {
	f.Add(cannedResult1000x10()[:2000])
	f.Add([]byte(`{"status":"success","results":[{"schema":[{"name":"a","data_type":{"Decimal":{"precision":1,"scale":0}},"index":0}],"rows":[["1"]],"row_count":1,"as_user":"u"}],"took":1}`))
	f.Add([]byte(`{"status":"success","results":[{"schema":[{"name":"f","data_type":"File","index":0},{"name":"u","data_type":"Uuid","index":1}],"rows":[["{\"id\":\"1\",\"sub\":\"f0001\"}","-0000000-0000-0000-0000-00000000000"]],"row_count":1,"as_user":"u"}],"took":1}`))
	f.Add([]byte(`{"status":"error","error":{"code":"X","message":"m"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := decodeResult(200, "application/json", body)
		if err != nil {
			return
		}
		for _, sr := range res.Results() {
			for _, row := range sr.Rows() {
				for _, col := range sr.Columns {
					row.Int64(col.Name)
					row.Uint64(col.Name)
					row.Float64(col.Name)
					row.String(col.Name)
					row.Bool(col.Name)
					row.Decimal(col.Name)
					row.Time(col.Name)
					row.TimeOfDay(col.Name)
					row.UUID(col.Name)
					row.JSON(col.Name)
					row.Bytes(col.Name)
					row.Embedding(col.Name)
					row.File(col.Name)
				}
				row.Map()
			}
		}
	})
}

func FuzzDecodeServerError(f *testing.F) {
	for _, s := range []string{
		`{"status":"error","results":[],"took":1.23,"error":{"code":"INVALID_SQL","message":"...","details":"..."}}`,
		`{"error":"unauthorized","message":"Invalid credentials"}`,
		`{"error":"Topic 'x' does not exist","code":"NOT_FOUND"}`,
		`{"error":"RATE_LIMIT_EXCEEDED","message":"m","retry_after_seconds":1}`,
		`<html>502</html>`, ``, `{"error":`,
	} {
		f.Add(s, 400)
	}
	f.Fuzz(func(t *testing.T, body string, status int) {
		err := decodeServerError(status, "application/json", []byte(body), "")
		if err == nil {
			t.Fatal("an error body decoded to no error")
		}
		_ = err.Error()
	})
}

func TestParseUUIDRejectsMalformed(t *testing.T) {
	for _, s := range []string{"", "-0000000000000000000000000000000", "550e8400-e29b-41d4-a716-44665544000g", "550e8400e29b41d4a716446655440000xxxx", "550e8400+e29b-41d4-a716-446655440000"} {
		if _, err := ParseUUID(s); err == nil {
			t.Errorf("ParseUUID(%q) accepted a malformed UUID", s)
		}
	}
	u, err := ParseUUID("550E8400E29B41D4A716446655440000")
	if err != nil || u.String() != "550e8400-e29b-41d4-a716-446655440000" {
		t.Fatalf("got %v, %v", u, err)
	}
}

func TestSplitRowsAliasesWithoutCopy(t *testing.T) {
	raw := json.RawMessage(` [ [1, "a,]\"b", [1,[2]], {"k":"]"} ] , [ null,true,false,-1.5e3 ] ] `)
	rows, err := splitRows(raw, 4, 0)
	require.NoError(t, err)
	want := [][]string{{`1`, `"a,]\"b"`, `[1,[2]]`, `{"k":"]"}`}, {`null`, `true`, `false`, `-1.5e3`}}
	for i, r := range rows {
		for j, c := range r {
			if string(c) != want[i][j] {
				t.Errorf("cell %d,%d = %s, want %s", i, j, c, want[i][j])
			}
		}
	}
	if _, err := splitRows(json.RawMessage(`[[1],[1,2]]`), 1, 2); err == nil {
		t.Error("a row with the wrong cell count must be an error")
	}
}

// FuzzDecodeSQLResponse: the direct decoder of SQL replies agrees with
// json.Unmarshal on every input, valid or not.
func FuzzDecodeSQLResponse(f *testing.F) {
	f.Add(cannedResult1000x10()[:2000])
	for _, s := range []string{
		`{"status":"success","results":[{"schema":[{"name":"a","data_type":{"Decimal":{"precision":1,"scale":0}},"index":0,"flags":["pk","nn","uq"]}],"rows":[["1"]],"row_count":1,"as_user":"u"}],"took":1.5,"error":null}`,
		`{"status":"success","results":[{"row_count":2,"message":"Inserted 2 row(s)","as_user":"u"}],"took":0.25}`,
		`{"status":"error","results":[],"took":1.23,"error":{"code":"INVALID_SQL","message":"m","details":"d"}}`,
		`{"Status":"success","results":null,"took":"1"}`,
		`{"status":"succ\u0065ss","results":[{"schema":null,"rows":null,"row_count":"3","message":null}],"took":1e2,"x":[1,{"y":2}]}`,
		`{"status":"success","status":"error"}`,
		`{"status":"success","results":[{"schema":[{"name":"n","data_type":"Text","index":1.5}]}]}`,
		`[1,2]`, `null`, ` {"status" : "success" , "results" : [ ] } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want, got sqlResponse
		wantErr := json.Unmarshal(body, &want)
		gotErr := decodeSQLResponse(body, &got)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("json.Unmarshal error %v, direct decoder error %v, for %q", wantErr, gotErr, body)
		}
		if wantErr == nil && !reflect.DeepEqual(want, got) {
			t.Fatalf("for %q:\njson.Unmarshal %#v\ndirect         %#v", body, want, got)
		}
	})
}

package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func rows(cells ...string) [][]json.RawMessage {
	var out [][]json.RawMessage
	for _, row := range cells {
		var r []json.RawMessage
		if err := json.Unmarshal([]byte(row), &r); err != nil {
			panic(err)
		}
		out = append(out, r)
	}
	return out
}

var selectResult = engine.Result{
	Schema: []engine.Column{
		{Name: "id", DataType: json.RawMessage(`"BigInt"`), Index: 0, Flags: []string{"pk", "nn", "uq"}},
		{Name: "name", DataType: json.RawMessage(`"Text"`), Index: 1},
		{Name: "price", DataType: json.RawMessage(`{"Decimal":{"precision":10,"scale":2}}`), Index: 2},
	},
	Rows:        rows(`["9007199254740993","a<b>&c","200.75"]`, `["2",null,"1.00"]`),
	ReturnsRows: true, Streamed: true, RowCount: 2, AsUser: "alice",
}

// http-api.md §6.4 (shape 1): a single row-returning statement is streamed,
// chunked, byte for byte as converter.rs builds it, with "error":null.
func TestSQLStreamedShape(t *testing.T) {
	e := rootEnv(t)
	e.db.exec = func(engine.Request) ([]engine.Result, *engine.Error) { return []engine.Result{selectResult}, nil }
	token := e.token("alice", "AlicePass123!")
	req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/api/sql", strings.NewReader(`{"sql":"SELECT * FROM app.items"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"), "status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	require.NotEmpty(t, resp.TransferEncoding)
	require.Equal(t, "chunked", resp.TransferEncoding[0], "transfer encoding %v, want chunked as the real streamed body", resp.TransferEncoding)
	var body bytes.Buffer
	_, err = body.ReadFrom(resp.Body)
	require.NoError(t, err)
	want := regexp.MustCompile(`^` + regexp.QuoteMeta(`{"status":"success","results":[{"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},{"name":"name","data_type":"Text","index":1},{"name":"price","data_type":{"Decimal":{"precision":10,"scale":2}},"index":2}],"rows":[["9007199254740993","a<b>&c","200.75"],["2",null,"1.00"]],"row_count":2,"as_user":"alice"}],"took":`) +
		`(0|[1-9]\d*)(\.\d{1,3})?` + regexp.QuoteMeta(`,"error":null}`) + `$`)
	require.True(t, want.Match(body.Bytes()), "streamed body:\n%s", body.Bytes())

	// Zero rows: schema still present, rows [].
	e.db.exec = func(engine.Request) ([]engine.Result, *engine.Error) {
		return []engine.Result{{ReturnsRows: true, Streamed: true, AsUser: "alice"}}, nil
	}
	r := e.sql(token, `{"sql":"SELECT * FROM app.empty"}`)
	m := r.json(t)
	wantKeys(t, m, "status", "results", "took", "error")
	require.Nil(t, m["error"], "error %v, want null", m["error"])
	res := m["results"].([]any)[0].(map[string]any)
	wantKeys(t, res, "schema", "rows", "row_count", "as_user")
	s, ok := res["schema"].([]any)
	require.True(t, ok)
	require.Empty(t, s, "schema %v, want []", res["schema"])
}

// http-api.md §6.4 (shape 2): everything else is one buffered body without
// an error key; schema omitted when empty; rows only for row results.
func TestSQLBufferedShape(t *testing.T) {
	e := rootEnv(t)
	token := e.token("alice", "AlicePass123!")
	r := e.sql(token, `{"sql":"INSERT INTO app.items (id) VALUES (1)"}`)
	wantStatus(t, r, http.StatusOK)
	require.Equal(t, "application/json", r.header.Get("Content-Type"), "Content-Type %q", r.header.Get("Content-Type"))
	require.True(t, regexp.MustCompile(`^\{"status":"success","results":\[\{"row_count":1,"message":"Inserted 1 row\(s\)","as_user":"alice"\}\],"took":\d+\.\d{1,3}\}$`).Match(r.body), "buffered body %s", r.body)

	e.db.exec = func(engine.Request) ([]engine.Result, *engine.Error) {
		empty := selectResult
		empty.Rows = nil
		empty.RowCount = 0
		return []engine.Result{selectResult, empty, {RowCount: 2, Message: "Inserted 2 row(s)", AsUser: "alice"}}, nil
	}
	r = e.sql(token, `{"sql":"SELECT 1; SELECT 2; INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)"}`)
	m := r.json(t)
	wantKeys(t, m, "status", "results", "took")
	results := m["results"].([]any)
	wantKeys(t, results[0].(map[string]any), "schema", "rows", "row_count", "as_user")
	got := results[1].(map[string]any)["rows"].([]any)
	require.Empty(t, got, "empty row result rows %v", got)
	wantKeys(t, results[2].(map[string]any), "row_count", "message", "as_user")
}

// http-api.md §6.4: took is milliseconds rounded to 3 decimals, written as
// serde_json writes f64 (buffered) and as Rust Display (streamed).
func TestTookFormat(t *testing.T) {
	for in, want := range map[float64]string{0: "0.0", 15: "15.0", 1.23449: "1.234", 1.2345: "1.235", 0.0004: "0.0", 12.5: "12.5"} {
		got, _ := tookMS(in).MarshalJSON()
		assert.Equal(t, want, string(got), "took %v: %s, want %s", in, got, want)
	}
	for in, want := range map[float64]string{0.012345: "0.012345", 2: "2.0"} {
		got, _ := unroundedMS(in).MarshalJSON()
		assert.Equal(t, want, string(got), "shape B took %v: %s, want %s", in, got, want)
	}
	got := displayTook(15)
	assert.Equal(t, "15", got, "streamed took 15: %s, want 15", got)
}

// http-api.md §6.1 and §6.2: what reaches the engine.
func TestSQLRequestDecoding(t *testing.T) {
	e := rootEnv(t)
	token := e.token("alice", "AlicePass123!")

	wantStatus(t, e.sql(token, `{"sql":"SELECT * FROM t WHERE id = $1 AND name = $2 AND ok = $3 AND x = $4 AND f = $5","params":[9007199254740993,"it's'; DROP TABLE t; --",true,null,1.5],"namespace_id":"app"}`), 200)
	got := e.db.lastRequest(t)
	want := []any{json.Number("9007199254740993"), "it's'; DROP TABLE t; --", true, nil, json.Number("1.5")}
	require.Equal(t, fmt.Sprint(want), fmt.Sprint(got.Params))
	require.Equal(t, "app", got.Namespace)
	require.Nil(t, got.Uploads, "engine request %+v", got)
	require.Equal(t, "SELECT * FROM t WHERE id = $1 AND name = $2 AND ok = $3 AND x = $4 AND f = $5", got.SQL, "SQL changed: %q", got.SQL)
	require.Equal(t, engine.Identity{UserID: "alice", Role: engine.RoleUser}, got.Identity, "identity %+v", got.Identity)
	for _, n := range []json.Number{"9007199254740993", "1.5"} {
		found := false
		for _, p := range got.Params {
			if p == n {
				found = true
			}
		}
		require.True(t, found, "param %s not kept exact as a json.Number: %#v", n, got.Params)
	}

	// `namespace` is not the field name: ignored. null params and
	// namespace_id are absent.
	wantStatus(t, e.sql(token, `{"sql":"SELECT 1","namespace":"app","params":null,"namespace_id":null,"extra":{"a":1}}`), 200)
	got = e.db.lastRequest(t)
	require.Equal(t, "", got.Namespace)
	require.Nil(t, got.Params, "engine request %+v", got)
	wantStatus(t, e.sql(token, `{"sql":"SELECT 1","params":[]}`), 200)
	if got = e.db.lastRequest(t); got.Params == nil || len(got.Params) != 0 {
		require.FailNow(t, fmt.Sprintf("empty params %#v", got.Params))
	}
}

// http-api.md §6.6: payload, length and parameter errors, each followed by
// a request that works.
func TestSQLRejections(t *testing.T) {
	e := rootEnv(t)
	token := e.token("alice", "AlicePass123!")
	auth := []string{"Authorization", "Bearer " + token}
	cases := []struct {
		name, contentType, body string
		status                  int
		code, message           string // message "" checks only the prefix "Invalid JSON payload: "
	}{
		{"text/plain", "text/plain", `{"sql":"SELECT 1"}`, 400, "INVALID_INPUT", "Invalid JSON payload: Content type error"},
		{"no content type", "", `{"sql":"SELECT 1"}`, 400, "INVALID_INPUT", "Invalid JSON payload: Content type error"},
		{"form", "application/x-www-form-urlencoded", `sql=SELECT+1`, 400, "INVALID_INPUT", "Invalid JSON payload: Content type error"},
		{"malformed", "application/json", `{"sql":`, 400, "INVALID_INPUT", ""},
		{"empty body", "application/json", ``, 400, "INVALID_INPUT", "Invalid JSON payload: Json deserialize error: EOF while parsing a value at line 1 column 0"},
		{"missing sql", "application/json", `{"query":"SELECT 1"}`, 400, "INVALID_INPUT", ""},
		{"sql not a string", "application/json", `{"sql":42}`, 400, "INVALID_INPUT", ""},
		{"params not an array", "application/json", `{"sql":"SELECT $1","params":{"1":2}}`, 400, "INVALID_INPUT", ""},
		{"trailing garbage", "application/json", `{"sql":"SELECT 1"} x`, 400, "INVALID_INPUT", ""},
		{"number out of range", "application/json", `{"sql":"SELECT $1","params":[1e400]}`, 400, "INVALID_INPUT", ""},
		{"array param", "application/json", `{"sql":"SELECT $1, $2","params":[1,[2]]}`, 400, "INVALID_PARAMETER", "Parameter $2 invalid: Array parameters not yet supported"},
		{"object param", "application/json", `{"sql":"SELECT $1","params":[{"a":"' OR 1=1 --"}]}`, 400, "INVALID_PARAMETER", "Parameter $1 invalid: Object parameters not yet supported"},
		{"sql too long", "application/json", `{"sql":"` + strings.Repeat("x", maxSQLLength+1) + `"}`, 400, "INVALID_SQL", fmt.Sprintf("SQL query too long: %d bytes (maximum %d bytes)", maxSQLLength+1, maxSQLLength)},
		{"json over 2 MiB", "application/json", `{"sql":"` + strings.Repeat("x", 2<<20) + `"}`, 400, "INVALID_INPUT", fmt.Sprintf("Invalid JSON payload: JSON payload (%d bytes) is larger than allowed (limit: 2097152 bytes).", 2<<20+10)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.db.requests)
			r := e.do(http.MethodPost, "/v1/api/sql", tc.contentType, []byte(tc.body), auth...)
			if tc.message == "" {
				errObj := r.json(t)["error"].(map[string]any)
				require.True(t, strings.HasPrefix(errObj["message"].(string), "Invalid JSON payload: Json deserialize error: "), "message %q", errObj["message"])
				wantShapeA(t, r, tc.status, tc.code, errObj["message"].(string))
			} else {
				wantShapeA(t, r, tc.status, tc.code, tc.message)
			}
			require.Len(t, e.db.requests, before, "a rejected request reached the engine")
			wantStatus(t, e.sql(token, `{"sql":"SELECT 1"}`), 200)
		})
	}
}

// http-api.md §1.1: connection protection answers 413 BODY_TOO_LARGE on
// Content-Length before auth, on any path.
func TestBodyTooLarge(t *testing.T) {
	e := rootEnv(t)
	big := bytes.Repeat([]byte("x"), defaultMaxBodyBytes+1)
	for _, path := range []string{"/v1/api/sql", "/v1/api/auth/login", "/nowhere"} {
		r := e.do(http.MethodPost, path, "application/json", big)
		wantStatus(t, r, http.StatusRequestEntityTooLarge)
		wantJSON(t, r.body, fmt.Sprintf(`{"error":"BODY_TOO_LARGE","message":"Request body exceeds maximum allowed size","size_bytes":%d,"max_bytes":%d}`, len(big), defaultMaxBodyBytes))
	}
	wantStatus(t, e.sql(e.token("alice", "AlicePass123!"), `{"sql":"SELECT 1"}`), 200)
}

// http-api.md §6.6: redaction by role. Sensitive errors become the code's
// fixed text for non-admins; admins get the text and details.
func TestSQLErrorRedaction(t *testing.T) {
	e := rootEnv(t)
	var next *engine.Error
	e.db.exec = func(engine.Request) ([]engine.Result, *engine.Error) { return nil, next }
	user := e.token("alice", "AlicePass123!")
	dba := e.token("admin", "AdminPass123!")
	sensitive := &engine.Error{Code: "SQL_EXECUTION_ERROR", HTTPStatus: 400, Message: "Statement 1 failed: Table 'app.secret' not found", Details: "SELECT * FROM app.secret", Sensitive: true}
	preserved := &engine.Error{Code: "PERMISSION_DENIED", HTTPStatus: 403, Message: "Statement 1 failed: Permission denied: DROP TABLE requires dba", Details: "DROP TABLE app.t"}
	syntax := &engine.Error{Code: "INVALID_SQL", HTTPStatus: 400, Message: "SQL parse error at line 1", Details: "SELEC 1", Sensitive: true}
	noPublic := &engine.Error{Code: "PARAMS_WITH_BATCH", HTTPStatus: 400, Message: "Parameters not supported with multi-statement batches", Details: "SELECT $1; SELECT 2", Sensitive: true}

	cases := []struct {
		err          *engine.Error
		token        string
		message      string
		details      string
		detailsShown bool
	}{
		{sensitive, user, "SQL statement failed", "", false},
		{sensitive, dba, sensitive.Message, sensitive.Details, true},
		{syntax, user, "SQL statement is invalid or not allowed", "", false},
		{preserved, user, preserved.Message, "", false},
		{preserved, dba, preserved.Message, preserved.Details, true},
		{noPublic, user, noPublic.Message, noPublic.Details, true},
	}
	for i, tc := range cases {
		next = tc.err
		r := e.sql(tc.token, `{"sql":"x"}`)
		errObj := wantShapeA(t, r, tc.err.HTTPStatus, tc.err.Code, tc.message)
		d, shown := errObj["details"]
		require.Equal(t, tc.detailsShown, shown)
		require.False(t, shown && d != tc.details, "case %d: details %v (present %v)", i, d, shown)
	}
}

// http-api.md §5: 100 queries per second per user by default, 429 shape A.
func TestSQLRateLimit(t *testing.T) {
	e := rootEnv(t)
	frozen := time.Now()
	e.s.sqlLimiter.now = func() time.Time { return frozen }
	alice, svc := e.token("alice", "AlicePass123!"), e.token("svc", "SvcPass123!")
	for i := 0; i < defaultSQLRateLimit; i++ {
		wantStatus(t, e.sql(alice, `{"sql":"SELECT 1"}`), 200)
	}
	wantShapeA(t, e.sql(alice, `{"sql":"SELECT 1"}`), http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED", "Too many queries per second. Please slow down.")
	wantStatus(t, e.sql(svc, `{"sql":"SELECT 1"}`), 200) // per user
	frozen = frozen.Add(50 * time.Millisecond)           // 5 tokens back
	for i := 0; i < 5; i++ {
		wantStatus(t, e.sql(alice, `{"sql":"SELECT 1"}`), 200)
	}
	wantStatus(t, e.sql(alice, `{"sql":"SELECT 1"}`), http.StatusTooManyRequests)
	e.s.SetSQLRateLimit(-1)
	wantStatus(t, e.sql(alice, `{"sql":"SELECT 1"}`), 200)
}

// multipartBody builds a FILE upload body; files alternate name, filename,
// content type ("" for none), data.
func multipartBody(t *testing.T, fields map[string]string, files ...string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, k := range []string{"sql", "params", "namespace_id", "other"} {
		if v, ok := fields[k]; ok {
			require.NoError(t, mw.WriteField(k, v))
		}
	}
	for i := 0; i+3 < len(files); i += 4 {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file:%s"; filename="%s"`, files[i], files[i+1]))
		if files[i+2] != "" {
			h.Set("Content-Type", files[i+2])
		}
		w, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, err = w.Write([]byte(files[i+3]))
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), buf.Bytes()
}

// http-api.md §7.1-§7.3: multipart parsing and its limits.
func TestMultipartUpload(t *testing.T) {
	e := newTestEnv(t, Options{RootPassword: testRootPassword, MaxFileSize: 1024, MaxFilesPerRequest: 2})
	e.db.addUser("alice", engine.RoleUser, "AlicePass123!")
	token := e.token("alice", "AlicePass123!")
	auth := []string{"Authorization", "Bearer " + token}

	ct, body := multipartBody(t, map[string]string{
		"sql":          `INSERT INTO app.docs (id, a, b) VALUES ($1, FILE("a"), FILE("b"))`,
		"params":       `["d1"]`,
		"namespace_id": "App",
		"other":        "ignored",
	}, "a", "dir/My Report.PDF", "application/pdf", "%PDF-1.4", "b", "b.bin", "", "\x00\x01")
	wantStatus(t, e.do(http.MethodPost, "/v1/api/sql", strings.ToUpper(ct[:9])+ct[9:], body, auth...), 200)
	got := e.db.lastRequest(t)
	require.Equal(t, "app", got.Namespace)
	require.Equal(t, "[d1]", fmt.Sprint(got.Params))
	require.Len(t, got.Uploads, 2, "engine request %+v", got)
	u := got.Uploads[0]
	require.Equal(t, "a", u.Placeholder)
	require.Equal(t, "dir/My Report.PDF", u.Filename)
	require.Equal(t, "application/pdf", u.MimeType)
	require.Equal(t, "%PDF-1.4", string(u.Data), "upload a %+v", u)
	u = got.Uploads[1]
	require.Equal(t, "b", u.Placeholder)
	require.Equal(t, "", u.MimeType)
	require.Equal(t, "\x00\x01", string(u.Data), "upload b %+v", u)

	// No files: still a multipart request (Uploads non-nil).
	ct, body = multipartBody(t, map[string]string{"sql": "SELECT 1; SELECT 2"})
	wantStatus(t, e.do(http.MethodPost, "/v1/api/sql", ct, body, auth...), 200)
	got = e.db.lastRequest(t)
	require.NotNil(t, got.Uploads)
	require.Empty(t, got.Uploads, "uploads %#v", got.Uploads)

	cases := []struct {
		name          string
		fields        map[string]string
		files         []string
		code, message string
	}{
		{"no sql", map[string]string{"params": "[]"}, nil, "EMPTY_SQL", "SQL statement is required"},
		{"blank sql", map[string]string{"sql": "  \n"}, nil, "EMPTY_SQL", "SQL statement is required"},
		{"params not JSON", map[string]string{"sql": "SELECT $1", "params": "[1,"}, nil, "INVALID_PARAMETER", ""},
		{"params not array", map[string]string{"sql": "SELECT $1", "params": `{"a":1}`}, nil, "INVALID_PARAMETER", "Params must be a JSON array"},
		{"array param", map[string]string{"sql": "SELECT $1", "params": `[[1]]`}, nil, "INVALID_PARAMETER", "Parameter $1 invalid: Array parameters not yet supported"},
		{"file too large", map[string]string{"sql": `INSERT INTO t VALUES (FILE("a"))`}, []string{"a", "big.bin", "", strings.Repeat("x", 1025)}, "FILE_TOO_LARGE", "File 'big.bin' exceeds maximum size of 1024 bytes"},
		{"too many files", map[string]string{"sql": "SELECT 1"}, []string{"a", "a", "", "1", "b", "b", "", "2", "c", "c", "", "3"}, "TOO_MANY_FILES", "Too many files: maximum 2 allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := multipartBody(t, tc.fields, tc.files...)
			r := e.do(http.MethodPost, "/v1/api/sql", ct, body, auth...)
			msg := tc.message
			if msg == "" {
				msg = r.json(t)["error"].(map[string]any)["message"].(string)
				require.True(t, strings.HasPrefix(msg, "Invalid params JSON: "), "message %q", msg)
			}
			wantShapeA(t, r, 400, tc.code, msg)
			wantStatus(t, e.sql(token, `{"sql":"SELECT 1"}`), 200)
		})
	}
	r := e.do(http.MethodPost, "/v1/api/sql", "multipart/form-data", []byte("junk"), auth...)
	errObj := r.json(t)["error"].(map[string]any)
	wantShapeA(t, r, 400, "INVALID_INPUT", errObj["message"].(string))
	require.True(t, strings.HasPrefix(errObj["message"].(string), "Multipart parse error: "), "message %q", errObj["message"])
}

package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// engineEnv is an emulator over the real engine (emulator.New), on loopback.
func engineEnv(t testing.TB, opts Options) (*Server, string) {
	t.Helper()
	if opts.RootPassword == "" {
		opts.RootPassword = testRootPassword
	}
	s, err := New(opts)
	require.NoError(t, err, "New")
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		assert.NoError(t, s.Close(), "Close")
	})
	return s, hs.URL
}

// http-api.md §4.1, §6.4, §6.5 end to end on the real engine: login as
// root, DDL, a parameterised INSERT, a streamed SELECT with BigInt cells
// as strings.
func TestEngineRoundTrip(t *testing.T) {
	s, url := engineEnv(t, Options{})
	e := &testEnv{t: t, s: s, url: url}
	root := e.token("root", testRootPassword)
	for _, sql := range []string{
		"CREATE NAMESPACE app",
		"CREATE TABLE app.items (id BIGINT PRIMARY KEY, name TEXT) WITH (TYPE = 'SHARED', ACCESS_LEVEL = 'PUBLIC')",
	} {
		wantStatus(t, e.sql(root, `{"sql":`+quote(sql)+`}`), http.StatusOK)
	}
	r := e.sql(root, `{"sql":"INSERT INTO app.items (id, name) VALUES ($1, $2)","params":[9007199254740993,"x'); DROP TABLE app.items; --"]}`)
	wantStatus(t, r, http.StatusOK)
	require.Contains(t, string(r.body), `"row_count":1`, "insert %s", r.body)
	r = e.sql(root, `{"sql":"SELECT id, name FROM app.items"}`)
	wantStatus(t, r, http.StatusOK)
	m := r.json(t)
	wantKeys(t, m, "status", "results", "took", "error")
	res := m["results"].([]any)[0].(map[string]any)
	row := res["rows"].([]any)[0].([]any)
	require.EqualValues(t, "9007199254740993", row[0])
	require.EqualValues(t, "x'); DROP TABLE app.items; --", row[1], "row %v", row)

	// http-api.md §6.3-§6.4: a batch whose DML results are folded away
	// still answers in the buffered shape (no "error" key), even when a
	// single row result is left.
	r = e.sql(root, `{"sql":"DELETE FROM app.items WHERE id = 1; SELECT id FROM app.items"}`)
	wantStatus(t, r, http.StatusOK)
	wantKeys(t, r.json(t), "status", "results", "took")
	require.Len(t, r.json(t)["results"].([]any), 1, "batch results: %s", r.body)

	// A user cannot drop tables: 403 PERMISSION_DENIED; an unknown table is
	// 400 and redacted for non-admins.
	wantStatus(t, e.sql(root, `{"sql":"CREATE USER 'bob' WITH PASSWORD 'BobPass123!' ROLE user"}`), http.StatusOK)
	bob := e.token("bob", "BobPass123!")
	r = e.sql(bob, `{"sql":"DROP TABLE app.items"}`)
	wantStatus(t, r, http.StatusForbidden)
	require.EqualValues(t, "PERMISSION_DENIED", r.json(t)["error"].(map[string]any)["code"], "drop as user: %s", r.body)
	wantShapeA(t, e.sql(bob, `{"sql":"SELECT * FROM app.nope"}`), http.StatusBadRequest, "SQL_EXECUTION_ERROR", "SQL statement failed")
	wantStatus(t, e.sql(bob, `{"sql":"SELECT id FROM app.items"}`), http.StatusOK)

	_, err := s.ExecAs("bob", "SELECT * FROM app.nope")
	var sqlErr *SQLError
	require.ErrorAs(t, err, &sqlErr)
	require.Equal(t, http.StatusBadRequest, sqlErr.HTTPStatus)
	require.Contains(t, sqlErr.Message, "app.nope", "ExecAs on an unknown table: %v (unredacted, 400 expected)", err)
	res2, err := s.ExecAs("root", "SELECT COUNT(*) AS n FROM app.items")
	require.NoError(t, err)
	require.Len(t, res2, 1)
	require.Len(t, res2[0].Rows, 1)
	require.Equal(t, `"1"`, string(res2[0].Rows[0][0]), "ExecAs count: %v %+v", err, res2)
}

// Parallel clients writing and reading lose nothing (run with -race).
func TestEngineConcurrentClients(t *testing.T) {
	s, url := engineEnv(t, Options{SQLRateLimit: -1})
	e := &testEnv{t: t, s: s, url: url}
	root := e.token("root", testRootPassword)
	wantStatus(t, e.sql(root, `{"sql":"CREATE NAMESPACE app"}`), http.StatusOK)
	wantStatus(t, e.sql(root, `{"sql":"CREATE TABLE app.events (id BIGINT PRIMARY KEY, writer TEXT) WITH (TYPE = 'SHARED')"}`), http.StatusOK)

	const writers, perWriter = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				body := fmt.Sprintf(`{"sql":"INSERT INTO app.events (id, writer) VALUES ($1, $2)","params":[%d,"w%d"]}`, w*perWriter+i, w)
				req, _ := http.NewRequest(http.MethodPost, url+"/v1/api/sql", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+root)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("insert %d by writer %d: status %d", i, w, resp.StatusCode)
				}
				// Reads interleave with the writes.
				req, _ = http.NewRequest(http.MethodPost, url+"/v1/api/sql", strings.NewReader(`{"sql":"SELECT COUNT(*) FROM app.events"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+root)
				if resp, err = http.DefaultClient.Do(req); err != nil {
					errs <- err
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("count by writer %d: status %d", w, resp.StatusCode)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.Fail(t, fmt.Sprint(err))
	}
	res, err := s.ExecAs("root", "SELECT COUNT(*) FROM app.events")
	require.NoError(t, err)
	got := string(res[0].Rows[0][0])
	require.Equal(t, fmt.Sprintf(`"%d"`, writers*perWriter), got, "count %s, want %d", got, writers*perWriter)
}

// storedName is FileRef::stored_name (http-api.md §7.5), for building the
// download path a client would build.
func storedName(id, name string) string {
	base, ext := name, "bin"
	if i := strings.LastIndex(name, "."); i >= 0 {
		base = name[:i]
		if e := strings.ToLower(name[i+1:]); e != "" && len(e) <= 10 && strings.IndexFunc(e, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
		}) < 0 {
			ext = e
		}
	}
	var b strings.Builder
	for _, r := range base {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r | 0x20)
		case r == ' ', r == '_', r == '-':
			b.WriteByte('-')
		}
	}
	s := b.String()
	if len(s) > 50 {
		s = s[:50]
	}
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	if s = strings.Trim(s, "-"); s == "" {
		return id + "." + ext
	}
	return id + "-" + s + "." + ext
}

// http-api.md §7.1-§7.5 on the real engine: a multipart INSERT with a FILE
// placeholder, the FileRef read back, the download by stored name.
func TestEngineFileRoundTrip(t *testing.T) {
	s, url := engineEnv(t, Options{})
	e := &testEnv{t: t, s: s, url: url}
	root := e.token("root", testRootPassword)
	for _, sql := range []string{
		"CREATE NAMESPACE app",
		"CREATE TABLE app.docs (id TEXT PRIMARY KEY, doc FILE) WITH (TYPE = 'USER')",
		"CREATE USER 'bob' WITH PASSWORD 'BobPass123!' ROLE user",
	} {
		wantStatus(t, e.sql(root, `{"sql":`+quote(sql)+`}`), http.StatusOK)
	}
	bob := e.token("bob", "BobPass123!")
	ct, body := multipartBody(t, map[string]string{"sql": `INSERT INTO app.docs (id, doc) VALUES ($1, FILE("doc"))`, "params": `["d1"]`},
		"doc", "My Report_v2.PDF", "application/pdf", "%PDF-1.4 hello")
	r := e.do(http.MethodPost, "/v1/api/sql", ct, body, "Authorization", "Bearer "+bob)
	wantStatus(t, r, http.StatusOK)
	wantJSON(t, r.body, fmt.Sprintf(`{"status":"success","results":[{"row_count":1,"message":"Inserted 1 row(s)","as_user":"bob"}],"took":%v}`, r.json(t)["took"]))

	r = e.sql(bob, `{"sql":"SELECT doc FROM app.docs WHERE id = 'd1'"}`)
	wantStatus(t, r, http.StatusOK)
	cell := r.json(t)["results"].([]any)[0].(map[string]any)["rows"].([]any)[0].([]any)[0].(string)
	var ref struct {
		ID, Sub, Name, Mime, Sha256 string
		Size                        json.Number
	}
	require.NoError(t, json.Unmarshal([]byte(cell), &ref), "FILE cell %q is not FileRef JSON text", cell)
	require.Equal(t, "My Report_v2.PDF", ref.Name)
	require.Equal(t, "application/pdf", ref.Mime)
	require.EqualValues(t, "14", ref.Size)
	require.Equal(t, "f0001", ref.Sub, "FileRef %+v", ref)
	path := "/v1/files/app/docs/" + ref.Sub + "/" + storedName(ref.ID, ref.Name)
	r = e.do(http.MethodGet, path, "", nil, "Authorization", "Bearer "+bob)
	wantStatus(t, r, http.StatusOK)
	require.Equal(t, "%PDF-1.4 hello", string(r.body))
	require.Equal(t, "application/pdf", r.header.Get("Content-Type"), "download %q %v", r.body, r.header)
	// Root reads bob's partition only through ?user_id=.
	wantStatus(t, e.do(http.MethodGet, path+"?user_id=bob", "", nil, "Authorization", "Bearer "+root), http.StatusOK)
	r = e.do(http.MethodGet, "/v1/files/app/nope/f0001/x.pdf", "", nil, "Authorization", "Bearer "+bob)
	wantStatus(t, r, http.StatusNotFound)
	wantJSON(t, r.body, `{"error":"Table 'app:nope' not found"}`)
}

// http-api.md §8 on the real engine: a topic fed by an INSERT, consumed
// from the earliest offset, acknowledged, then resumed after the ack.
func TestEngineTopicRoundTrip(t *testing.T) {
	s, url := engineEnv(t, Options{})
	e := &testEnv{t: t, s: s, url: url}
	root := e.token("root", testRootPassword)
	for _, sql := range []string{
		"CREATE NAMESPACE app",
		"CREATE TABLE app.items (id BIGINT PRIMARY KEY, name TEXT) WITH (TYPE = 'SHARED')",
		"CREATE TOPIC app.item_events",
		"ALTER TOPIC app.item_events ADD SOURCE app.items ON INSERT",
		"INSERT INTO app.items (id, name) VALUES (1, 'a'), (2, 'b')",
	} {
		wantStatus(t, e.sql(root, `{"sql":`+quote(sql)+`}`), http.StatusOK)
	}
	consume := func(body string) map[string]any {
		r := e.postJSON("/v1/api/topics/consume", body, "Authorization", "Bearer "+root)
		wantStatus(t, r, http.StatusOK)
		return r.json(t)
	}
	m := consume(`{"topic_id":"app.item_events","group_id":"g","start":"Earliest","limit":10}`)
	msgs := m["messages"].([]any)
	require.Len(t, msgs, 2)
	require.EqualValues(t, json.Number("2"), m["next_offset"])
	require.EqualValues(t, false, m["has_more"], "consume %v", m)
	first := msgs[0].(map[string]any)
	_, ok := first["key"]
	require.True(t, ok)
	require.EqualValues(t, "Insert", first["op"])
	require.EqualValues(t, json.Number("0"), first["offset"], "message %v", first)
	payload, err := base64.StdEncoding.DecodeString(first["payload"].(string))
	require.NoError(t, err, "payload is not standard base64")
	p := decodeJSONMap(t, payload)
	require.EqualValues(t, "1", p["id"])
	require.EqualValues(t, "app:items", p["_table"], "payload %s", payload)
	r := e.postJSON("/v1/api/topics/ack", `{"topic_id":"app.item_events","group_id":"g","upto_offset":1}`, "Authorization", "Bearer "+root)
	wantJSON(t, r.body, `{"success":true,"acknowledged_offset":1}`)
	wantStatus(t, e.sql(root, `{"sql":"INSERT INTO app.items (id, name) VALUES (3, 'c')"}`), http.StatusOK)
	m = consume(`{"topic_id":"app.item_events","group_id":"g","start":"Earliest"}`)
	msgs = m["messages"].([]any)
	require.Len(t, msgs, 1)
	require.EqualValues(t, json.Number("2"), msgs[0].(map[string]any)["offset"], "resumed consume %v", m)
	r = e.postJSON("/v1/api/topics/consume", `{"topic_id":"app.nope","group_id":"g"}`, "Authorization", "Bearer "+root)
	wantStatus(t, r, http.StatusNotFound)
	wantJSON(t, r.body, `{"error":"Topic 'app.nope' does not exist","code":"NOT_FOUND"}`)
}

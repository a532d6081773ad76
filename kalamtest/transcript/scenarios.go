//go:build !js && !wasip1

package transcript

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/kalamstack/kalam-go/kalamtest"
	"strings"
)

// Scenarios are every script the recorder records and the replay checks.
// Names are fixed (each scenario runs on a fresh server), so transcripts
// need no normalising of generated names.
var Scenarios = []Scenario{
	{Name: "auth", Run: authScenario},
	{Name: "auth_lockout", Run: lockoutScenario},
	{Name: "auth_setup", NeedsSetup: true, Run: setupScenario},
	{Name: "sql_types", Run: typesScenario},
	{Name: "sql_ddl_dml", Run: ddlDMLScenario},
	{Name: "sql_errors", Run: sqlErrorsScenario},
	{Name: "sql_permissions", Run: permissionsScenario},
	{Name: "sql_batches_caps", Run: batchesScenario},
	{Name: "files", Run: filesScenario},
	{Name: "topics", Run: topicsScenario},
	{Name: "ws_auth", Run: wsAuthScenario},
	{Name: "ws_subscribe", Run: wsSubscribeScenario},
	{Name: "ws_options", Run: wsOptionsScenario},
}

// JWTSecret signs tokens on the servers scenarios run against (the
// recorder's server binary and the replay's emulator are configured with
// it), so a scenario can forge an expired token.
var JWTSecret = kalamtest.TestJWTSecret

func (s *Session) rootToken() string { return s.Login("login root", "root", s.root) }

// createUser makes a user with a role and returns its token.
func (s *Session) createUser(rootTok, name, role string) string {
	s.SQL("create user "+name, rootTok, fmt.Sprintf("CREATE USER '%s' WITH PASSWORD 'Passw0rd-%s!' ROLE %s", name, name, role))
	return s.Login("login "+name, name, "Passw0rd-"+name+"!")
}

func authScenario(s *Session) {
	login := func(step string, body any) *Resp {
		return s.Do(step, Req{Method: "POST", Path: "/v1/api/auth/login", JSON: body})
	}
	ok := login("login root", map[string]string{"user": "root", "password": s.root})
	access, refresh := ok.Get("access_token"), ok.Get("refresh_token")
	if access == "" {
		s.Abort("no access token")
	}
	login("login wrong password", map[string]string{"user": "root", "password": "wrong-password"})
	login("login unknown user", map[string]string{"user": "nobody", "password": "whatever-pw"})
	login("login username alias", map[string]string{"username": "root", "password": s.root})
	login("login missing password", map[string]string{"user": "root"})
	login("login empty password", map[string]string{"user": "root", "password": ""})
	s.Do("login malformed json", Req{Method: "POST", Path: "/v1/api/auth/login", Raw: []byte(`{"user":`), ContentType: "application/json"})
	s.Do("login wrong content type", Req{Method: "POST", Path: "/v1/api/auth/login", Raw: []byte(`user=root`), ContentType: "text/plain"})

	s.Do("me", Req{Method: "GET", Path: "/v1/api/auth/me", Token: access})
	s.Do("me without token", Req{Method: "GET", Path: "/v1/api/auth/me"})
	s.Do("me garbage token", Req{Method: "GET", Path: "/v1/api/auth/me", Token: "not-a-token"})
	s.Do("me with refresh token", Req{Method: "GET", Path: "/v1/api/auth/me", Token: refresh})
	s.Do("refresh", Req{Method: "POST", Path: "/v1/api/auth/refresh", Token: refresh})
	s.Do("refresh with access token", Req{Method: "POST", Path: "/v1/api/auth/refresh", Token: access})
	s.Do("refresh without token", Req{Method: "POST", Path: "/v1/api/auth/refresh"})
	s.Do("status", Req{Method: "GET", Path: "/v1/api/auth/status"})
	s.Do("setup when configured", Req{Method: "POST", Path: "/v1/api/auth/setup",
		JSON: map[string]string{"user": "admin", "password": "AdminPass123!", "root_password": "RootPass123!"}})

	s.SQL("sql ok", access, "SELECT 1 AS one")
	s.Do("sql without auth", Req{Method: "POST", Path: "/v1/api/sql", JSON: map[string]string{"sql": "SELECT 1"}})
	s.Do("sql with basic auth", Req{Method: "POST", Path: "/v1/api/sql", JSON: map[string]string{"sql": "SELECT 1"},
		Header: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("root:"+s.root))}})
	s.SQL("sql with refresh token", refresh, "SELECT 1")
	s.SQL("sql with expired token", forgeExpired(s, access), "SELECT 1")
	s.SQL("sql with token of another secret", resign(access, "another-secret-another-secret-0123"), "SELECT 1")
	s.Do("logout", Req{Method: "POST", Path: "/v1/api/auth/logout", Token: access})
	s.Do("healthcheck", Req{Method: "GET", Path: "/v1/api/healthcheck"})
	s.Do("unknown route", Req{Method: "GET", Path: "/v1/api/nope", Token: access})
}

// forgeExpired re-signs tok with its exp in the past: what a client holds
// after the token's lifetime.
func forgeExpired(s *Session, tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		s.Abort("not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		s.Abort("JWT payload: %v", err)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var claims map[string]any
	if err := d.Decode(&claims); err != nil {
		s.Abort("JWT claims: %v", err)
	}
	claims["iat"], claims["exp"] = 1700000000, 1700003600
	payload, _ := json.Marshal(claims)
	return sign(parts[0]+"."+base64.RawURLEncoding.EncodeToString(payload), JWTSecret)
}

func resign(tok, secret string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return tok
	}
	return sign(parts[0]+"."+parts[1], secret)
}

func sign(unsigned, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func lockoutScenario(s *Session) {
	root := s.rootToken()
	s.SQL("create user", root, "CREATE USER 'locky' WITH PASSWORD 'Passw0rd-locky!' ROLE user")
	for i := 1; i <= 6; i++ {
		s.Do(fmt.Sprintf("wrong password %d", i), Req{Method: "POST", Path: "/v1/api/auth/login",
			JSON: map[string]string{"user": "locky", "password": "wrong-password"}})
	}
	s.Do("right password while locked", Req{Method: "POST", Path: "/v1/api/auth/login",
		JSON: map[string]string{"user": "locky", "password": "Passw0rd-locky!"}})
	s.SQL("root still works", root, "SELECT 1 AS ok")
}

func setupScenario(s *Session) {
	s.Do("status before setup", Req{Method: "GET", Path: "/v1/api/auth/status"})
	s.Do("login root before setup", Req{Method: "POST", Path: "/v1/api/auth/login",
		JSON: map[string]string{"user": "root", "password": ""}})
	s.Do("login root with a password before setup", Req{Method: "POST", Path: "/v1/api/auth/login",
		JSON: map[string]string{"user": "root", "password": "whatever-Pw1"}})
	setup := func(step string, body map[string]string) {
		s.Do(step, Req{Method: "POST", Path: "/v1/api/auth/setup", JSON: body})
	}
	setup("setup weak dba password", map[string]string{"user": "admin", "password": "short", "root_password": "RootPass123!"})
	setup("setup common root password", map[string]string{"user": "admin", "password": "AdminPass123!", "root_password": "password"})
	setup("setup user root", map[string]string{"user": "root", "password": "AdminPass123!", "root_password": "RootPass123!"})
	setup("setup unknown field", map[string]string{"user": "admin", "password": "AdminPass123!", "root_password": "RootPass123!", "extra": "x"})
	setup("setup", map[string]string{"user": "admin", "password": "AdminPass123!", "root_password": "RootPass123!", "email": "admin@example.com"})
	setup("setup again", map[string]string{"user": "admin2", "password": "AdminPass123!", "root_password": "RootPass123!"})
	s.Do("status after setup", Req{Method: "GET", Path: "/v1/api/auth/status"})
	tok := s.Login("login dba", "admin", "AdminPass123!")
	s.Do("me as dba", Req{Method: "GET", Path: "/v1/api/auth/me", Token: tok})
	s.Login("login root after setup", "root", "RootPass123!")
}

func typesScenario(s *Session) {
	root := s.rootToken()
	s.SQL("create namespace", root, "CREATE NAMESPACE types")
	s.SQL("create table", root, `CREATE TABLE types.all_types (
		id TEXT PRIMARY KEY, c_bool BOOLEAN, c_small SMALLINT, c_int INT, c_big BIGINT,
		c_float FLOAT, c_double DOUBLE, c_dec DECIMAL(10, 2), c_text TEXT, c_bytes BYTES,
		c_json JSON, c_ts TIMESTAMP, c_dt DATETIME, c_date DATE, c_time TIME, c_uuid UUID,
		c_emb EMBEDDING(3)) WITH (TYPE = 'SHARED')`)
	s.SQL("insert literals", root, `INSERT INTO types.all_types (id, c_bool, c_small, c_int, c_big, c_float, c_double,
		c_dec, c_text, c_json, c_ts, c_dt, c_date, c_time, c_uuid, c_emb) VALUES
		('max', true, 32767, 2147483647, 9223372036854775807, 1.5, 2.25, 12345678.91, 'héllo ✓',
		 '{"k": [1, 2]}', '2023-01-01 10:00:00', '2023-01-01T10:00:00Z', '2023-01-01', '10:00:00',
		 '0190a0b0-c0d0-7e0f-8a1b-2c3d4e5f6071', '[0.5, 0.25, 1.0]')`)
	s.SQL("insert minimums", root, `INSERT INTO types.all_types (id, c_bool, c_small, c_int, c_big, c_double, c_dec, c_text)
		VALUES ('min', false, -32768, -2147483648, -9223372036854775808, -0.5, -0.01, '')`)
	s.SQL("insert nulls", root, "INSERT INTO types.all_types (id) VALUES ('nulls')")
	s.SQL("insert with params", root, `INSERT INTO types.all_types (id, c_bool, c_int, c_big, c_double, c_text, c_dec)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, "params", true, 42, "9007199254740993", 3.5, "it's", "7.10")
	s.SQL("select all", root, "SELECT * FROM types.all_types ORDER BY id")
	s.SQL("select typed params", root, "SELECT id FROM types.all_types WHERE c_big = $1 AND c_bool = $2", "9223372036854775807", true)
	s.SQL("select expressions", root, `SELECT COUNT(*) AS n, SUM(c_int) AS total, MAX(c_big) AS biggest,
		CAST(1 AS BIGINT) AS one_big, 1.5 AS dbl, 'x' AS txt, NULL AS nothing, TRUE AS yes FROM types.all_types`)
	s.SQL("insert bad uuid", root, "INSERT INTO types.all_types (id, c_uuid) VALUES ('bad', 'not-a-uuid')")
	s.SQL("insert bad embedding", root, "INSERT INTO types.all_types (id, c_emb) VALUES ('bad', '[1.0]')")
	s.SQL("insert bigint overflow", root, "INSERT INTO types.all_types (id, c_big) VALUES ('bad', 9223372036854775808)")
	s.SQL("insert decimal too precise", root, "INSERT INTO types.all_types (id, c_dec) VALUES ('bad', 123456789012.5)")
	s.SQL("update types", root, "UPDATE types.all_types SET c_text = 'changed', c_big = 1 WHERE id = 'min'")
	s.SQL("select after update", root, "SELECT id, c_text, c_big FROM types.all_types WHERE id = 'min'")
	s.SQL("select a date cast", root, "SELECT CAST('2024-02-29' AS DATE) AS d")
	// Last: KalamDB 0.4.2-rc.3 drops the connection on this one.
	s.SQL("select a decimal cast to text", root, "SELECT CAST(c_dec AS TEXT) AS dec_text FROM types.all_types WHERE id = 'max'")
}

func ddlDMLScenario(s *Session) {
	root := s.rootToken()
	s.SQL("create namespace", root, "CREATE NAMESPACE shop")
	s.SQL("create namespace again", root, "CREATE NAMESPACE shop")
	s.SQL("create namespace if not exists", root, "CREATE NAMESPACE IF NOT EXISTS shop")
	s.SQL("create user table", root, "CREATE USER TABLE shop.carts (id BIGINT PRIMARY KEY, item TEXT NOT NULL, qty INT DEFAULT 1)")
	s.SQL("create shared table", root, "CREATE SHARED TABLE shop.products (sku TEXT PRIMARY KEY, price DECIMAL(8, 2)) WITH (ACCESS_LEVEL = 'PUBLIC')")
	s.SQL("create stream table", root, "CREATE STREAM TABLE shop.clicks (id BIGINT PRIMARY KEY, page TEXT) WITH (TTL_SECONDS = 3600)")
	s.SQL("create table again", root, "CREATE USER TABLE shop.carts (id BIGINT PRIMARY KEY)")
	s.SQL("create table if not exists", root, "CREATE USER TABLE IF NOT EXISTS shop.carts (id BIGINT PRIMARY KEY)")
	s.SQL("create table without pk", root, "CREATE USER TABLE shop.nopk (name TEXT)")
	s.SQL("create table composite pk", root, "CREATE SHARED TABLE shop.comp (a INT, b INT, PRIMARY KEY (a, b))")
	s.SQL("create table unknown namespace", root, "CREATE SHARED TABLE nowhere.t (id INT PRIMARY KEY)")
	s.SQL("create stream without ttl", root, "CREATE STREAM TABLE shop.events (id INT PRIMARY KEY)")
	s.SQL("create table unknown option", root, "CREATE SHARED TABLE shop.opt (id INT PRIMARY KEY) WITH (COLOR = 'red')")
	s.SQL("insert one", root, "INSERT INTO shop.carts (id, item) VALUES (1, 'apple')")
	s.SQL("insert many", root, "INSERT INTO shop.carts (id, item, qty) VALUES (2, 'pear', 2), (3, 'plum', 3), (4, 'fig', 4)")
	s.SQL("insert duplicate pk", root, "INSERT INTO shop.carts (id, item) VALUES (1, 'again')")
	s.SQL("insert null into not null", root, "INSERT INTO shop.carts (id) VALUES (9)")
	s.SQL("update", root, "UPDATE shop.carts SET qty = 10 WHERE id = 2")
	s.SQL("update no match", root, "UPDATE shop.carts SET qty = 10 WHERE id = 99")
	s.SQL("update primary key", root, "UPDATE shop.carts SET id = 20 WHERE id = 2")
	s.SQL("delete", root, "DELETE FROM shop.carts WHERE id = 3")
	s.SQL("select", root, "SELECT id, item, qty FROM shop.carts ORDER BY id")
	s.SQL("select hidden columns", root, "SELECT id, _deleted FROM shop.carts ORDER BY id")
	s.SQL("insert shared", root, "INSERT INTO shop.products (sku, price) VALUES ('a-1', 9.99), ('b-2', 100)")
	s.SQL("select shared", root, "SELECT sku, price FROM shop.products ORDER BY sku")
	s.SQL("insert stream", root, "INSERT INTO shop.clicks (id, page) VALUES (1, '/home')")
	s.SQL("update stream", root, "UPDATE shop.clicks SET page = '/x' WHERE id = 1")
	s.SQL("select stream", root, "SELECT id, page FROM shop.clicks")
	s.SQL("alter table add column", root, "ALTER TABLE shop.products ADD COLUMN name TEXT")
	s.SQL("select after alter", root, "SELECT sku, price, name FROM shop.products ORDER BY sku")
	s.SQL("system tables", root, "SELECT table_name, table_type FROM system.tables WHERE namespace_id = 'shop' ORDER BY table_name")
	s.SQL("system namespaces", root, "SELECT namespace_id FROM system.namespaces WHERE namespace_id = 'shop'")
	s.SQL("drop table", root, "DROP TABLE shop.clicks")
	s.SQL("drop table again", root, "DROP TABLE shop.clicks")
	s.SQL("drop table if exists", root, "DROP TABLE IF EXISTS shop.clicks")
	s.SQL("drop non-empty namespace", root, "DROP NAMESPACE shop")
}

func sqlErrorsScenario(s *Session) {
	root := s.rootToken()
	s.SQL("create namespace", root, "CREATE NAMESPACE errs")
	s.SQL("create table", root, "CREATE SHARED TABLE errs.t (id INT PRIMARY KEY, v TEXT)")
	s.SQL("syntax error", root, "SELEC 1")
	s.SQL("unknown table", root, "SELECT * FROM errs.missing")
	s.SQL("unknown namespace", root, "SELECT * FROM nowhere.t")
	s.SQL("unknown column", root, "SELECT nope FROM errs.t")
	s.SQL("empty sql", root, "")
	s.SQL("whitespace sql", root, "   ")
	s.SQL("division by zero", root, "SELECT 1 / 0 AS x")
	s.SQL("param count mismatch", root, "SELECT $1 AS a, $2 AS b", 1)
	s.SQL("params with batch", root, "SELECT $1 AS a; SELECT 2 AS b", 1)
	s.Do("params not an array", Req{Method: "POST", Path: "/v1/api/sql", Token: root,
		JSON: map[string]any{"sql": "SELECT 1", "params": map[string]int{"a": 1}}})
	s.Do("sql missing", Req{Method: "POST", Path: "/v1/api/sql", Token: root, JSON: map[string]any{"query": "SELECT 1"}})
	s.Do("malformed json", Req{Method: "POST", Path: "/v1/api/sql", Token: root, Raw: []byte(`{"sql":`), ContentType: "application/json"})
	s.Do("namespace_id", Req{Method: "POST", Path: "/v1/api/sql", Token: root,
		JSON: map[string]any{"sql": "SELECT id FROM t", "namespace_id": "errs"}})
	s.Do("namespace (ignored)", Req{Method: "POST", Path: "/v1/api/sql", Token: root,
		JSON: map[string]any{"sql": "SELECT id FROM t", "namespace": "errs"}})
	s.SQL("file placeholder over json", root, `INSERT INTO errs.t (id, v) VALUES (1, FILE("doc"))`)
	s.SQL("unsupported statement", root, "VACUUM")
	s.SQL("type mismatch", root, "INSERT INTO errs.t (id, v) VALUES ('x', 'y')")
	s.SQL("unterminated string", root, "SELECT 'abc")
}

func permissionsScenario(s *Session) {
	root := s.rootToken()
	s.SQL("create namespace", root, "CREATE NAMESPACE perm")
	s.SQL("create user table", root, "CREATE USER TABLE perm.notes (id INT PRIMARY KEY, body TEXT)")
	s.SQL("create private shared table", root, "CREATE SHARED TABLE perm.secrets (id INT PRIMARY KEY, v TEXT)")
	s.SQL("create public shared table", root, "CREATE SHARED TABLE perm.board (id INT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	s.SQL("seed board", root, "INSERT INTO perm.board (id, v) VALUES (1, 'hello')")
	alice := s.createUser(root, "alice", "user")
	bob := s.createUser(root, "bob", "user")
	svc := s.createUser(root, "svc", "service")
	dba := s.createUser(root, "dbaa", "dba")
	s.SQL("alice inserts a note", alice, "INSERT INTO perm.notes (id, body) VALUES (1, 'alice note')")
	s.SQL("bob inserts a note", bob, "INSERT INTO perm.notes (id, body) VALUES (1, 'bob note')")
	s.SQL("alice reads her notes", alice, "SELECT id, body FROM perm.notes")
	s.SQL("bob reads his notes", bob, "SELECT id, body FROM perm.notes")
	s.SQL("root reads notes", root, "SELECT id, body FROM perm.notes")
	s.SQL("alice reads public board", alice, "SELECT id, v FROM perm.board")
	s.SQL("alice writes public board", alice, "INSERT INTO perm.board (id, v) VALUES (2, 'x')")
	s.SQL("alice reads private table", alice, "SELECT * FROM perm.secrets")
	s.SQL("alice creates namespace", alice, "CREATE NAMESPACE alicens")
	s.SQL("alice creates user", alice, "CREATE USER 'eve' WITH PASSWORD 'Passw0rd-eve!' ROLE user")
	s.SQL("alice reads system users", alice, "SELECT user_id FROM system.users")
	s.SQL("alice unknown table (redacted)", alice, "SELECT * FROM perm.missing")
	s.SQL("alice syntax error", alice, "SELEC 1")
	s.SQL("service reads notes", svc, "SELECT id, body FROM perm.notes")
	s.SQL("dba reads private table", dba, "SELECT * FROM perm.secrets")
	s.SQL("dba creates namespace", dba, "CREATE NAMESPACE dbans")
	s.SQL("root execute as alice", root, "EXECUTE AS USER 'alice' (SELECT id, body FROM perm.notes)")
	s.SQL("root insert as bob", root, "EXECUTE AS USER 'bob' (INSERT INTO perm.notes (id, body) VALUES (2, 'by root'))")
	s.SQL("bob sees the row", bob, "SELECT id, body FROM perm.notes ORDER BY id")
	s.SQL("alice execute as bob", alice, "EXECUTE AS USER 'bob' (SELECT id, body FROM perm.notes)")
	s.SQL("root alters alice role", root, "ALTER USER 'alice' SET ROLE service")
	s.SQL("root drops bob", root, "DROP USER 'bob'")
	s.Do("bob logs in after drop", Req{Method: "POST", Path: "/v1/api/auth/login",
		JSON: map[string]string{"user": "bob", "password": "Passw0rd-bob!"}})
}

func batchesScenario(s *Session) {
	root := s.rootToken()
	s.SQL("create namespace", root, "CREATE NAMESPACE batch")
	s.SQL("create table", root, "CREATE SHARED TABLE batch.n (id INT PRIMARY KEY, v TEXT)")
	s.SQL("batch inserts", root, "INSERT INTO batch.n (id, v) VALUES (1, 'a'); INSERT INTO batch.n (id, v) VALUES (2, 'b'); INSERT INTO batch.n (id, v) VALUES (3, 'c')")
	s.SQL("batch mixed", root, "INSERT INTO batch.n (id, v) VALUES (4, 'd'); SELECT COUNT(*) AS n FROM batch.n; UPDATE batch.n SET v = 'z' WHERE id = 1")
	s.SQL("batch two selects", root, "SELECT id FROM batch.n WHERE id = 1; SELECT id FROM batch.n WHERE id = 2")
	s.SQL("batch failing middle", root, "INSERT INTO batch.n (id, v) VALUES (5, 'e'); SELECT * FROM batch.missing; INSERT INTO batch.n (id, v) VALUES (6, 'f')")
	s.SQL("after failing batch", root, "SELECT id FROM batch.n ORDER BY id")
	s.SQL("transaction", root, "BEGIN; INSERT INTO batch.n (id, v) VALUES (7, 'g'); COMMIT")
	s.SQL("transaction rolled back", root, "BEGIN; INSERT INTO batch.n (id, v) VALUES (8, 'h'); ROLLBACK")
	s.SQL("after transactions", root, "SELECT id FROM batch.n WHERE id >= 7 ORDER BY id")
	s.SQL("commit without begin", root, "COMMIT")
	s.SQL("create cap table", root, "CREATE SHARED TABLE batch.many (id INT PRIMARY KEY)")
	var vals []string
	for i := range 1005 {
		vals = append(vals, fmt.Sprintf("(%d)", i))
	}
	s.SQL("insert 1005 rows", root, "INSERT INTO batch.many (id) VALUES "+strings.Join(vals, ", "))
	s.SQL("count", root, "SELECT COUNT(*) AS n FROM batch.many")
	capped := s.SQL("select without limit", root, "SELECT id FROM batch.many ORDER BY id")
	_ = capped
	s.SQL("select limit 10", root, "SELECT id FROM batch.many ORDER BY id LIMIT 10")
	s.SQL("select limit 5000", root, "SELECT id FROM batch.many ORDER BY id LIMIT 5000")
	s.SQL("select offset", root, "SELECT id FROM batch.many ORDER BY id LIMIT 3 OFFSET 1000")
}

// multipart builds a request body by hand with a fixed boundary, so the
// recorded request is the same on every run.
func multipart(fields [][2]string, files [][4]string) ([]byte, string) {
	const boundary = "kalamtest-boundary-7f3a"
	var b bytes.Buffer
	for _, f := range fields {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", boundary, f[0], f[1])
	}
	for _, f := range files { // part name, file name, content type, content
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q; filename=%q\r\nContent-Type: %s\r\n\r\n%s\r\n",
			boundary, f[0], f[1], f[2], f[3])
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes(), "multipart/form-data; boundary=" + boundary
}

func filesScenario(s *Session) {
	root := s.rootToken()
	s.SQL("create namespace", root, "CREATE NAMESPACE docs")
	s.SQL("create table", root, "CREATE SHARED TABLE docs.files (id INT PRIMARY KEY, doc FILE)")
	upload := func(step, sql string, files [][4]string) *Resp {
		body, ctype := multipart([][2]string{{"sql", sql}}, files)
		return s.Do(step, Req{Method: "POST", Path: "/v1/api/sql", Token: root, Raw: body, ContentType: ctype})
	}
	upload("upload", `INSERT INTO docs.files (id, doc) VALUES (1, FILE("contract"))`,
		[][4]string{{"file:contract", "contract.txt", "text/plain", "hello, file"}})
	upload("upload without content type", `INSERT INTO docs.files (id, doc) VALUES (2, FILE("img"))`,
		[][4]string{{"file:img", "pixel.png", "", "\x89PNG\r\n\x1a\n0000"}})
	upload("upload two statements", `INSERT INTO docs.files (id, doc) VALUES (3, FILE("a")); SELECT 1`,
		[][4]string{{"file:a", "a.txt", "text/plain", "a"}})
	upload("upload missing part", `INSERT INTO docs.files (id, doc) VALUES (4, FILE("missing"))`, nil)
	upload("upload into select", `SELECT FILE("x")`, [][4]string{{"file:x", "x.txt", "text/plain", "x"}})
	body, ctype := multipart([][2]string{}, [][4]string{{"file:x", "x.txt", "text/plain", "x"}})
	s.Do("upload without sql", Req{Method: "POST", Path: "/v1/api/sql", Token: root, Raw: body, ContentType: ctype})
	sel := s.SQL("select file", root, "SELECT id, doc FROM docs.files ORDER BY id")
	// The FILE cell is a JSON string holding the reference; download it.
	var ref struct {
		ID  string `json:"id"`
		Sub string `json:"sub"`
	}
	if cell := firstCell(sel, 1); cell != "" {
		_ = json.Unmarshal([]byte(cell), &ref)
	}
	if ref.ID == "" {
		s.Abort("no file reference in %v", sel.Body)
	}
	s.Do("download", Req{Method: "GET", Path: "/v1/files/docs/files/" + ref.Sub + "/" + ref.ID, Token: root})
	s.Do("download without token", Req{Method: "GET", Path: "/v1/files/docs/files/" + ref.Sub + "/" + ref.ID})
	s.Do("download unknown file", Req{Method: "GET", Path: "/v1/files/docs/files/" + ref.Sub + "/0000000000000000000", Token: root})
	s.Do("download unknown table", Req{Method: "GET", Path: "/v1/files/docs/nope/" + ref.Sub + "/" + ref.ID, Token: root})
	// The server stores a file as "{id}-{sanitized name}.{ext}" and serves
	// it only under that name (what sdk.FileRef.DownloadPath builds).
	s.Do("download stored name", Req{Method: "GET", Path: "/v1/files/docs/files/" + ref.Sub + "/" + ref.ID + "-contract.txt", Token: root})
}

// firstCell returns column col of the first row of the first result as a
// string ("" when absent).
func firstCell(r *Resp, col int) string {
	m, _ := r.Body.(map[string]any)
	results, _ := m["results"].([]any)
	if len(results) == 0 {
		return ""
	}
	res, _ := results[0].(map[string]any)
	rows, _ := res["rows"].([]any)
	if len(rows) == 0 {
		return ""
	}
	row, _ := rows[0].([]any)
	if col >= len(row) {
		return ""
	}
	s, _ := row[col].(string)
	return s
}

func topicsScenario(s *Session) {
	root := s.rootToken()
	s.SQL("create namespace", root, "CREATE NAMESPACE orders")
	s.SQL("create table", root, "CREATE SHARED TABLE orders.items (id BIGINT PRIMARY KEY, status TEXT)")
	s.SQL("create topic", root, "CREATE TOPIC orders.events")
	s.SQL("create topic again", root, "CREATE TOPIC orders.events")
	s.SQL("add source insert", root, "ALTER TOPIC orders.events ADD SOURCE orders.items ON INSERT")
	s.SQL("add source update", root, "ALTER TOPIC orders.events ADD SOURCE orders.items ON UPDATE")
	s.SQL("add source delete", root, "ALTER TOPIC orders.events ADD SOURCE orders.items ON DELETE")
	s.SQL("insert", root, "INSERT INTO orders.items (id, status) VALUES (1, 'new'), (2, 'new')")
	s.SQL("update", root, "UPDATE orders.items SET status = 'paid' WHERE id = 1")
	s.SQL("delete", root, "DELETE FROM orders.items WHERE id = 2")
	consume := func(step, tok string, body map[string]any) *Resp {
		return s.Do(step, Req{Method: "POST", Path: "/v1/api/topics/consume", Token: tok, JSON: body})
	}
	consume("consume earliest", root, map[string]any{"topic_id": "orders.events", "group_id": "g1", "start": "Earliest", "limit": 2})
	consume("consume next", root, map[string]any{"topic_id": "orders.events", "group_id": "g1", "start": "Earliest", "limit": 10})
	consume("consume empty", root, map[string]any{"topic_id": "orders.events", "group_id": "g1", "start": "Earliest", "limit": 10})
	s.Do("ack", Req{Method: "POST", Path: "/v1/api/topics/ack", Token: root,
		JSON: map[string]any{"topic_id": "orders.events", "group_id": "g1", "partition_id": 0, "upto_offset": 1}})
	consume("consume other group latest", root, map[string]any{"topic_id": "orders.events", "group_id": "g2", "start": "Latest", "limit": 10})
	consume("consume at offset", root, map[string]any{"topic_id": "orders.events", "group_id": "g3", "start": map[string]int{"Offset": 2}, "limit": 10})
	consume("consume unknown topic", root, map[string]any{"topic_id": "orders.nope", "group_id": "g1", "start": "Earliest"})
	consume("consume missing group", root, map[string]any{"topic_id": "orders.events"})
	consume("consume bad start", root, map[string]any{"topic_id": "orders.events", "group_id": "g4", "start": "Middle"})
	user := s.createUser(root, "plain", "user")
	consume("consume as user role", user, map[string]any{"topic_id": "orders.events", "group_id": "g5", "start": "Earliest"})
	consume("consume without token", "", map[string]any{"topic_id": "orders.events", "group_id": "g5", "start": "Earliest"})
	s.Do("ack unknown topic", Req{Method: "POST", Path: "/v1/api/topics/ack", Token: root,
		JSON: map[string]any{"topic_id": "orders.nope", "group_id": "g1", "upto_offset": 0}})
	s.SQL("drop topic", root, "DROP TOPIC orders.events")
}

func wsAuthScenario(s *Session) {
	root := s.rootToken()
	w := s.Dial("dial", "", nil)
	if w == nil {
		s.Abort("upgrade refused")
	}
	w.Send("subscribe before auth", map[string]any{"type": "subscribe", "subscription": map[string]any{"id": "s1", "sql": "SELECT 1", "options": map[string]any{}}})
	w.Recv("subscribe before auth: answer")
	w.Send("ping before auth", map[string]any{"type": "ping"})
	w.Authenticate("authenticate", root, "none")
	w.Authenticate("authenticate again", root, "none")
	w.Close()

	bad := s.Dial("dial for a bad token", "", nil)
	bad.Authenticate("authenticate bad token", "not-a-token", "none")
	bad.Recv("after auth error")

	expired := s.Dial("dial for an expired token", "", nil)
	expired.Authenticate("authenticate expired token", forgeExpired(s, root), "none")
	expired.Recv("after expired token")

	noproto := s.Dial("dial for auth without protocol", "", nil)
	noproto.Send("authenticate without protocol", map[string]any{"type": "authenticate", "method": "jwt", "token": root})
	noproto.Recv("after auth without protocol")

	junk := s.Dial("dial for malformed json", "", nil)
	junk.Authenticate("authenticate", root, "none")
	junk.SendRaw("malformed json", []byte(`{"type":`))
	junk.Recv("after malformed json")

	unknown := s.Dial("dial for unknown type", "", nil)
	unknown.Authenticate("authenticate", root, "none")
	unknown.Send("unknown type", map[string]any{"type": "dance"})
	unknown.Recv("after unknown type")

	hdr := s.Dial("dial with bearer header", root, nil)
	hdr.Send("subscribe with header auth", map[string]any{"type": "subscribe", "subscription": map[string]any{"id": "h1", "sql": "SELECT * FROM system.namespaces", "options": map[string]any{"batch_size": 1}}})
	hdr.Recv("header auth: first answer")
	hdr.Close()

	s.Dial("dial with a bad bearer header", "not-a-token", nil)
	s.Dial("dial from a foreign origin", "", map[string]string{"Origin": "http://evil.example"})
}

func wsSubscribeScenario(s *Session) {
	root := s.rootToken()
	s.SQL("create namespace", root, "CREATE NAMESPACE live")
	s.SQL("create table", root, "CREATE SHARED TABLE live.msgs (id BIGINT PRIMARY KEY, body TEXT, n INT)")
	s.SQL("seed", root, "INSERT INTO live.msgs (id, body, n) VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3), (4, 'd', 4), (5, 'e', 5)")
	w := s.Dial("dial", "", nil)
	w.Authenticate("authenticate", root, "none")
	sub := func(step, id, sql string, options any) {
		body := map[string]any{"id": id, "sql": sql}
		if options != nil {
			body["options"] = options
		}
		w.Send(step, map[string]any{"type": "subscribe", "subscription": body})
	}
	sub("subscribe in pages of 2", "p", "SELECT * FROM live.msgs", map[string]any{"batch_size": 2})
	w.Recv("ack")
	first := w.Recv("batch 0")
	last := lastSeq(first)
	w.Send("next_batch 1", map[string]any{"type": "next_batch", "subscription_id": "p", "last_seq_id": last})
	last = lastSeq(w.Recv("batch 1"))
	w.Send("next_batch 2", map[string]any{"type": "next_batch", "subscription_id": "p", "last_seq_id": last})
	w.Recv("batch 2")
	w.Send("next_batch after ready", map[string]any{"type": "next_batch", "subscription_id": "p", "last_seq_id": last})
	w.Recv("batch after ready")

	s.SQL("insert", root, "INSERT INTO live.msgs (id, body, n) VALUES (6, 'f', 6)")
	w.Recv("change insert")
	s.SQL("update", root, "UPDATE live.msgs SET body = 'F' WHERE id = 6")
	w.Recv("change update")
	s.SQL("update to null", root, "UPDATE live.msgs SET n = NULL WHERE id = 6")
	w.Recv("change update to null")
	s.SQL("delete", root, "DELETE FROM live.msgs WHERE id = 6")
	w.Recv("change delete")
	s.SQL("insert two", root, "INSERT INTO live.msgs (id, body, n) VALUES (7, 'g', 7), (8, 'h', 8)")
	w.Recv("change insert 7")
	w.Recv("change insert 8")

	w.Send("unsubscribe", map[string]any{"type": "unsubscribe", "subscription_id": "p"})
	sub("subscribe filtered projection", "f", "SELECT id, body FROM live.msgs WHERE n > 3", map[string]any{})
	w.Recv("filtered ack")
	w.Recv("filtered batch")
	s.SQL("insert filtered out", root, "INSERT INTO live.msgs (id, body, n) VALUES (9, 'i', 1)")
	s.SQL("insert filtered in", root, "INSERT INTO live.msgs (id, body, n) VALUES (10, 'j', 10)")
	w.Recv("filtered change (only id 10)")
	// Whatever a row leaving the filter yields comes before the next change.
	s.SQL("update out of filter", root, "UPDATE live.msgs SET n = 0 WHERE id = 10")
	s.SQL("insert filtered in again", root, "INSERT INTO live.msgs (id, body, n) VALUES (11, 'k', 11)")
	w.Recv("after the update leaving the filter")
	w.Send("unsubscribe f", map[string]any{"type": "unsubscribe", "subscription_id": "f"})
	w.Send("unsubscribe unknown", map[string]any{"type": "unsubscribe", "subscription_id": "nope"})
	w.Send("next_batch unknown", map[string]any{"type": "next_batch", "subscription_id": "nope"})
	w.Recv("next_batch unknown: answer")
	sub("subscribe with blank id", " ", "SELECT * FROM live.msgs", map[string]any{})
	w.Recv("blank id: answer")
	sub("subscribe unknown table", "u", "SELECT * FROM live.nope", map[string]any{})
	w.Recv("unknown table: answer")
	sub("subscribe bad sql", "b", "SELEC * FROM live.msgs", map[string]any{})
	w.Recv("bad sql: answer")
	sub("subscribe with a join", "j", "SELECT * FROM live.msgs a JOIN live.msgs b ON a.id = b.id", map[string]any{})
	w.Recv("join: answer")
	sub("subscribe to an insert", "i", "INSERT INTO live.msgs (id) VALUES (99)", map[string]any{})
	w.Recv("insert statement: answer")
}

// lastSeq returns a batch's batch_control.last_seq_id (nil when absent).
func lastSeq(frame map[string]any) any {
	bc, _ := frame["batch_control"].(map[string]any)
	return bc["last_seq_id"]
}

func wsOptionsScenario(s *Session) {
	root := s.rootToken()
	s.SQL("create namespace", root, "CREATE NAMESPACE opts")
	s.SQL("create table", root, "CREATE SHARED TABLE opts.t (id BIGINT PRIMARY KEY, v TEXT)")
	s.SQL("seed", root, "INSERT INTO opts.t (id, v) VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')")
	w := s.Dial("dial", "", nil)
	w.Authenticate("authenticate", root, "none")
	sub := func(step, id string, options any) {
		body := map[string]any{"id": id, "sql": "SELECT * FROM opts.t"}
		if options != nil {
			body["options"] = options
		}
		w.Send(step, map[string]any{"type": "subscribe", "subscription": body})
	}
	sub("live only (no options)", "live", nil)
	w.Recv("live only: ack")
	sub("empty options", "all", map[string]any{})
	w.Recv("empty options: ack")
	all := w.Recv("empty options: batch")
	sub("batch_size 0", "zero", map[string]any{"batch_size": 0})
	w.Recv("batch_size 0: ack")
	w.Recv("batch_size 0: batch")
	sub("last_rows 2", "last", map[string]any{"last_rows": 2})
	w.Recv("last_rows: ack")
	w.Recv("last_rows: batch")
	from := seqOfRow(all, 1)
	sub("from the second row", "from", map[string]any{"from": from})
	w.Recv("from: ack")
	w.Recv("from: batch")
	sub("batch_size and last_rows", "both", map[string]any{"batch_size": 1, "last_rows": 3})
	w.Recv("both: ack")
	w.Recv("both: batch")
	sub("reuse an id", "all", map[string]any{"batch_size": 10})
	w.Recv("reuse: ack")
	w.Recv("reuse: batch")
	s.SQL("insert", root, "INSERT INTO opts.t (id, v) VALUES (5, 'e')")
	// Every subscription whose snapshot is done hears it once; "last" and
	// "both" are still loading (has_more), so theirs is held back.
	w.RecvSet("change for every subscription", 4)
	// 1 MiB and more in one text frame is over max_ws_message_size.
	big := strings.Repeat("x", 1<<20)
	w2 := s.Dial("dial for from as a string", "", nil)
	w2.Authenticate("authenticate", root, "none")
	w2.Send("from as a string", map[string]any{"type": "subscribe", "subscription": map[string]any{
		"id": "fromstr", "sql": "SELECT * FROM opts.t", "options": map[string]any{"from": fmt.Sprint(from)}}})
	w2.Recv("from as a string: answer")
	w.Send("oversized message", map[string]any{"type": "subscribe", "subscription": map[string]any{"id": "big", "sql": "SELECT '" + big + "' AS x FROM opts.t"}})
	w.Recv("oversized: answer")
}

// seqOfRow returns the _seq of row i of an initial batch.
func seqOfRow(frame map[string]any, i int) any {
	rows, _ := frame["rows"].([]any)
	if i >= len(rows) {
		return nil
	}
	row, _ := rows[i].(map[string]any)
	// _seq arrives as a string; the server's `from` wants an integer.
	if seq, ok := row["_seq"].(string); ok {
		return json.Number(seq)
	}
	return row["_seq"]
}

package kalamsql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/kalamsql"
	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/kalamtest/emulator"
	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/transport/mock"
)

func dsn(srv *kalamtest.Server, query string) string {
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword(srv.RootUser, srv.RootPassword)
	u.Path = "/"
	u.RawQuery = query
	return u.String()
}

// open starts the KalamDB the environment names (kalamtest.Start: the
// emulator by default), opens a pool on it and creates namespace app.
func open(t *testing.T) (*sql.DB, *kalamtest.Server) {
	t.Helper()
	srv := freshServer(t)
	db, err := sql.Open("kalamdb", dsn(srv, "namespace=app"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec("CREATE NAMESPACE IF NOT EXISTS app")
	require.NoError(t, err)
	return db, srv
}

func TestParseDSN(t *testing.T) {
	cfg, err := kalamsql.ParseDSN("https://alice:s3cret@db.example.com:8443/kalam/?namespace=app&timeout=5s")
	require.NoError(t, err)
	assert.Equal(t, &kalamsql.Config{URL: "https://db.example.com:8443/kalam", User: "alice", Password: "s3cret",
		Namespace: "app", Timeout: 5 * time.Second}, cfg)

	cfg, err = kalamsql.ParseDSN("http://127.0.0.1:8080/?token=abc.def.ghi")
	require.NoError(t, err)
	assert.Equal(t, "abc.def.ghi", cfg.Token)
	assert.Equal(t, "http://127.0.0.1:8080", cfg.URL)

	cfg, err = kalamsql.ParseDSN("http://u:p@n1:8080/?endpoints=http://n2:8080,%20http://n3:8080")
	require.NoError(t, err)
	assert.Equal(t, []string{"http://n2:8080", "http://n3:8080"}, cfg.Endpoints)

	for dsn, want := range map[string]string{
		"":                             "empty DSN",
		"postgres://u:p@h/":            `scheme "postgres"`,
		"http://u:p@/":                 "no host",
		"http://h:1/":                  "no credentials",
		"http://u:p@h:1/?namespaces=x": "unknown DSN parameter(s) namespaces",
		"http://u:p@h:1/?timeout=soon": `timeout="soon"`,
		"http://u:p@h:1/?token=x":      "both user credentials and a token",
		"http://:p@h:1/":               "password but no user",
		"http://u:p@h:1/?namespace=":   "namespace is empty",
		"http://u:p@h:1/?namespace=a&namespace=b": `"namespace" given 2 times`,
		"http://u:p@h:1/#x":                       "#fragment",
		"http://u:p@h:1/?endpoints=http://a:1,,":  "endpoints: entry 2 is empty",
	} {
		_, err := kalamsql.ParseDSN(dsn)
		require.Error(t, err, dsn)
		assert.Contains(t, err.Error(), want, dsn)
		assert.NotContains(t, err.Error(), ":p@", "the password must not leak")
	}
}

func TestTypesRoundTrip(t *testing.T) {
	db, _ := open(t)
	_, err := db.Exec(`CREATE USER TABLE app.all_types (id BIGINT PRIMARY KEY, b BOOLEAN, si SMALLINT, i INT,
		f FLOAT, d DOUBLE, dec DECIMAL(20,4), txt TEXT NOT NULL, raw BYTES, doc JSON, ts TIMESTAMP, dt DATETIME,
		day DATE, tod TIME, u UUID, emb EMBEDDING(3), att FILE)`)
	require.NoError(t, err)

	const big = int64(9007199254740993) // 2^53+1: lost by float64
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	// The emulator keeps DECIMAL in SQLite REAL, so this value stays within
	// float64's 15-16 digits; the real server's Decimal128 is exact.
	dec, err := sdk.ParseDecimal("12345678901.7891")
	require.NoError(t, err)
	uuid, err := sdk.ParseUUID("0190f6a8-5c3e-7b4a-9f1e-2d3c4b5a6978")
	require.NoError(t, err)
	res, err := db.Exec(`INSERT INTO all_types (id, b, si, i, f, d, dec, txt, raw, doc, ts, dt, day, tod, u, emb)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		big, true, int16(-7), int32(42), float32(1.5), 2.25, dec, "héllo", []byte("bytes"),
		json.RawMessage(`{"k":[1,2]}`), ts, ts, "2024-05-06", 10*time.Hour+11*time.Minute+12*time.Second+500*time.Millisecond, uuid, "[0.5,1,2]")
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	_, err = db.Exec(`INSERT INTO all_types (id, txt) VALUES ($1, $2)`, 2, "nulls")
	require.NoError(t, err)

	var (
		id    int64
		b     bool
		si, i int64
		f, d  float64
		decS  string
		decD  sdk.Decimal
		txt   string
		raw   []byte
		doc   json.RawMessage
		gotTS time.Time
		dt    time.Time
		day   time.Time
		tod   string
		u     sdk.UUID
		emb   string
	)
	err = db.QueryRow(`SELECT id, b, si, i, f, d, dec, dec AS dec_again, txt, raw, doc, ts, dt, day, tod, u, emb FROM all_types WHERE id = $1`, big).
		Scan(&id, &b, &si, &i, &f, &d, &decS, &decD, &txt, &raw, &doc, &gotTS, &dt, &day, &tod, &u, &emb)
	require.NoError(t, err)
	assert.Equal(t, big, id)
	assert.True(t, b)
	assert.EqualValues(t, -7, si)
	assert.EqualValues(t, 42, i)
	assert.Equal(t, 1.5, f)
	assert.Equal(t, 2.25, d)
	assert.Equal(t, "12345678901.7891", decS)
	assert.Equal(t, "12345678901.7891", decD.String())
	assert.Equal(t, "héllo", txt)
	assert.Equal(t, []byte("bytes"), raw)
	assert.JSONEq(t, `{"k":[1,2]}`, string(doc))
	assert.True(t, ts.Equal(gotTS), "%v", gotTS)
	assert.True(t, ts.Equal(dt))
	assert.Equal(t, time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC), day)
	assert.Equal(t, "10:11:12.5", tod)
	assert.Equal(t, uuid, u)
	assert.JSONEq(t, "[0.5,1,2]", emb)

	// NULLs into sql.Null*, pointers and sql.Null[sdk.Decimal].
	var (
		nb   sql.NullBool
		ni   sql.NullInt64
		ns   sql.NullString
		nt   sql.NullTime
		nd   sql.Null[sdk.Decimal]
		nraw []byte
		np   *string
	)
	require.NoError(t, db.QueryRow(`SELECT b, i, txt, ts, dec, raw, u FROM all_types WHERE id = 2`).Scan(&nb, &ni, &ns, &nt, &nd, &nraw, &np))
	assert.False(t, nb.Valid)
	assert.False(t, ni.Valid)
	assert.Equal(t, sql.NullString{String: "nulls", Valid: true}, ns)
	assert.False(t, nt.Valid)
	assert.False(t, nd.Valid)
	assert.Nil(t, nraw)
	assert.Nil(t, np)

	// A DECIMAL never goes through float64 when scanned into sdk.Decimal, and
	// scanning one into float64 is an explicit, visible choice.
	rows, err := db.Query(`SELECT id, b, si, dec, txt, raw, doc, ts, u, emb, att FROM all_types ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	require.NoError(t, err)
	names := make([]string, len(cts))
	for i, ct := range cts {
		names[i] = ct.DatabaseTypeName()
	}
	assert.Equal(t, []string{"BIGINT", "BOOLEAN", "SMALLINT", "DECIMAL", "TEXT", "BYTES", "JSON", "TIMESTAMP", "UUID", "EMBEDDING", "FILE"}, names)
	p, s, ok := cts[3].DecimalSize()
	assert.True(t, ok)
	assert.Equal(t, [2]int64{20, 4}, [2]int64{p, s})
	nullable, ok := cts[0].Nullable()
	assert.True(t, ok)
	assert.False(t, nullable, "the primary key is NOT NULL")
	nullable, _ = cts[1].Nullable()
	assert.True(t, nullable)
	l, ok := cts[9].Length()
	assert.True(t, ok)
	assert.EqualValues(t, 3, l)
	assert.Equal(t, "int64", cts[0].ScanType().String())
	assert.Equal(t, "sql.Null[github.com/kalamstack/kalam-go/sdk.Decimal]", cts[3].ScanType().String())
}

// freshServer is kalamtest.Start's target; the tests use fixed names, so
// a shared external server is skipped.
func freshServer(t *testing.T) *kalamtest.Server {
	t.Helper()
	srv := kalamtest.Start(t)
	if srv.Target == kalamtest.TargetURL {
		t.Skip("these tests need a fresh server; an external KALAMDB_URL runs the conformance suite only")
	}
	return srv
}

func TestFileColumnScansIntoFileRef(t *testing.T) {
	srv := freshServer(t)
	client, err := sdk.New(srv.URL, sdk.WithBasicAuth(srv.RootUser, srv.RootPassword))
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	db := kalamsql.OpenDB(client, kalamsql.WithNamespace("docs"))
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	_, err = db.ExecContext(ctx, "CREATE NAMESPACE docs")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "CREATE SHARED TABLE docs.files (id BIGINT PRIMARY KEY, att FILE)")
	require.NoError(t, err)
	// Uploads are the SDK's job (multipart); database/sql reads them back.
	_, err = client.Query(ctx, `INSERT INTO docs.files (id, att) VALUES (1, FILE("a"))`,
		sdk.File("a", "notes.txt", "text/plain", strings.NewReader("hello file")))
	require.NoError(t, err)

	var ref sdk.FileRef
	require.NoError(t, db.QueryRowContext(ctx, "SELECT att FROM files WHERE id = 1").Scan(&ref))
	assert.Equal(t, "notes.txt", ref.Name)
	assert.EqualValues(t, 10, ref.Size)
	var text string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT att FROM files WHERE id = 1").Scan(&text))
	assert.Contains(t, text, `"sha256"`)

	require.NoError(t, db.Close())
	_, err = client.Query(ctx, "SELECT 1")
	assert.NoError(t, err, "closing a DB from OpenDB leaves the client open")
}

func TestPoolWithSeveralConnections(t *testing.T) {
	db, _ := open(t)
	_, err := db.Exec("CREATE SHARED TABLE app.counter (id BIGINT PRIMARY KEY, v TEXT)")
	require.NoError(t, err)
	db.SetMaxOpenConns(4)
	ctx := context.Background()
	conns := make([]*sql.Conn, 3)
	for i := range conns {
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		conns[i] = c
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(conns)*5)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				_, err := c.ExecContext(ctx, "INSERT INTO counter (id, v) VALUES ($1, $2)", i*10+j, fmt.Sprint("c", i))
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 3, db.Stats().OpenConnections)
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
	var count int64
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM counter").Scan(&count))
	assert.EqualValues(t, 15, count)
}

func TestRowsCloseMidIterationAndStmtReuse(t *testing.T) {
	db, _ := open(t)
	db.SetMaxOpenConns(1) // the closed Rows must hand the only connection back
	_, err := db.Exec("CREATE SHARED TABLE app.items (id BIGINT PRIMARY KEY, name TEXT)")
	require.NoError(t, err)

	ins, err := db.Prepare("INSERT INTO items (id, name) VALUES ($1, $2)")
	require.NoError(t, err)
	defer ins.Close()
	for i := range 10 {
		res, err := ins.Exec(i, fmt.Sprint("item-", i))
		require.NoError(t, err)
		n, err := res.RowsAffected()
		require.NoError(t, err)
		assert.EqualValues(t, 1, n)
	}
	_, err = ins.Exec(1)
	assert.ErrorContains(t, err, "expected 2 arguments, got 1")

	rows, err := db.Query("SELECT id, name FROM items ORDER BY id")
	require.NoError(t, err)
	var seen []int64
	for rows.Next() && len(seen) < 2 {
		var id int64
		var name string
		require.NoError(t, rows.Scan(&id, &name))
		seen = append(seen, id)
	}
	require.NoError(t, rows.Close())
	require.NoError(t, rows.Err())
	assert.Equal(t, []int64{0, 1}, seen)

	sel, err := db.Prepare("SELECT name FROM items WHERE id = $1")
	require.NoError(t, err)
	defer sel.Close()
	for _, id := range []int{3, 7} {
		var name string
		require.NoError(t, sel.QueryRow(id).Scan(&name))
		assert.Equal(t, fmt.Sprint("item-", id), name)
	}
	var name string
	assert.ErrorIs(t, sel.QueryRow(99).Scan(&name), sql.ErrNoRows)
}

func TestTransactions(t *testing.T) {
	db, _ := open(t)
	_, err := db.Exec("CREATE SHARED TABLE app.acct (id BIGINT PRIMARY KEY, owner TEXT, note TEXT)")
	require.NoError(t, err)
	ctx := context.Background()
	count := func() int64 {
		var n int64
		require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM acct").Scan(&n))
		return n
	}

	// Commit applies every queued statement, with arguments as literals.
	var info kalamsql.ResultInfo
	tx, err := db.BeginTx(kalamsql.WithResultInfo(ctx, &info), nil)
	require.NoError(t, err)
	res, err := tx.Exec("INSERT INTO acct (id, owner, note) VALUES ($1, $2, $3)", 1, "o'brien", "-- not a comment; $2")
	require.NoError(t, err)
	_, err = res.RowsAffected()
	assert.ErrorIs(t, err, kalamsql.ErrRowsAffectedInTx)
	_, err = tx.Exec("INSERT INTO acct (id, owner, note) VALUES ($1, $2, NULL)", 2, "bob")
	require.NoError(t, err)
	_, err = tx.Query("SELECT * FROM acct")
	assert.ErrorIs(t, err, kalamsql.ErrTxQuery)
	assert.EqualValues(t, 0, count(), "nothing is sent before Commit")
	require.NoError(t, tx.Commit())
	assert.EqualValues(t, 2, count())
	var owner, note string
	require.NoError(t, db.QueryRow("SELECT owner, note FROM acct WHERE id = 1").Scan(&owner, &note))
	assert.Equal(t, "o'brien", owner)
	assert.Equal(t, "-- not a comment; $2", note)
	require.NotNil(t, info.Result, "the commit's reply reaches ResultInfo")
	assert.Contains(t, info.Result.Results()[len(info.Result.Results())-1].Message, "Inserted 2 row(s)")

	// Rollback sends nothing.
	tx, err = db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec("INSERT INTO acct (id, owner) VALUES (3, 'x')")
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	assert.EqualValues(t, 2, count())

	// A failing statement undoes the whole transaction on the server.
	tx, err = db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec("INSERT INTO acct (id, owner) VALUES (4, 'new')")
	require.NoError(t, err)
	_, err = tx.Exec("INSERT INTO acct (id, owner) VALUES (1, 'duplicate')")
	require.NoError(t, err)
	err = tx.Commit()
	var se *sdk.ServerError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "SQL_EXECUTION_ERROR", se.Code)
	assert.EqualValues(t, 2, count(), "row 4 was rolled back with the duplicate")

	// What KalamDB cannot honour is refused.
	_, err = db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	assert.ErrorIs(t, err, kalamsql.ErrTxOptions)
	_, err = db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	assert.ErrorIs(t, err, kalamsql.ErrTxOptions)
	tx, err = db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec("COMMIT")
	assert.ErrorContains(t, err, "use Tx.Commit")
	require.NoError(t, tx.Rollback())
}

func TestMultiStatementAndRowCap(t *testing.T) {
	db, _ := open(t)
	_, err := db.Exec("CREATE SHARED TABLE app.m (id BIGINT PRIMARY KEY, v INT)")
	require.NoError(t, err)
	res, err := db.Exec("INSERT INTO m (id, v) VALUES (1, 1); INSERT INTO m (id, v) VALUES (2, 2), (3, 3); UPDATE m SET v = 9 WHERE id = 1")
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	assert.EqualValues(t, 4, n, "3 inserted + 1 updated")

	rows, err := db.Query("SELECT id FROM m ORDER BY id; SELECT v FROM m WHERE id = 1")
	require.NoError(t, err)
	var ids []int64
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	assert.Equal(t, []int64{1, 2, 3}, ids)
	require.True(t, rows.NextResultSet())
	require.True(t, rows.Next())
	var v int64
	require.NoError(t, rows.Scan(&v))
	assert.EqualValues(t, 9, v)
	assert.False(t, rows.Next())
	require.NoError(t, rows.Close())

	var values []string
	for i := 10; i < 70; i++ {
		values = append(values, fmt.Sprintf("(%d, %d)", i, i))
	}
	_, err = db.Exec("INSERT INTO m (id, v) VALUES " + strings.Join(values, ", "))
	require.NoError(t, err)
	var info kalamsql.ResultInfo
	rows, err = db.QueryContext(kalamsql.WithResultInfo(context.Background(), &info), "SELECT id FROM m")
	require.NoError(t, err)
	got := 0
	for rows.Next() {
		got++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, 50, got, "a SELECT without LIMIT is capped at 50 rows")
	assert.True(t, info.MayBeCapped())
	rows, err = db.QueryContext(kalamsql.WithResultInfo(context.Background(), &info), "SELECT id FROM m LIMIT 10")
	require.NoError(t, err)
	require.NoError(t, rows.Close())
	assert.False(t, info.MayBeCapped())
}

func TestErrorsArgumentsAndCancellation(t *testing.T) {
	db, srv := open(t)
	ctx := context.Background()

	_, err := db.Exec("SELECT * FROM app.missing")
	var se *sdk.ServerError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 400, se.HTTPStatus)

	_, err = db.Exec("CREATE USER 'viewer' WITH PASSWORD 'ViewerPw1!' ROLE user")
	require.NoError(t, err)
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("viewer", "ViewerPw1!")
	viewer, err := sql.Open("kalamdb", u.String())
	require.NoError(t, err)
	defer viewer.Close()
	_, err = viewer.Exec("CREATE NAMESPACE nope")
	assert.ErrorIs(t, err, sdk.ErrPermissionDenied)
	assert.NotErrorIs(t, err, driver.ErrBadConn)

	_, err = db.Exec("SELECT $1", sql.Named("x", 1))
	assert.ErrorContains(t, err, `named argument "x"`)
	_, err = db.Exec("SELECT $1", map[string]int{})
	assert.ErrorContains(t, err, "unsupported type map[string]int")
	_, err = db.Exec("SELECT $1", 25*time.Hour)
	assert.ErrorContains(t, err, "not a time of day")

	// A request stuck in the network ends with its context.
	proxy := kalamtest.NewProxy(t, srv.URL)
	pu, _ := url.Parse(proxy.URL)
	pu.User = url.UserPassword(srv.RootUser, srv.RootPassword)
	slow, err := sql.Open("kalamdb", pu.String())
	require.NoError(t, err)
	defer slow.Close()
	require.NoError(t, slow.PingContext(ctx)) // logged in; now stall the link
	proxy.Blackhole(true)
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = slow.QueryContext(cctx, "SELECT 1")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, driver.ErrBadConn)
	proxy.Blackhole(false)

	require.NoError(t, db.PingContext(ctx))
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Raw(func(dc any) error {
		assert.True(t, dc.(driver.Validator).IsValid())
		return dc.(driver.SessionResetter).ResetSession(ctx)
	}))
	require.NoError(t, c.Close())
}

func TestRefusedConnectionIsBadConn(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	db, err := sql.Open("kalamdb", "http://root:pw@"+addr+"/")
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("INSERT INTO app.t (id) VALUES (1)")
	require.Error(t, err)
	assert.ErrorIs(t, err, driver.ErrBadConn, "a refused connection ran nothing, so a retry is safe")
	var te *sdk.TransportError
	assert.ErrorAs(t, err, &te)
	assert.False(t, errors.Is(err, sdk.ErrPermissionDenied))
}

type person struct {
	ID    int64          `db:"id"`
	Name  string         `db:"name"`
	Email sql.NullString `db:"email"`
	Score sdk.Decimal    `db:"score"`
}

func TestSQLX(t *testing.T) {
	db, _ := open(t)
	sqlx.BindDriver("kalamdb", sqlx.DOLLAR)
	x := sqlx.NewDb(db, "kalamdb")
	x.MustExec("CREATE SHARED TABLE app.people (id BIGINT PRIMARY KEY, name TEXT NOT NULL, email TEXT, score DECIMAL(10,2))")

	res, err := x.NamedExec("INSERT INTO people (id, name, email, score) VALUES (:id, :name, :email, :score)",
		[]map[string]any{
			{"id": 1, "name": "Ada", "email": "ada@example.com", "score": "99.50"},
			{"id": 2, "name": "Linus", "email": nil, "score": "12.25"},
		})
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)
	_, err = x.NamedExec("INSERT INTO people (id, name, score) VALUES (:id, :name, :score)",
		person{ID: 9007199254740993, Name: "Grace", Score: mustDec(t, "0.01")})
	require.NoError(t, err)

	var p person
	require.NoError(t, x.Get(&p, "SELECT id, name, email, score FROM people WHERE id = $1", 1))
	assert.Equal(t, person{ID: 1, Name: "Ada", Email: sql.NullString{String: "ada@example.com", Valid: true}, Score: mustDec(t, "99.50")}, p)

	var all []person
	require.NoError(t, x.Select(&all, "SELECT id, name, email, score FROM people ORDER BY id"))
	require.Len(t, all, 3)
	assert.False(t, all[1].Email.Valid)
	assert.Equal(t, int64(9007199254740993), all[2].ID)
	assert.Equal(t, "0.01", all[2].Score.String())
}

func mustDec(t *testing.T, s string) sdk.Decimal {
	d, err := sdk.ParseDecimal(s)
	require.NoError(t, err)
	return d
}

// NewConnector takes SDK options: here the in-memory transport to an
// emulator with no socket. Closing the DB closes the client it made.
func TestNewConnectorOverInMemoryTransport(t *testing.T) {
	emu, err := emulator.New(emulator.Options{RootPassword: "MemPw1!"})
	require.NoError(t, err)
	defer emu.Close()
	conn, err := kalamsql.NewConnector("http://root:MemPw1!@kalamdb.invalid/?namespace=mem&timeout=5s", sdk.WithTransport(mock.New(emu)))
	require.NoError(t, err)
	db := sql.OpenDB(conn)
	_, err = db.Exec("CREATE NAMESPACE mem; CREATE SHARED TABLE mem.kv (k TEXT PRIMARY KEY, v BIGINT)")
	require.NoError(t, err)
	_, err = db.Exec("INSERT INTO kv (k, v) VALUES ($1, $2)", "answer", uint64(42))
	require.NoError(t, err)
	var v int64
	require.NoError(t, db.QueryRow("SELECT v FROM kv WHERE k = $1", "answer").Scan(&v))
	assert.EqualValues(t, 42, v)
	require.NoError(t, db.Close())
	_, err = conn.Client().Query(context.Background(), "SELECT 1")
	assert.ErrorIs(t, err, sdk.ErrClosed)
}

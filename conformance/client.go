package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Target is a KalamDB server the client suite runs against: the embedded
// emulator over any transport, a container, or an external server.
type Target struct {
	// URL is the server's base URL.
	URL string
	// User and Password name an admin account (role dba or system).
	User, Password string
	// Options are added to every client the suite makes, e.g.
	// sdk.WithTransport for an in-memory transport.
	Options []sdk.Option
}

// Client runs the client suite: every SDK feature end to end against the
// target newTarget returns (called once per subtest, so a target may be
// fresh each time or shared). The suite starts no server itself. Each
// subtest works in a namespace of its own, so a shared real server is fine.
func Client(t *testing.T, newTarget func(t *testing.T) Target) {
	s := clientSuite{newTarget: newTarget}
	for _, c := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"SQL/ExactValues", s.exactValues},
		{"SQL/NamespaceAndBatch", s.namespaceAndBatch},
		{"SQL/RowCap", s.rowCap},
		{"SQL/PermissionDenied", s.permissionDenied},
		{"SQL/AsUser", s.asUser},
		{"Files/UploadDownload", s.files},
		{"Realtime/SnapshotThenChanges", s.subscription},
		{"Realtime/LiveRows", s.liveRows},
		{"Realtime/Introspection", s.introspection},
		{"Topics/Consumer", s.consumer},
	} {
		t.Run(c.name, c.run)
	}
}

type clientSuite struct {
	newTarget func(t *testing.T) Target
}

// env is one subtest's client and namespace.
type env struct {
	t      *testing.T
	target Target
	client *sdk.Client
	ns     string
	ctx    context.Context
}

// clientSubtestTimeout bounds each subtest, so a hang fails instead of stalling CI.
const clientSubtestTimeout = 30 * time.Second

func (s clientSuite) env(t *testing.T) *env {
	t.Helper()
	target := s.newTarget(t)
	ctx, cancel := context.WithTimeout(context.Background(), clientSubtestTimeout)
	t.Cleanup(cancel)
	e := &env{t: t, target: target, ctx: ctx, ns: "conf_" + randomSuffix(t)}
	e.client = e.newClient(target.User, target.Password)
	e.exec("CREATE NAMESPACE " + e.ns)
	return e
}

func randomSuffix(t *testing.T) string {
	var b [4]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return hex.EncodeToString(b[:])
}

func (e *env) newClient(user, password string) *sdk.Client {
	e.t.Helper()
	opts := append([]sdk.Option{sdk.WithBasicAuth(user, password)}, e.target.Options...)
	c, err := sdk.New(e.target.URL, opts...)
	require.NoError(e.t, err, "sdk.New(%q)", e.target.URL)
	e.t.Cleanup(func() { c.Close() })
	return c
}

func (e *env) exec(sql string, opts ...sdk.QueryOption) *sdk.Result {
	e.t.Helper()
	res, err := e.client.Query(e.ctx, sql, opts...)
	require.NoError(e.t, err, "%s", sql)
	return res
}

func (e *env) table(name string) string { return e.ns + "." + name }

// must(f())(t) fails t when f returned an error, else yields f's value.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		require.NoError(t, err)
		return v
	}
}

// 64-bit integers above 2^53, decimals, µs timestamps and JSON come back
// exactly as bound.
func (s clientSuite) exactValues(t *testing.T) {
	e := s.env(t)
	tbl := e.table("vals")
	e.exec("CREATE TABLE " + tbl + " (id BIGINT PRIMARY KEY, price DECIMAL(10,2), at TIMESTAMP, doc JSON, ok BOOLEAN) WITH (TYPE='SHARED')")
	const big = int64(1)<<53 + 1
	at := time.Date(2026, 11, 27, 1, 2, 3, 456789000, time.UTC)
	e.exec("INSERT INTO "+tbl+" (id, price, at, doc, ok) VALUES ($1, $2, $3, $4, $5)",
		sdk.Args(big, "200.75", at, `{"k":[1,2]}`, true))
	row := e.exec("SELECT id, price, at, doc, ok FROM "+tbl+" WHERE id = $1", sdk.Args(big)).Rows()
	require.Len(t, row, 1, "%d rows, want 1", len(row))
	r := row[0]
	got := must(r.Int64("id"))(t)
	assert.Equal(t, big, got, "id %d, want %d", got, big)
	if got := must(r.Decimal("price"))(t).String(); got != "200.75" {
		assert.Fail(t, fmt.Sprintf("price %s, want 200.75", got))
	}
	if got := must(r.Time("at"))(t); !got.Equal(at) {
		assert.Fail(t, fmt.Sprintf("at %s, want %s", got, at))
	}
	if got := string(must(r.JSON("doc"))(t)); got != `{"k":[1,2]}` {
		assert.Fail(t, fmt.Sprintf("doc %s", got))
	}
	assert.True(t, must(r.Bool("ok"))(t), "ok false, want true")
}

// Unqualified names resolve in the namespace option; a batch reports its
// row-returning results first and DML summaries last.
func (s clientSuite) namespaceAndBatch(t *testing.T) {
	e := s.env(t)
	e.exec("CREATE TABLE " + e.table("notes") + " (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE='SHARED')")
	e.exec("INSERT INTO notes (id, body) VALUES ($1, $2)", sdk.Args(1, "one"), sdk.Namespace(e.ns))
	res := e.exec("INSERT INTO notes (id, body) VALUES (2, 'two'); SELECT body FROM notes ORDER BY id; INSERT INTO notes (id, body) VALUES (3, 'three')",
		sdk.Namespace(e.ns))
	all := res.Results()
	require.Len(t, all, 2, "%d results, want the SELECT then one Inserted summary", len(all))
	var bodies []string
	for _, r := range all[0].Rows() {
		bodies = append(bodies, must(r.String("body"))(t))
	}
	assert.True(t, slices.Equal(bodies, []string{"one", "two"}), "select in batch saw %q", bodies)
	assert.Equal(t, 2, all[1].RowCount, "summary row_count %d, want 2", all[1].RowCount)
}

// A SELECT without LIMIT stops at the server's default cap, and the client
// says the result may be capped.
func (s clientSuite) rowCap(t *testing.T) {
	e := s.env(t)
	tbl := e.table("many")
	e.exec("CREATE TABLE " + tbl + " (id BIGINT PRIMARY KEY) WITH (TYPE='SHARED')")
	var values bytes.Buffer
	for i := range 60 {
		if i > 0 {
			values.WriteString(", ")
		}
		fmt.Fprintf(&values, "(%d)", i)
	}
	e.exec("INSERT INTO " + tbl + " (id) VALUES " + values.String())
	res := e.exec("SELECT id FROM " + tbl)
	assert.False(t, len(res.Rows()) != sdk.DefaultRowCap || !res.MayBeCapped(), "%d rows (capped %v), want %d and capped", len(res.Rows()), res.MayBeCapped(), sdk.DefaultRowCap)
	n := len(e.exec("SELECT id FROM " + tbl + " LIMIT 60").Rows())
	assert.Equal(t, 60, n, "LIMIT 60 gave %d rows", n)
}

// A plain user may not drop tables: ErrPermissionDenied, with the server's
// code on the typed error.
func (s clientSuite) permissionDenied(t *testing.T) {
	e := s.env(t)
	tbl := e.table("guarded")
	e.exec("CREATE TABLE " + tbl + " (id BIGINT PRIMARY KEY) WITH (TYPE='SHARED')")
	user := "conf_user_" + randomSuffix(t)
	e.exec("CREATE USER '" + user + "' WITH PASSWORD 'ConfUser123!' ROLE user")
	_, err := e.newClient(user, "ConfUser123!").Query(e.ctx, "DROP TABLE "+tbl)
	var se *sdk.ServerError
	require.ErrorIs(t, err, sdk.ErrPermissionDenied)
	require.ErrorAs(t, err, &se)
	require.Equal(t, 403, se.HTTPStatus, "DROP TABLE as user: %v, want ErrPermissionDenied with HTTP 403", err)
}

// A FILE column is uploaded from a reader and downloaded byte for byte.
func (s clientSuite) files(t *testing.T) {
	e := s.env(t)
	tbl := e.table("docs")
	e.exec("CREATE TABLE " + tbl + " (id BIGINT PRIMARY KEY, doc FILE) WITH (TYPE='USER')")
	content := bytes.Repeat([]byte("kalam-go conformance\n"), 5000)
	e.exec("INSERT INTO "+tbl+` (id, doc) VALUES ($1, FILE("doc"))`, sdk.Args(1),
		sdk.File("doc", "notes.txt", "text/plain", bytes.NewReader(content)))
	ref := must(e.exec("SELECT doc FROM " + tbl + " WHERE id = 1").Rows()[0].File("doc"))(t)
	require.Equal(t, "notes.txt", ref.Name)
	require.Equal(t, int64(len(content)), ref.Size, "file ref %+v", ref)
	dl := must(e.client.Download(e.ctx, e.ns, "docs", ref))(t)
	defer dl.Close()
	got, err := io.ReadAll(dl)
	require.NoError(t, err)
	require.True(t, bytes.Equal(got, content), "download: %d bytes, err %v; want %d bytes back", len(got), err, len(content))
}

// A subscription delivers the whole snapshot over several batches, once
// each, then live inserts, updates and deletes in order.
func (s clientSuite) subscription(t *testing.T) {
	e := s.env(t)
	tbl := e.table("feed")
	e.exec("CREATE TABLE " + tbl + " (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE='SHARED')")
	for i := 1; i <= 7; i++ {
		e.exec("INSERT INTO "+tbl+" (id, body) VALUES ($1, $2)", sdk.Args(i, fmt.Sprint("seed-", i)))
	}
	sub := must(e.client.Subscribe(e.ctx, "SELECT * FROM "+tbl, sdk.BatchSize(3)))(t)
	defer sub.Close()
	var snapshot []int64
	var live []string
	for ev, err := range sub.Events(e.ctx) {
		require.NoError(t, err, "after snapshot %v and live %q", snapshot, live)
		switch ev := ev.(type) {
		case *sdk.InitialRows:
			for _, r := range ev.Rows {
				snapshot = append(snapshot, must(r.Int64("id"))(t))
			}
			if ev.Ready {
				e.exec("INSERT INTO " + tbl + " (id, body) VALUES (100, 'new')")
				e.exec("UPDATE " + tbl + " SET body = 'newer' WHERE id = 100")
				e.exec("DELETE FROM " + tbl + " WHERE id = 1")
			}
		case *sdk.Insert:
			live = append(live, "insert:"+must(ev.Rows[0].String("body"))(t))
		case *sdk.Update:
			live = append(live, "update:"+must(ev.Rows[0].String("body"))(t))
		case *sdk.Delete:
			live = append(live, fmt.Sprint("delete:", must(ev.Rows[0].Int64("id"))(t)))
		}
		if len(live) == 3 {
			break
		}
	}
	slices.Sort(snapshot)
	assert.True(t, slices.Equal(snapshot, []int64{1, 2, 3, 4, 5, 6, 7}), "snapshot ids %v, want 1..7 once each", snapshot)
	assert.True(t, slices.Equal(live, []string{"insert:new", "update:newer", "delete:1"}), "live events %q", live)
}

// LiveRows emits the complete row set first, then the set after each change.
func (s clientSuite) liveRows(t *testing.T) {
	e := s.env(t)
	tbl := e.table("board")
	e.exec("CREATE TABLE " + tbl + " (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE='SHARED')")
	e.exec("INSERT INTO " + tbl + " (id, body) VALUES (1, 'a'), (2, 'b')")
	lr := must(e.client.LiveRows(e.ctx, "SELECT * FROM "+tbl))(t)
	defer lr.Close()
	bodies := func() []string {
		rows := must(lr.Next(e.ctx))(t)
		out := make([]string, 0, len(rows))
		for _, r := range rows {
			out = append(out, must(r.String("body"))(t))
		}
		slices.Sort(out)
		return out
	}
	got := bodies()
	require.True(t, slices.Equal(got, []string{"a", "b"}), "first set %q", got)
	e.exec("UPDATE " + tbl + " SET body = 'c' WHERE id = 2")
	got = bodies()
	require.True(t, slices.Equal(got, []string{"a", "c"}), "after update %q", got)
}

// A topic fed by a table's inserts delivers them to a consumer in order,
// and a commit covers exactly what was processed.
func (s clientSuite) consumer(t *testing.T) {
	e := s.env(t)
	tbl := e.table("orders")
	topic := e.ns + ".order_events"
	e.exec("CREATE TABLE " + tbl + " (id BIGINT PRIMARY KEY, item TEXT) WITH (TYPE='SHARED')")
	e.exec("CREATE TOPIC " + topic)
	e.exec("ALTER TOPIC " + topic + " ADD SOURCE " + tbl + " ON INSERT")
	for i := 1; i <= 3; i++ {
		e.exec("INSERT INTO "+tbl+" (id, item) VALUES ($1, $2)", sdk.Args(i, fmt.Sprint("item-", i)))
	}
	c := must(e.client.Consumer(sdk.ConsumerConfig{Group: "conf-" + e.ns, Topic: topic,
		AutoOffsetReset: sdk.Earliest, ManualCommit: true, PollTimeout: 10 * time.Second}))(t)
	var items []string
	for len(items) < 3 {
		recs := must(c.Poll(e.ctx))(t)
		require.NotEmpty(t, recs, "poll timed out after %q", items)
		for _, rec := range recs {
			assert.Equal(t, sdk.OpInsert, rec.Op, "offset %d op %s, want insert", rec.Offset, rec.Op)
			row := must(rec.Row())(t)
			items = append(items, must(row.String("item"))(t))
			require.NoError(t, c.MarkProcessed(rec))
		}
	}
	assert.True(t, slices.Equal(items, []string{"item-1", "item-2", "item-3"}), "items %q", items)
	res := must(c.Commit(e.ctx))(t)
	assert.False(t, !res.HasOffset || res.Offset != 2, "commit %+v, want offset 2", res)
	require.NoError(t, c.Close(e.ctx))
}

package kalamsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
)

// Errors of the driver's own making.
var (
	// ErrTxQuery: a query inside a transaction. KalamDB runs an explicit
	// transaction only within one HTTP request, so the driver queues a
	// transaction's statements and sends them at Commit; there is no
	// round trip in which a read could see the queued writes.
	ErrTxQuery = errors.New("kalamsql: queries inside a transaction are not supported (KalamDB runs a transaction as one BEGIN; ...; COMMIT request, sent at Commit)")
	// ErrRowsAffectedInTx: RowsAffected of a statement queued in a
	// transaction; the counts exist only after Commit (see ResultInfo).
	ErrRowsAffectedInTx = errors.New("kalamsql: rows affected are unknown until the transaction commits (use WithResultInfo on BeginTx's context)")
	// ErrTxOptions: an isolation level or read-only transaction, which
	// KalamDB cannot honour.
	ErrTxOptions = errors.New("kalamsql: KalamDB transactions support only the default isolation level and read-write mode")
	// ErrNoLastInsertID: KalamDB returns no generated keys (no RETURNING).
	ErrNoLastInsertID = errors.New("kalamsql: LastInsertId is not supported (KalamDB returns no generated keys; generate ids client-side or SELECT them)")
)

type conn struct {
	c      *Connector
	tx     *tx
	closed bool
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext sends nothing: KalamDB has no server-side prepared
// statements, so a Stmt is the SQL text run again with new arguments.
func (c *conn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	if c.closed {
		return nil, driver.ErrBadConn
	}
	return &stmt{c: c, query: query, n: numInput(query)}, nil
}

func (c *conn) Close() error {
	c.closed = true
	c.tx = nil
	return nil
}

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx starts queueing. Only the default isolation level and read-write
// mode exist in KalamDB; anything else is refused rather than pretended.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.closed {
		return nil, driver.ErrBadConn
	}
	if opts.ReadOnly {
		return nil, fmt.Errorf("%w: read-only was requested", ErrTxOptions)
	}
	if sql.IsolationLevel(opts.Isolation) != sql.LevelDefault {
		return nil, fmt.Errorf("%w: isolation level %s was requested", ErrTxOptions, sql.IsolationLevel(opts.Isolation))
	}
	if c.tx != nil {
		return nil, errors.New("kalamsql: a transaction is already open on this connection")
	}
	c.tx = &tx{c: c, ctx: ctx}
	return c.tx, nil
}

func (c *conn) Ping(ctx context.Context) error {
	if c.closed {
		return driver.ErrBadConn
	}
	_, err := c.query(ctx, "SELECT 1", nil)
	return err
}

// ResetSession has nothing to reset: the connection holds no server state.
func (c *conn) ResetSession(context.Context) error {
	if c.closed {
		return driver.ErrBadConn
	}
	return nil
}

func (c *conn) IsValid() bool { return !c.closed }

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.closed {
		return nil, driver.ErrBadConn
	}
	if c.tx != nil {
		return c.tx.queue(query, args)
	}
	res, err := c.query(ctx, query, args)
	if err != nil {
		return nil, err
	}
	return result{n: rowsAffected(res)}, nil
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.closed {
		return nil, driver.ErrBadConn
	}
	if c.tx != nil {
		return nil, ErrTxQuery
	}
	res, err := c.query(ctx, query, args)
	if err != nil {
		return nil, err
	}
	return newRows(res), nil
}

// query runs one request through the SDK.
func (c *conn) query(ctx context.Context, query string, args []driver.NamedValue) (*sdk.Result, error) {
	opts := make([]sdk.QueryOption, 0, 2)
	if c.c.namespace != "" {
		opts = append(opts, sdk.Namespace(c.c.namespace))
	}
	if len(args) > 0 {
		vals := make([]any, len(args))
		for i, a := range args {
			if a.Ordinal != i+1 {
				return nil, fmt.Errorf("kalamsql: argument %d arrived out of order", i+1)
			}
			vals[i] = a.Value
		}
		opts = append(opts, sdk.Args(vals...))
	}
	res, err := c.c.client.Query(ctx, query, opts...)
	if err != nil {
		return nil, wrapErr(err)
	}
	recordInfo(ctx, res)
	return res, nil
}

// wrapErr marks as driver.ErrBadConn only a request that provably never
// reached the server (the connection was refused), because only then is
// database/sql's automatic retry on another connection safe for a write.
// The SDK's error stays reachable with errors.Is/As either way.
func wrapErr(err error) error {
	var te *sdk.TransportError
	if errors.As(err, &te) && errors.Is(err, syscall.ECONNREFUSED) {
		return badConn{err}
	}
	return err
}

type badConn struct{ err error }

func (b badConn) Error() string        { return b.err.Error() }
func (b badConn) Unwrap() error        { return b.err }
func (b badConn) Is(target error) bool { return target == driver.ErrBadConn }

// rowsAffected is the statement's count, or for a batch the sum of the
// server's "Inserted/Updated/Deleted N row(s)" summaries.
func rowsAffected(res *sdk.Result) int64 {
	all := res.Results()
	if len(all) == 1 {
		return int64(all[0].RowCount)
	}
	var n int64
	for _, r := range all {
		if len(r.Columns) == 0 && isDMLSummary(r.Message) {
			n += int64(r.RowCount)
		}
	}
	return n
}

func isDMLSummary(msg string) bool {
	return strings.HasPrefix(msg, "Inserted ") || strings.HasPrefix(msg, "Updated ") || strings.HasPrefix(msg, "Deleted ")
}

type result struct {
	n   int64
	err error
}

func (r result) LastInsertId() (int64, error) { return 0, ErrNoLastInsertID }
func (r result) RowsAffected() (int64, error) { return r.n, r.err }

// CheckNamedValue accepts the Go types the SDK binds and normalises them to
// ones the driver can both bind and, inside a transaction, write as SQL
// literals. Named arguments are refused: KalamDB has only $1..$n.
func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if nv.Name != "" {
		return fmt.Errorf("kalamsql: named argument %q: KalamDB supports only positional $1..$n placeholders", nv.Name)
	}
	v, err := normalize(nv.Value, 0)
	if err != nil {
		return fmt.Errorf("kalamsql: argument $%d: %w", nv.Ordinal, err)
	}
	nv.Value = v
	return nil
}

func normalize(v any, depth int) (any, error) {
	if depth > 8 {
		return nil, errors.New("too many levels of pointers or Valuers")
	}
	switch x := v.(type) {
	case nil, bool, int64, float64, string, time.Time, json.Number:
		if f, ok := x.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return nil, fmt.Errorf("%v cannot be sent (KalamDB parameters are JSON, which has no NaN or Infinity)", f)
		}
		return v, nil
	case []byte:
		if x == nil {
			return nil, nil
		}
		return x, nil
	case time.Duration:
		// The TIME form the driver returns; an integer would be ambiguous.
		if x < 0 || x >= 24*time.Hour {
			return nil, fmt.Errorf("time.Duration %v is not a time of day (0 to 24h); pass an integer for other uses", x)
		}
		return formatTimeOfDay(x), nil
	case json.RawMessage:
		// A JSON document for a Json column travels as its text.
		if x == nil {
			return nil, nil
		}
		if !json.Valid(x) {
			return nil, errors.New("json.RawMessage is not valid JSON")
		}
		return string(x), nil
	case driver.Valuer:
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return nil, nil
		}
		dv, err := x.Value()
		if err != nil {
			return nil, err
		}
		return normalize(dv, depth+1)
	case encoding.TextMarshaler: // sdk.Decimal, sdk.UUID, net.IP, ...
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return nil, nil
		}
		t, err := x.MarshalText()
		if err != nil {
			return nil, fmt.Errorf("MarshalText: %w", err)
		}
		return string(t), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return nil, nil
		}
		return normalize(rv.Elem().Interface(), depth+1)
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return strconv.FormatUint(u, 10), nil // exact; KalamDB coerces numeric strings
		}
		return int64(u), nil
	case reflect.Float32, reflect.Float64:
		return normalize(rv.Float(), depth+1)
	case reflect.String:
		return rv.String(), nil
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return normalize(rv.Bytes(), depth+1)
		}
	case reflect.Array:
		if rv.Len() == 16 && rv.Type().Elem().Kind() == reflect.Uint8 {
			var u sdk.UUID
			reflect.Copy(reflect.ValueOf(&u).Elem(), rv)
			return u.String(), nil
		}
	}
	if s, ok := v.(fmt.Stringer); ok {
		return s.String(), nil
	}
	return nil, fmt.Errorf("unsupported type %T (KalamDB binds null, bool, numbers and strings)", v)
}

type stmt struct {
	c     *conn
	query string
	n     int
}

var (
	_ driver.StmtExecContext  = (*stmt)(nil)
	_ driver.StmtQueryContext = (*stmt)(nil)
)

func (s *stmt) Close() error  { return nil }
func (s *stmt) NumInput() int { return s.n }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, a := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return out
}

// tx queues statements and sends them as one BEGIN; ...; COMMIT request:
// KalamDB honours an explicit transaction only within a single request
// (sql-model §5.6), with all-or-nothing effect.
type tx struct {
	c     *conn
	ctx   context.Context
	stmts []string
}

func (t *tx) queue(query string, args []driver.NamedValue) (driver.Result, error) {
	switch firstKeyword(query) {
	case "BEGIN", "START", "COMMIT", "ROLLBACK", "END":
		return nil, errors.New("kalamsql: use Tx.Commit and Tx.Rollback, not transaction statements, inside a database/sql transaction")
	case "":
		return nil, errors.New("kalamsql: empty statement")
	}
	sqlText, err := inlineArgs(query, args)
	if err != nil {
		return nil, err
	}
	sqlText = strings.TrimRight(strings.TrimSpace(sqlText), "; \t\r\n")
	t.stmts = append(t.stmts, sqlText)
	return result{err: ErrRowsAffectedInTx}, nil
}

func (t *tx) Commit() error {
	if t.c.tx != t {
		return sql.ErrTxDone
	}
	t.c.tx = nil
	if len(t.stmts) == 0 {
		return nil
	}
	batch := "BEGIN;\n" + strings.Join(t.stmts, ";\n") + ";\nCOMMIT;"
	_, err := t.c.query(t.ctx, batch, nil)
	return err
}

// Rollback drops the queue; nothing reached the server.
func (t *tx) Rollback() error {
	if t.c.tx != t {
		return sql.ErrTxDone
	}
	t.c.tx = nil
	return nil
}

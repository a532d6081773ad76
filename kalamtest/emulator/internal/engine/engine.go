package engine

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
)

const (
	maxSQLBytes   = 1 << 20
	maxParams     = 50
	maxParamBytes = 512 << 10
	// snowflakeEpochMS is 2024-01-01T00:00:00Z, the _seq epoch.
	snowflakeEpochMS = 1704067200000
	snowflakeWorker  = 1
)

// Engine is the emulator's database. It is safe for concurrent use: one
// mutex serialises every statement on the single SQLite connection.
type Engine struct {
	opts Options

	mu   sync.Mutex
	conn *sqlite3.Conn
	cat  *catalog
	// seq state for Snowflake ids.
	lastMS, lastN int64
	// captured holds row changes recorded by the triggers of the open
	// SQLite transaction; they are published only when it commits.
	captured []rawChange
	claims   map[claimKey]*claimState
	txID     string // explicit transaction id, "" when none
	txCount  int
	// catDirty is set when the open transaction changed the catalog;
	// catErr keeps a failure to restore it after a rollback.
	catDirty bool
	catErr   error
	// cur is who runs the current statement (for CURRENT_USER() and capture).
	cur struct {
		user string
		role Role
	}
	closed bool
	guard  guard

	feed *feed
	live atomic.Pointer[liveSource] // system.live rows (livetable.go)
}

// New opens the database and creates root (and the default namespace).
func New(opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DefaultQueryLimit <= 0 {
		opts.DefaultQueryLimit = 50
	}
	if opts.MaxQueryLimit <= 0 {
		opts.MaxQueryLimit = 1000
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = 25 << 20
	}
	if opts.MaxFilesPerRequest <= 0 {
		opts.MaxFilesPerRequest = 20
	}
	if opts.VisibilityTimeout <= 0 {
		opts.VisibilityTimeout = 60 * time.Second
	}
	path := opts.DataPath
	if path == "" {
		path = ":memory:"
	}
	conn, err := sqlite3.Open(databaseURI(path))
	if err != nil {
		return nil, fmt.Errorf("open database %q: %w", path, err)
	}
	e := &Engine{opts: opts, conn: conn, claims: map[claimKey]*claimState{}, feed: newFeed()}
	if err := e.init(); err != nil {
		e.feed.close()
		conn.Close()
		return nil, fmt.Errorf("database %q: %w", path, err)
	}
	return e, nil
}

// databaseURI names the database for SQLite. Where the VFS cannot lock
// files (wasip1, js) a file database is opened with nolock=1: the engine
// holds its only connection, so no other connection of ours can race it.
func databaseURI(path string) string {
	if path == ":memory:" || vfs.SupportsFileLocking {
		return path
	}
	return (&url.URL{Scheme: "file", Path: path, RawQuery: "nolock=1"}).String()
}

func (e *Engine) init() error {
	// WAL only speeds up file databases; where the VFS lacks it (memory,
	// js) the default journal is right, so its failure is not an error.
	_ = e.conn.Exec(`PRAGMA journal_mode = WAL`)
	for _, q := range []string{
		// DataFusion's LIKE is case-sensitive; SQLite's is not by default.
		`PRAGMA case_sensitive_like = ON`,
		`CREATE TABLE IF NOT EXISTS _kv_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS _kv_msgs (topic TEXT NOT NULL, part INTEGER NOT NULL, off INTEGER NOT NULL,
			msg_key TEXT, payload BLOB NOT NULL, ts_ms INTEGER NOT NULL, user_id TEXT, op TEXT NOT NULL,
			PRIMARY KEY (topic, part, off))`,
		`CREATE TABLE IF NOT EXISTS _kv_offsets (topic TEXT NOT NULL, grp TEXT NOT NULL, part INTEGER NOT NULL,
			off INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (topic, grp, part))`,
		`CREATE TABLE IF NOT EXISTS _kv_files (path TEXT PRIMARY KEY, data BLOB NOT NULL, mime TEXT NOT NULL)`,
	} {
		if err := e.conn.Exec(q); err != nil {
			return fmt.Errorf("init database (%s): %w", strings.Fields(q)[0], err)
		}
	}
	if err := e.registerFunctions(); err != nil {
		return err
	}
	if err := e.createSystemTables(); err != nil {
		return err
	}
	e.cat = newCatalog()
	rows, err := e.queryRows(`SELECT v FROM _kv_meta WHERE k = 'catalog'`)
	if err != nil {
		return fmt.Errorf("read catalog: %w", err)
	}
	if len(rows) > 0 {
		if err := e.reloadCatalog(); err != nil {
			return err
		}
	}
	now := e.opts.Now().UnixMilli()
	if _, ok := e.cat.Namespaces["default"]; !ok {
		e.cat.Namespaces["default"] = &nsInfo{Name: "default", CreatedAt: now}
	}
	if _, ok := e.cat.Users["root"]; !ok {
		email := "root@localhost"
		root := &userInfo{ID: "root", Role: RoleSystem, Email: &email, AuthType: "Internal", CreatedAt: now, UpdatedAt: now}
		root.setPassword(e.opts.RootPassword)
		e.cat.Users["root"] = root
	}
	return e.saveCatalog()
}

// saveCatalog persists the catalog inside the current transaction (or on
// its own when none is open).
func (e *Engine) saveCatalog() error {
	e.catDirty = true
	b, err := json.Marshal(e.cat)
	if err != nil {
		return fmt.Errorf("encode catalog: %w", err)
	}
	return e.exec(`INSERT INTO _kv_meta (k, v) VALUES ('catalog', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, string(b))
}

// Close releases the database and stops change delivery.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.feed.close()
	return e.conn.Close()
}

// exec runs one statement with positional arguments.
func (e *Engine) exec(sql string, args ...any) error {
	stmt, _, err := e.conn.Prepare(sql)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i, a := range args {
		if err := bindValue(stmt, i+1, a); err != nil {
			return err
		}
	}
	return stmt.Exec()
}

// queryRows runs a statement and returns every row's raw values.
func (e *Engine) queryRows(sql string, args ...any) ([][]any, error) {
	stmt, _, err := e.conn.Prepare(sql)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	for i, a := range args {
		if err := bindValue(stmt, i+1, a); err != nil {
			return nil, err
		}
	}
	var rows [][]any
	for stmt.Step() {
		row := make([]any, stmt.ColumnCount())
		for i := range row {
			row[i] = columnValue(stmt, i)
		}
		rows = append(rows, row)
	}
	return rows, stmt.Err()
}

func bindValue(stmt *sqlite3.Stmt, i int, v any) error {
	switch x := v.(type) {
	case nil:
		return stmt.BindNull(i)
	case int64:
		return stmt.BindInt64(i, x)
	case int:
		return stmt.BindInt64(i, int64(x))
	case float64:
		return stmt.BindFloat(i, x)
	case string:
		return stmt.BindText(i, x)
	case []byte:
		return stmt.BindBlob(i, x)
	case bool:
		return stmt.BindBool(i, x)
	}
	return fmt.Errorf("cannot bind %T", v)
}

func columnValue(stmt *sqlite3.Stmt, i int) any {
	switch stmt.ColumnType(i) {
	case sqlite3.INTEGER:
		return stmt.ColumnInt64(i)
	case sqlite3.FLOAT:
		return stmt.ColumnFloat(i)
	case sqlite3.TEXT:
		return stmt.ColumnText(i)
	case sqlite3.BLOB:
		return stmt.ColumnBlob(i, nil)
	}
	return nil
}

func valueOf(v sqlite3.Value) any {
	switch v.Type() {
	case sqlite3.INTEGER:
		return v.Int64()
	case sqlite3.FLOAT:
		return v.Float()
	case sqlite3.TEXT:
		return v.Text()
	case sqlite3.BLOB:
		return v.Blob(nil)
	}
	return nil
}

// nextSeq returns a strictly increasing Snowflake id (41-bit ms since
// 2024-01-01 | 10-bit worker | 12-bit sequence) by the engine clock.
func (e *Engine) nextSeq() int64 {
	ms := e.opts.Now().UnixMilli() - snowflakeEpochMS
	if ms < 0 {
		ms = 0
	}
	if ms <= e.lastMS {
		ms = e.lastMS
		e.lastN++
		if e.lastN >= 1<<12 {
			ms++
			e.lastN = 0
		}
	} else {
		e.lastN = 0
	}
	e.lastMS = ms
	return ms<<22 | snowflakeWorker<<12 | e.lastN
}

// roleName is the Debug form of a role in server messages ('User', 'Dba').
func roleName(r Role) string {
	if r == "" {
		return "Anonymous"
	}
	return strings.ToUpper(string(r[:1])) + string(r[1:])
}

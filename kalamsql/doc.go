// Package kalamsql is a database/sql driver for KalamDB, registered as
// "kalamdb" and built on the sdk package (it never speaks the wire itself),
// so sqlx, sqlc's generated code, query builders and migration tools work
// with KalamDB.
//
//	import _ "github.com/kalamstack/kalam-go/kalamsql"
//
//	db, err := sql.Open("kalamdb", "http://root:secret@127.0.0.1:8080/?namespace=app")
//
// # DSN
//
// The server's base URL with credentials: http[s]://user:password@host:port,
// a path only as a reverse-proxy prefix, and the query parameters namespace
// (for unqualified table names), timeout (per call, e.g. 5s) and token (a
// JWT instead of user and password). The password is exchanged for a JWT at
// login, never sent as HTTP Basic. OpenDB wraps an existing *sdk.Client
// (same auth, same transport); NewConnector is for sql.OpenDB.
//
// # Connections
//
// KalamDB's SQL API is stateless HTTP: every connection of the pool shares
// one SDK client, and a connection holds nothing on the server. Prepare
// sends nothing (KalamDB has no server-side prepared statements); a Stmt
// re-sends its SQL with new arguments. Ping runs SELECT 1.
//
// # Statements and values
//
// Placeholders are $1..$n (sqlx users: sqlx.BindDriver("kalamdb",
// sqlx.DOLLAR)). Arguments are the SDK's: nil, bool, integers, floats,
// strings, UTF-8 []byte, time.Time, json.Number, json.RawMessage (sent as
// its text, for JSON columns), sdk.Decimal and other TextMarshalers,
// 16-byte UUID arrays, driver.Valuers (sql.Null*). A time.Time is sent as
// an RFC 3339 timestamp and a time.Duration as a TIME ("15:04:05.999999");
// pass a DATE as "2006-01-02". Named arguments are refused.
//
// Cells come back as: BOOLEAN bool; SMALLINT, INT, BIGINT int64 (exact);
// FLOAT, DOUBLE float64; DECIMAL its exact text, which scans into string or
// sdk.Decimal (never through float64); TEXT, UUID string (UUID also scans
// into sdk.UUID); BYTES []byte; JSON the document's text as []byte (scan
// into json.RawMessage); TIMESTAMP, DATETIME, DATE time.Time in UTC; TIME
// "15:04:05.999999"; EMBEDDING its JSON array text; FILE the FileRef JSON,
// which scans into sdk.FileRef. NULL scans into pointers and sql.Null*.
// Column types report KalamDB's names (BIGINT, DECIMAL, FILE, ...),
// nullability, DECIMAL precision and scale, and EMBEDDING dimension.
//
// A query string may hold several statements separated by ';' (without
// arguments: KalamDB binds parameters only in single statements); each
// statement's result is a result set (Rows.NextResultSet), and KalamDB moves
// INSERT/UPDATE/DELETE results to summaries at the end. Exec's RowsAffected
// is the server's row_count (for a batch, the sum of those summaries).
// LastInsertId is not supported.
//
// # Row caps
//
// KalamDB returns at most 50 rows for a SELECT without LIMIT and at most
// 1000 for any SELECT; nothing tells the client a result was cut. Write
// LIMIT and page with OFFSET or a key. To see the hint, pass a context from
// WithResultInfo and call ResultInfo.MayBeCapped after the query.
//
// # Transactions
//
// KalamDB honours BEGIN/COMMIT only within one HTTP request. A database/sql
// transaction therefore queues its Exec statements (arguments are written
// into the SQL as literals, since batches take no parameters) and Commit
// sends them as one BEGIN; ...; COMMIT request, which applies all or
// nothing. Rollback sends nothing. Queries inside a transaction fail with
// ErrTxQuery (they could not see the queued writes), RowsAffected of a
// queued statement fails with ErrRowsAffectedInTx, and isolation levels other
// than the default or read-only transactions fail with ErrTxOptions. DDL
// and STREAM tables are refused inside transactions by the server.
//
// # Errors
//
// The SDK's errors pass through: *sdk.ServerError (errors.As) and sentinels
// such as sdk.ErrPermissionDenied (errors.Is). Only a refused connection,
// which provably ran nothing, is also driver.ErrBadConn, so database/sql's
// automatic retry never repeats a write. Cancelling a context ends the
// request in flight.
package kalamsql

// Package sdk is the Go client for KalamDB: SQL over HTTP with typed
// results, authentication, FILE uploads and downloads, realtime
// subscriptions and live rows over one shared WebSocket, topic consumers,
// and health checks.
// It talks to the server only through the transport interfaces, so the same
// code runs natively (net/http), in browsers (GOOS=js, fetch) and in WASI.
//
// # Connecting
//
//	client, err := sdk.New("http://localhost:8080", sdk.WithBasicAuth("admin", "AdminPass123!"))
//	if err != nil { ... }
//	defer client.Close()
//
// The base URL needs a scheme and a host; a path is allowed only as a
// reverse-proxy prefix. A Client is safe for concurrent use. Each call takes
// a context; when the context has no earlier deadline the client applies
// its own timeout (WithTimeout, default 30 s as in the official client).
// Logs go to WithLogger's Logger, typically a *slog.Logger (silent by
// default), and never contain passwords or tokens; neither do error strings. Besides JWTs and PASSWORD
// literals, the exact passwords and tokens a client sends (opaque ones too)
// are redacted wherever a server or proxy echoes them, until Close. Secrets
// shorter than 4 bytes cannot be told from ordinary text and are not.
//
// # Authentication
//
// WithBasicAuth is a login bootstrap: user and password are exchanged for a
// JWT at /v1/api/auth/login (KalamDB rejects HTTP Basic). WithToken sends a
// fixed JWT. WithAuthProvider asks a function for credentials whenever a
// token is needed. When the server answers TOKEN_EXPIRED the client uses
// its refresh token (/v1/api/auth/refresh), falling back to the provider or
// to a new login, and resends the request once. Concurrent requests that
// meet the expired token share a single renewal. Login, Refresh, Logout, Me,
// SetupStatus and Setup call the auth endpoints directly.
//
// # Queries and parameters
//
//	res, err := client.Query(ctx,
//	    "SELECT * FROM messages WHERE conversation_id = $1 AND archived = $2",
//	    sdk.Args("conv_42", false), sdk.Namespace("chat"))
//
// Args maps Go values to what KalamDB binds: nil, bool, integers (sent as
// exact JSON integers; a uint64 above MaxInt64 as a decimal string), floats
// (never NaN or ±Inf), strings, UTF-8 []byte, time.Time (an RFC 3339 UTC
// string with microseconds, which KalamDB coerces to TIMESTAMP), json.Number,
// 16-byte arrays (UUID text), encoding.TextMarshaler and fmt.Stringer (their
// text). Maps, slices, structs and other types are rejected before anything
// is sent, with the placeholder number and the type in the error.
//
// # Results
//
// A Result holds one StatementResult per statement (Results) and exposes the
// first directly: Columns (name, KalamDB DataType with Decimal precision and
// scale or Embedding dimension, pk/nn/uq flags), Rows, RowCount, Message.
// Row accessors (Int64, Decimal, Time, UUID, JSON, Bytes, Embedding, File,
// ...), Row.Scan, Row.ScanStruct (`kalam:"col"` tags) and CollectRows
// convert cells. 64-bit integers and decimals are decoded exactly, never
// through float64; timestamps (µs) and dates (days) become UTC time.Time.
// Conversion errors are *ScanError values naming the column.
//
// Row cap: KalamDB returns at most 50 rows for a SELECT without LIMIT and at
// most 1000 for any SELECT. The client does not page behind your back:
// RowCount says what came back; use LIMIT/OFFSET to read further.
//
// # Retries
//
// Only safe retries happen, at most WithMaxRetries times (default 3) with
// jittered exponential backoff that honours ctx: a read-only statement
// (first keyword SELECT, SHOW, DESCRIBE or EXPLAIN) after a transport
// failure, and any statement after HTTP 429 RATE_LIMIT_EXCEEDED (the server
// rejects those before running them).
//
// # Clusters
//
// A KalamDB cluster is several nodes kept in step by Raft. WithEndpoints
// gives the client every node's URL; it uses one at a time (BaseURL),
// the first while it works, and moves to the next when a node fails. What
// the client relies on, read from KalamDB 0.4.2 and checked on a real
// three-node cluster:
//
//   - Any node takes any SQL. A follower forwards a batch with a write to
//     the leader over gRPC, and a read to the leader of the table's shard;
//     the client sees no redirect. File uploads are the exception: a
//     follower answers 503 NOT_LEADER, and the client sends the upload to
//     the next node until one takes it. After a failover a node may lead a
//     table's shard without leading the cluster; a write then fails before
//     running with "Not leader for shard. Leader: ...", and the client
//     sends it to that leader when it is one of its endpoints, else to the
//     next node.
//   - While the cluster has no leader (an election takes about 2 s after
//     the leader dies) a node answers 503 FORWARD_FAILED. Nothing ran when
//     the answer is NOT_LEADER, LEADER_NOT_AVAILABLE or
//     CLUSTER_UNAVAILABLE, so any call is sent again; after FORWARD_FAILED
//     only a read-only one is, since the leader may have run a write.
//   - A request the node never received (connection refused, or the
//     request could not be written) is sent to the next node whatever it
//     is; a write whose node died after receiving it fails and is not
//     resent. Read-only calls follow the retry rules above. A browser does
//     not say whether a failed fetch reached the server, so there a write
//     that fails at the connection is not resent either (the next call
//     goes to the next node).
//   - Tokens are valid on every node (each node verifies them with the
//     same jwt_secret, which the nodes must share), and users are
//     replicated, so the client keeps its login when it moves.
//   - A node serves the WebSocket subscriptions opened on it, and they end
//     with it: the client reconnects to the next node and subscribes
//     again. `_seq` is stamped by each node as it applies a change, so one
//     row has a different `_seq` on every node; a subscription that moves
//     resumes from its checkpoint rewound by 10 s and drops the rows it
//     already delivered, recognised by content (every column but `_seq`
//     and `_commit_seq`). No row is lost or repeated unless nodes lag each
//     other by more than the rewind, or a row changes back to exactly a
//     content delivered within it.
//   - The health endpoints answer only localhost and say "healthy" even on
//     a node without a leader, so the client does not probe them: it
//     judges a node by its answers.
//
// Limits of KalamDB 0.4.2-rc.3 itself, seen on a real three-node cluster,
// which no client can hide: autocommit INSERT, UPDATE and DELETE are
// applied by the shard leader only, not through Raft (a follower's
// subscribers do not see them, and they are lost if that leader dies; a
// transaction, BEGIN ... COMMIT in one call, is replicated); topics and
// consumer offsets live on the node that created them, so a consumer
// cannot go on through another node; a restarted node does not rejoin on
// its old data; and stopping a follower while transactions commit can
// leave the leader's Raft group failing every commit ("Proposal rejected:
// Fatal(Panicked)"). Losing the node in use, the leader included, is what
// the client survives there: its writes and subscriptions go on through
// the other nodes once they have elected a leader.
//
// ConnectionEvent.Node names the node of each connection event. With one
// URL nothing of this applies and the client behaves as without
// WithEndpoints.
//
// # Errors
//
// KalamDB errors are *ServerError{Code, HTTPStatus, Message, Details}, from
// any of the server's five error body shapes and also from an HTTP 200 with
// "status":"error"; errors the server sends on the WebSocket are
// *SubscriptionError{SubscriptionID, Code, Message}. Both match sentinels
// with errors.Is, by code (every code KalamDB v0.4 sends; the auth
// endpoints send theirs in lower case) or, without a code, by status:
//
//	sentinel               codes                                                status
//	ErrTokenExpired        TOKEN_EXPIRED (renewed and retried by the client)
//	ErrInvalidCredentials  INVALID_CREDENTIALS, MISSING_AUTHORIZATION,
//	                       unauthorized; WebSocket AUTH_REQUIRED
//	ErrAccountLocked       account_locked, ACCOUNT_LOCKED
//	ErrSetupRequired       setup_required, SETUP_REQUIRED                        428
//	ErrAlreadyConfigured   already_configured
//	ErrPermissionDenied    PERMISSION_DENIED, INSUFFICIENT_PERMISSIONS,          403
//	                       FORBIDDEN/forbidden; WebSocket UNAUTHORIZED
//	ErrRateLimited         RATE_LIMIT_EXCEEDED, rate_limited, IP_BANNED,          429
//	                       TOO_MANY_CONNECTIONS
//	ErrSubscriptionLimit   WebSocket SUBSCRIPTION_LIMIT_EXCEEDED (and UNSUPPORTED
//	                       "Maximum subscriptions ...")
//	ErrNotFound            NOT_FOUND, TABLE_NOT_FOUND, FILE_NOT_FOUND,           404
//	                       EXPORT_NOT_FOUND
//	ErrRequestTooLarge     BODY_TOO_LARGE, FILE_TOO_LARGE, TOO_MANY_FILES;       413
//	                       WebSocket MESSAGE_TOO_LARGE
//	ErrInvalidRequest      INVALID_SQL, EMPTY_SQL, BATCH_PARSE_ERROR,            400 without a code
//	                       PARAMS_WITH_BATCH, INVALID_PARAMETER, INVALID_INPUT,
//	                       MISSING_FILE, EXTRA_FILE, INVALID_MIME_TYPE,
//	                       invalid_user, weak_password, user_exists; WebSocket
//	                       INVALID_SQL, UNSUPPORTED, INVALID_SUBSCRIPTION_ID,
//	                       UNSUPPORTED_DATA, PROTOCOL
//	ErrUnavailable         NOT_LEADER, LEADER_NOT_AVAILABLE,                     503
//	                       CLUSTER_UNAVAILABLE, FORWARD_FAILED
//	ErrInternal            INTERNAL_ERROR/internal_error, AUTHENTICATION_ERROR;  500
//	                       WebSocket SUBSCRIPTION_FAILED, CONVERSION_ERROR,
//	                       BATCH_FETCH_FAILED
//	(none)                 SQL_EXECUTION_ERROR: the statement ran and failed for
//	                       a reason of its own (a constraint, a type, a missing
//	                       table); Message says which
//
// A reply that is not KalamDB's (a proxy's HTML page, an empty or truncated
// body, an empty 404 from whatever answered) is a *ResponseError
// (ErrUnexpectedResponse; a 404 also matches ErrNotFound) with the status
// and a short snippet. Transport failures are *TransportError. IsRetryable
// tells whether trying again later may help. JSON response bodies are read
// up to WithMaxResponseBytes (default 64 MiB); a larger body is an error
// (ErrResponseTooLarge), never silently truncated. A call its context ends
// reports the context's error (errors.Is context.Canceled or
// context.DeadlineExceeded), with the last connection error when a
// realtime call was still connecting.
//
// # Files
//
//	_, err = client.Query(ctx, `INSERT INTO app.users (name, avatar) VALUES ($1, FILE("avatar"))`,
//	    sdk.Args("Alice"), sdk.File("avatar", "avatar.png", "image/png", f))
//
// File sends the query as multipart/form-data, streaming each reader through
// a pipe (a 100 MiB file is not held in memory); OnUploadProgress reports
// bytes sent per file. If a reader is an io.Seeker the upload can be resent
// after TOKEN_EXPIRED or a 429; otherwise that failure is reported with
// ErrBodyNotReplayable. Read a FILE column with Row.File to get a FileRef,
// and fetch the content with Client.Download, which uses the server's real
// route /v1/files/{namespace}/{table}/{sub}/{stored name} (the official
// SDKs build a wrong URL) and checks size and SHA-256 at the end of the
// stream. Note the server's limits: 25 MiB per file and, by default, 10 MiB
// per request body.
//
// # Subscriptions and live rows
//
//	sub, err := client.Subscribe(ctx, "SELECT * FROM app.messages", sdk.BatchSize(500))
//	for ev, err := range sub.Events(ctx) { switch e := ev.(type) { case *sdk.Insert: ... } }
//
// All subscriptions share one WebSocket, opened lazily (or by Connect) and
// authenticated with the client's current token. The client fetches every
// snapshot batch itself, delivers changes made meanwhile after the snapshot,
// and after a lost connection resumes each subscription from the last _seq
// it queued, so no row is lost or repeated. Each subscription's buffer is
// bounded (WithSubscriptionBuffer): a consumer that falls behind gets
// ErrOverflow and a resync, never a silent drop. LiveRows keeps the result
// set materialised by primary key and emits whole snapshots.
//
// One loss the protocol hides: KalamDB drops change messages, logging only,
// when a connection's queue of 256 is full (a link that stalls but does not
// break, a reader too slow), during a snapshot when more than 1024 changes
// wait, and when its notification workers are saturated; _seq values are not
// contiguous, so no gap shows. The client watches for the one sign it can
// see, a pong later than WithStallThreshold: it then emits an EventError
// matching ErrLinkStalled and resyncs every live subscription from its
// checkpoint at the time of the ping, skipping rows already delivered. A
// resync delivers the current version of each row changed meanwhile
// (Resumed InitialRows), not every intermediate update, and reports
// deletions only with LiveRows (which resyncs the whole set). Browsers see
// no pongs, so there a stall goes undetected: an application that cannot
// afford that should reconcile with a query or a LiveRows now and then.
//
// # Topic consumers
//
//	c, err := client.Consumer(sdk.ConsumerConfig{Group: "billing-worker", Topic: "orders.events"})
//	recs, err := c.Poll(ctx); c.MarkProcessed(recs[0]); res, err := c.Commit(ctx)
//
// Poll waits up to PollTimeout for records with a backoff (the server
// answers at once even when empty); commits cover only the highest
// contiguous processed offset, never a record this consumer did not
// receive (see Consumer for at-least-once across members and restarts);
// Run drives a handler at-least-once; Seek, Position and Committed move
// and report positions.
package sdk

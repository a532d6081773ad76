// Package engine is the emulator's database: KalamDB's SQL surface, users,
// FILE storage and topics, on SQLite. It knows nothing of HTTP; the emulator
// package above it owns the wire (auth, JSON shapes, status codes, redaction).
//
// This file is the contract between the two. Change it only together with
// both sides.
package engine

import (
	"encoding/json"
	"time"
)

// Role is a KalamDB role, lowercase as on the wire.
type Role string

const (
	RoleAnonymous Role = "anonymous"
	RoleUser      Role = "user"
	RoleService   Role = "service"
	RoleDBA       Role = "dba"
	RoleSystem    Role = "system"
)

// IsAdmin reports whether r sees unredacted errors and masked columns (dba, system).
func (r Role) IsAdmin() bool { return r == RoleDBA || r == RoleSystem }

// Identity is who runs a statement: an authenticated user.
type Identity struct {
	UserID string // equals the user name in KalamDB
	Role   Role
}

// User is a row of system.users as the auth layer needs it.
type User struct {
	ID        string
	Role      Role
	Email     *string
	CreatedAt time.Time
	UpdatedAt time.Time
	// HasPassword is false for root before setup.
	HasPassword bool
	Deleted     bool
}

// Column is one schema entry of a result, as on the wire.
type Column struct {
	Name string `json:"name"`
	// DataType is the KalamDataType in serde external tagging:
	// "BigInt", or {"Decimal":{"precision":10,"scale":2}}, {"Embedding":384}.
	DataType json.RawMessage `json:"data_type"`
	Index    int             `json:"index"`
	// Flags in the real server's order ("pk", "nn", "uq": its enum order,
	// not alphabetical); nil when none.
	Flags []string `json:"flags,omitempty"`
}

// Result is one statement's result, already encoded as the real server encodes it.
type Result struct {
	Schema []Column
	// Rows holds positional cells, each already JSON-encoded as §6.5 says
	// (BigInt as "42", Json as a string of JSON text, Bytes as [1,2], ...).
	Rows [][]json.RawMessage
	// ReturnsRows is true for row-returning statements (SELECT, SHOW, ...),
	// even when Rows is empty: the HTTP layer then emits "rows" and, for a
	// single-statement request, the streamed shape with "error":null.
	ReturnsRows bool
	// Streamed marks the only result of a single-statement request that
	// returns rows: the one case the real server streams with "error":null
	// (http-api.md §6.4). A batch that leaves one row result is not streamed.
	Streamed bool
	RowCount int
	Message  string // "" when none
	AsUser   string
}

// Error is a failed request as the SQL endpoint reports it.
type Error struct {
	Code       string // SQL_EXECUTION_ERROR, INVALID_SQL, PERMISSION_DENIED, PARAMS_WITH_BATCH, ...
	HTTPStatus int    // 400, 403, 500, ...
	// Message is the full text, e.g. "Statement 2 failed: ...".
	Message string
	// Details is the failing statement's SQL (shown to admins only); "" when none.
	Details string
	// Sensitive errors are replaced for non-admins by a fixed text per code
	// (http-api.md §6.6); preserved errors are shown to everyone.
	Sensitive bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Upload is one multipart `file:<name>` part, already read and size-checked
// by the HTTP layer.
type Upload struct {
	Placeholder string // the <name> of FILE("<name>")
	Filename    string
	MimeType    string
	Data        []byte
}

// Request is one POST /v1/api/sql, after auth and payload parsing.
type Request struct {
	Identity Identity
	SQL      string
	// Params are decoded JSON values: nil, bool, json.Number, string. The
	// HTTP layer already rejected arrays and objects.
	Params    []any
	Namespace string // "" means "default"
	// Uploads is non-nil for multipart requests (even when it holds no file).
	Uploads []Upload
}

// ChangeOp is the kind of a row change.
type ChangeOp string

const (
	OpInsert ChangeOp = "insert"
	OpUpdate ChangeOp = "update"
	OpDelete ChangeOp = "delete"
)

// Change is one committed row change, the feed for topics and (later) live
// queries. Rows map column name to the §6.5 JSON encoding and include _seq
// (and _deleted where the table has it).
type Change struct {
	Namespace string
	Table     string
	TableType string // "user", "shared", "stream"
	Op        ChangeOp
	// UserID owns the row for USER tables; the writer otherwise.
	UserID string
	Seq    int64
	Row    map[string]json.RawMessage // new row (deleted row for deletes)
	Old    map[string]json.RawMessage // previous row for updates; nil otherwise
	PK     []string                   // primary-key column names, in key order
}

// ConsumeRequest is POST /v1/api/topics/consume after auth and role checks.
type ConsumeRequest struct {
	TopicID     string
	GroupID     string
	Start       string // "earliest", "latest" or "offset"
	StartOffset uint64 // when Start == "offset"
	Limit       uint64
	PartitionID uint32
}

// TopicMessage is one consumed message.
type TopicMessage struct {
	TopicID     string
	PartitionID uint32
	Offset      uint64
	Payload     []byte // the JSON bytes; the HTTP layer base64-encodes them
	Key         *string
	TimestampMS int64
	User        string // "" when unknown (omitted on the wire)
	Op          string // "Insert", "Update", "Delete"
}

// ConsumeResult is the consume answer before wire encoding.
type ConsumeResult struct {
	Messages   []TopicMessage
	NextOffset uint64
	HasMore    bool
}

// Options configure a new Engine.
type Options struct {
	// Now is the clock (STREAM TTL, created_at, _seq timestamps, claims).
	// nil means time.Now.
	Now func() time.Time
	// RootPassword sets root's password at creation; "" leaves root without
	// one (setup required).
	RootPassword string
	// DataPath keeps the database in a file; "" keeps it in memory.
	DataPath string
	// DefaultQueryLimit and MaxQueryLimit: 0 means 50 and 1000.
	DefaultQueryLimit int
	MaxQueryLimit     int
	// MaxFileSize and MaxFilesPerRequest: 0 means 25 MiB and 20.
	MaxFileSize        int64
	MaxFilesPerRequest int
	// VisibilityTimeout of topic claims: 0 means 60 s.
	VisibilityTimeout time.Duration
}

// The Engine type (engine.go) provides, safe for concurrent use:
//
//	func New(opts Options) (*Engine, error)
//	func (e *Engine) Close() error
//	func (e *Engine) Execute(req Request) ([]Result, *Error)
//	// CheckPassword returns the user when name/password match (bcrypt-like
//	// semantics; root without a password never matches a non-empty one).
//	func (e *Engine) CheckPassword(name, password string) (User, bool)
//	func (e *Engine) LookupUser(id string) (User, bool)
//	// SetupServer sets root's password and creates a dba user (the
//	// /auth/setup checks on policy and existence are the HTTP layer's,
//	// through LookupUser and RootHasPassword).
//	func (e *Engine) SetupServer(user, password, rootPassword string, email *string) (User, error)
//	func (e *Engine) RootHasPassword() bool
//	func (e *Engine) ReadFile(id Identity, namespace, table, subfolder, storedName string) (data []byte, mimeType string, err *Error)
//	func (e *Engine) Consume(id Identity, req ConsumeRequest) (ConsumeResult, *Error) // Code "NOT_FOUND" for an unknown topic
//	func (e *Engine) Ack(id Identity, topic, group string, partition uint32, upto uint64) *Error
//	func (e *Engine) OnChange(fn func(Change)) (cancel func())

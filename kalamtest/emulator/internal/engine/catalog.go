package engine

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// colDefault is a column DEFAULT (sql-model §2.1): a literal or one of the
// functions NOW, SNOWFLAKE_ID, UUID_V7, ULID, CURRENT_USER.
type colDefault struct {
	Func string `json:"func,omitempty"`
	// Kind is "int", "float" or "text" for a literal; "" with Func or NULL.
	Kind string `json:"kind,omitempty"`
	Text string `json:"text,omitempty"`
}

// literal is the SQLite value of a literal default (nil for NULL).
func (d *colDefault) literal() any {
	switch d.Kind {
	case "int":
		n, _ := strconv.ParseInt(d.Text, 10, 64)
		return n
	case "float":
		f, _ := strconv.ParseFloat(d.Text, 64)
		return f
	case "text":
		return d.Text
	}
	return nil
}

type column struct {
	Name    string      `json:"name"`
	Type    kType       `json:"type"`
	NotNull bool        `json:"not_null,omitempty"`
	PK      bool        `json:"pk,omitempty"`
	Default *colDefault `json:"default,omitempty"`
}

// flags is the schema flag list in the real order: FieldFlags is a
// BTreeSet of an enum declared PrimaryKey, NonNull, Unique, so it
// serializes as pk, nn, uq (kalamdb-commons models/schemas/field_flag.rs).
func (c column) flags() []string {
	switch {
	case c.PK:
		return []string{"pk", "nn", "uq"}
	case c.NotNull:
		return []string{"nn"}
	}
	return nil
}

type tableInfo struct {
	Namespace  string   `json:"namespace"`
	Name       string   `json:"name"`
	Type       string   `json:"type"` // user, shared, stream
	Access     string   `json:"access,omitempty"`
	TTLSeconds int64    `json:"ttl_seconds,omitempty"`
	Columns    []column `json:"columns"`
	CreatedAt  int64    `json:"created_at"`
	Options    map[string]string
	// Version is the schema version less one (0 for a new table).
	Version int `json:"version,omitempty"`
}

func (t *tableInfo) id() string   { return t.Namespace + "." + t.Name }
func (t *tableInfo) phys() string { return "u$" + t.Namespace + "$" + t.Name }

// pk returns the primary-key column index, -1 when none.
func (t *tableInfo) pk() int {
	for i, c := range t.Columns {
		if c.PK {
			return i
		}
	}
	return -1
}

func (t *tableInfo) col(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// allColumns are the visible columns: user columns then _seq, _deleted (§3).
func (t *tableInfo) allColumns() []column {
	return append(append([]column(nil), t.Columns...),
		column{Name: "_seq", Type: tBigInt, NotNull: true},
		column{Name: "_deleted", Type: tBoolean, NotNull: true})
}

type nsInfo struct {
	Name      string `json:"name"`
	CreatedAt int64  `json:"created_at"`
}

type userInfo struct {
	ID        string  `json:"id"`
	Role      Role    `json:"role"`
	Email     *string `json:"email,omitempty"`
	Salt      string  `json:"salt,omitempty"`
	Hash      string  `json:"hash,omitempty"`
	AuthType  string  `json:"auth_type"`
	CreatedAt int64   `json:"created_at"`
	UpdatedAt int64   `json:"updated_at"`
	DeletedAt *int64  `json:"deleted_at,omitempty"`
}

func (u *userInfo) setPassword(pw string) {
	if pw == "" {
		u.Salt, u.Hash = "", ""
		return
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go 1.24+)
	u.Salt = hex.EncodeToString(salt)
	u.Hash = hashPassword(u.Salt, pw)
}

func (u *userInfo) checkPassword(pw string) bool {
	if u.Hash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashPassword(u.Salt, pw)), []byte(u.Hash)) == 1
}

func hashPassword(salt, pw string) string {
	sum := sha256.Sum256([]byte(salt + "\x00" + pw))
	return hex.EncodeToString(sum[:])
}

type topicRoute struct {
	Table   string `json:"table_id"` // ns.table
	Op      string `json:"op"`       // Insert, Update, Delete
	Payload string `json:"payload_mode"`
	Filter  string `json:"filter_expr,omitempty"`
}

type topicInfo struct {
	ID         string       `json:"id"`
	Partitions int          `json:"partitions"`
	Routes     []topicRoute `json:"routes"`
	CreatedAt  int64        `json:"created_at"`
	UpdatedAt  int64        `json:"updated_at"`
}

// catalog is every definition; it is persisted as one JSON document in the
// database so DataPath survives restarts.
type catalog struct {
	Namespaces map[string]*nsInfo    `json:"namespaces"`
	Tables     map[string]*tableInfo `json:"tables"`
	Users      map[string]*userInfo  `json:"users"`
	Topics     map[string]*topicInfo `json:"topics"`
	// CommitSeq is stored under its own key: it changes on every commit.
	CommitSeq int64 `json:"-"`
	FileCount int64 `json:"file_count"`
}

func newCatalog() *catalog {
	return &catalog{
		Namespaces: map[string]*nsInfo{},
		Tables:     map[string]*tableInfo{},
		Users:      map[string]*userInfo{},
		Topics:     map[string]*topicInfo{},
	}
}

// reservedNamespaces cannot be created (sql-model §1).
var reservedNamespaces = map[string]bool{
	"system": true, "sys": true, "root": true, "kalamdb": true, "kalam": true, "main": true,
	"default": true, "sql": true, "admin": true, "internal": true, "information_schema": true,
	"pg_catalog": true, "datafusion": true,
}

// reservedWords are keywords refused as names: the classifier's critical
// list plus the clause words of sqlparser's reserved lists (sql-model §1).
var reservedWords = map[string]bool{
	"TABLE": true, "TABLES": true, "TABLESPACE": true, "INDEX": true, "VIEW": true, "SCHEMA": true,
	"DATABASE": true, "INSERT": true, "UPDATE": true, "DELETE": true, "CREATE": true, "DROP": true,
	"ALTER": true, "SELECT": true, "FROM": true, "WHERE": true, "JOIN": true, "ON": true, "AS": true,
	"ORDER": true, "GROUP": true, "LIMIT": true, "OFFSET": true, "UNION": true, "WITH": true,
	"HAVING": true, "INTERSECT": true, "EXCEPT": true, "USING": true, "WINDOW": true,
}

// validateName applies the identifier rules of sql-model §1 with the
// server's ValidationError wording.
func validateName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("Name cannot be empty")
	case len(name) > 64:
		return fmt.Errorf("Name is too long (%d characters, max 64)", len(name))
	case name[0] == '_':
		return fmt.Errorf("Name cannot start with underscore (reserved for system columns)")
	case isDigit(name[0]):
		return fmt.Errorf("Name cannot start with a number")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("Name '%s' contains invalid characters (only alphanumeric and underscore allowed)", name)
		}
	}
	if reservedWords[strings.ToUpper(name)] {
		return fmt.Errorf("Name '%s' is a reserved SQL keyword and cannot be used", name)
	}
	if kind == "namespace" && reservedNamespaces[strings.ToLower(name)] {
		return fmt.Errorf("Namespace '%s' is reserved and cannot be used", name)
	}
	return nil
}

// validateUserID applies UserId's rules: no path traversal or separators.
func validateUserID(id string) error {
	switch {
	case id == "" || len(id) > 128:
		return fmt.Errorf("User ID must be 1-128 characters")
	case strings.Contains(id, ".."):
		return fmt.Errorf("User ID cannot contain '..' (path traversal)")
	case strings.ContainsAny(id, "/\\"):
		return fmt.Errorf("User ID cannot contain '/' or '\\' (directory separator)")
	case strings.ContainsRune(id, 0):
		return fmt.Errorf("User ID cannot contain null bytes")
	}
	return nil
}

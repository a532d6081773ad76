package engine

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// invalidSQL is a statement the server's classifier would refuse to parse:
// INVALID_SQL without the "Statement k failed:" prefix.
func invalidSQL(format string, args ...any) *stmtErr {
	return &stmtErr{code: "INVALID_SQL", status: 400, msg: fmt.Sprintf(format, args...), sensitive: true, bare: true}
}

func (e *Engine) execCreateNamespace(st *stmt, s *session) (Result, *stmtErr) {
	c := &tokCursor{t: st.sig}
	c.accept("CREATE", "NAMESPACE")
	ifNot := c.accept("IF", "NOT", "EXISTS")
	name, ok := c.next().ident()
	if !ok || !c.done() {
		return Result{}, invalidSQL("Invalid CREATE NAMESPACE statement. Expected: CREATE NAMESPACE [IF NOT EXISTS] <name>")
	}
	name = strings.ToLower(name)
	// Validation comes first and its error carries no KalamDbError prefix.
	if err := validateName("namespace", name); err != nil {
		return Result{}, execErr("%v", err)
	}
	if _, exists := e.cat.Namespaces[name]; exists {
		if ifNot {
			return Result{Message: fmt.Sprintf("Namespace '%s' already exists", name)}, nil
		}
		return Result{}, execErr("Already exists: Namespace '%s' already exists", name)
	}
	e.cat.Namespaces[name] = &nsInfo{Name: name, CreatedAt: e.opts.Now().UnixMilli()}
	if err := e.saveCatalog(); err != nil {
		return Result{}, execErr("Execution error: %v", err)
	}
	return Result{Message: fmt.Sprintf("Namespace '%s' created successfully", name)}, nil
}

func (e *Engine) execDropNamespace(st *stmt, s *session) (Result, *stmtErr) {
	c := &tokCursor{t: st.sig}
	c.accept("DROP", "NAMESPACE")
	ifExists := c.accept("IF", "EXISTS")
	name, ok := c.next().ident()
	c.accept("CASCADE")
	if !ok || !c.done() {
		return Result{}, invalidSQL("Invalid DROP NAMESPACE statement. Expected: DROP NAMESPACE [IF EXISTS] <name> [CASCADE]")
	}
	name = strings.ToLower(name)
	if _, exists := e.cat.Namespaces[name]; !exists {
		if ifExists {
			return Result{Message: fmt.Sprintf("Namespace '%s' does not exist", name)}, nil
		}
		return Result{}, execErr("Not found: Namespace '%s' not found", name)
	}
	// DROP NAMESPACE always drops its tables (sql-model §1, §12.12).
	for _, id := range sortedKeys(e.cat.Tables) {
		if t := e.cat.Tables[id]; t.Namespace == name {
			if err := e.dropTable(t); err != nil {
				return Result{}, execErr("Execution error: %v", err)
			}
		}
	}
	delete(e.cat.Namespaces, name)
	if err := e.saveCatalog(); err != nil {
		return Result{}, execErr("Execution error: %v", err)
	}
	return Result{Message: fmt.Sprintf("Namespace '%s' dropped successfully", name)}, nil
}

func (e *Engine) execUse(st *stmt, s *session) (Result, *stmtErr) {
	c := &tokCursor{t: st.sig}
	if !c.accept("USE", "NAMESPACE") && !c.accept("SET", "NAMESPACE") {
		c.accept("USE")
	}
	c.accept("=")
	name, ok := c.next().ident()
	if !ok || !c.done() {
		return Result{}, invalidSQL("Invalid USE statement. Expected: USE <namespace>")
	}
	name = strings.ToLower(name)
	if _, exists := e.cat.Namespaces[name]; !exists {
		return Result{}, execErr("Not found: Namespace '%s' not found", name)
	}
	s.ns = name
	return Result{Message: fmt.Sprintf("Namespace switched to '%s'", name)}, nil
}

func (e *Engine) execShowNamespaces(st *stmt, s *session) (Result, *stmtErr) {
	t := sysTables["namespaces"]
	rows, err := t.rows(e)
	if err != nil {
		return Result{}, execErr("Execution error: read namespaces: %v", err)
	}
	return encodeResult(knownCols(t.cols), rows, s.role)
}

func (e *Engine) execShowTables(st *stmt, s *session) (Result, *stmtErr) {
	c := &tokCursor{t: st.sig}
	c.accept("SHOW", "TABLES")
	ns := ""
	if c.accept("IN") || c.accept("FROM") {
		c.accept("NAMESPACE")
		n, ok := c.next().ident()
		if !ok {
			return Result{}, invalidSQL("Invalid SHOW TABLES statement. Expected: SHOW TABLES [IN [NAMESPACE] <name>]")
		}
		ns = strings.ToLower(n)
	}
	return encodeResult(knownCols(schemaCols), e.schemaRows(ns), s.role)
}

func knownCols(cols []column) []outCol {
	out := make([]outCol, len(cols))
	for i, c := range cols {
		out[i] = outCol{name: c.Name, typ: c.Type, flags: c.flags(), known: true}
	}
	return out
}

func (e *Engine) execDescribe(st *stmt, s *session) (Result, *stmtErr) {
	c := &tokCursor{t: st.sig}
	c.next()
	c.accept("TABLE")
	ns, name, ok := c.qualifiedName()
	if c.accept("HISTORY") {
		return Result{}, notImplementedErr("DESCRIBE TABLE HISTORY")
	}
	if !ok || !c.done() {
		return Result{}, invalidSQL("Invalid DESCRIBE TABLE statement. Expected: DESCRIBE TABLE [namespace.]table")
	}
	if ns == "" {
		ns = "default" // sql-model §1: DESCRIBE without namespace means default
	}
	t := e.cat.Tables[ns+"."+name]
	if t == nil {
		return Result{}, execErr("Not found: Table '%s.%s' not found", ns, name)
	}
	cols := []column{sysCol("column_name", tText), sysCol("ordinal_position", tInt), sysCol("column_id", tInt),
		sysCol("data_type", tText), sysCol("is_nullable", tBoolean), sysCol("is_primary_key", tBoolean),
		sysCol("column_default", tText), sysCol("column_comment", tText), sysCol("schema_version", tInt)}
	var rows [][]any
	for i, col := range t.allColumns() {
		var def any
		if col.Default != nil {
			if col.Default.Func != "" {
				def = col.Default.Func + "()"
			} else if col.Default.Kind != "" {
				def = col.Default.Text
			}
		}
		rows = append(rows, []any{col.Name, int64(i + 1), int64(i + 1), col.Type.sqlName(), boolInt(!col.NotNull), boolInt(col.PK), def, nil, int64(1)})
	}
	return encodeResult(knownCols(cols), rows, s.role)
}

// canCreateTable is kalamdb_session::can_create_table (sql-model §8).
func canCreateTable(r Role, typ string) bool {
	switch r {
	case RoleSystem, RoleDBA, RoleService:
		return true
	case RoleUser:
		return typ == "user" || typ == "stream"
	}
	return false
}

func (e *Engine) execCreateTable(st *stmt, s *session) (Result, *stmtErr) {
	ct, err := parseCreateTable(st.sig)
	if err != nil {
		return Result{}, invalidSQL("Invalid CREATE TABLE statement: %v", err)
	}
	ns := ct.ns
	if ns == "" {
		ns = s.ns
	}
	typ := ct.typ
	if typ == "shared" && (s.role == RoleUser || s.role == RoleService) && ns == s.user {
		typ = "user" // sql-model §2.1: own-namespace SHARED becomes USER
	}
	if ns == "system" {
		return Result{}, execErr("Invalid operation: Cannot CREATE TABLE in system namespace 'system'")
	}
	if !canCreateTable(s.role, typ) {
		return Result{}, permErr("Unauthorized: Insufficient privileges to create %s tables", roleName(Role(typ)))
	}
	if _, ok := e.cat.Namespaces[ns]; !ok {
		return Result{}, execErr("Invalid operation: Namespace '%s' does not exist. Create it first with CREATE NAMESPACE %s", ns, ns)
	}
	pk := -1
	for i, c := range ct.columns {
		if c.PK {
			pk = i
		}
	}
	if pk < 0 && typ != "stream" {
		return Result{}, execErr("Invalid operation: %s tables require a PRIMARY KEY column", roleName(Role(typ)))
	}
	id := ns + "." + ct.name
	if old, exists := e.cat.Tables[id]; exists {
		if ct.ifNotExists {
			// The server re-registers the existing definition and reports it created.
			return Result{Message: fmt.Sprintf("CREATE TABLE via Raft consensus: %s table %s created successfully", old.Type, id)}, nil
		}
		return Result{}, execErr("Already exists: Table %s already exists", id)
	}
	t := &tableInfo{Namespace: ns, Name: ct.name, Type: typ, Columns: ct.columns, CreatedAt: e.opts.Now().UnixMilli()}
	if typ == "shared" {
		t.Access = ct.access
		if t.Access == "" {
			t.Access = "private"
		}
	}
	if typ == "stream" {
		t.TTLSeconds = ct.ttl
	}
	if err := e.createPhysical(t); err != nil {
		return Result{}, execErr("Execution error: %v", err)
	}
	e.cat.Tables[id] = t
	if err := e.saveCatalog(); err != nil {
		return Result{}, execErr("Execution error: %v", err)
	}
	return Result{Message: fmt.Sprintf("CREATE TABLE via Raft consensus: %s table %s created successfully", typ, id)}, nil
}

// createPhysical creates t's SQLite table, key index and change triggers.
func (e *Engine) createPhysical(t *tableInfo) error {
	defs := make([]string, 0, len(t.Columns)+4)
	for _, c := range t.Columns {
		defs = append(defs, quoteIdent(c.Name)+" "+c.Type.sqliteType())
	}
	defs = append(defs, "_seq INTEGER NOT NULL", "_deleted INTEGER NOT NULL DEFAULT 0",
		"_owner TEXT NOT NULL DEFAULT ''", "_ts INTEGER NOT NULL DEFAULT 0")
	if err := e.conn.Exec(fmt.Sprintf("CREATE TABLE %s (%s)", quoteIdent(t.phys()), strings.Join(defs, ", "))); err != nil {
		return fmt.Errorf("create table %s: %w", t.id(), err)
	}
	if pk := t.pk(); pk >= 0 && t.Type != "stream" {
		if err := e.conn.Exec(fmt.Sprintf("CREATE UNIQUE INDEX %s ON %s (_owner, %s)", quoteIdent(t.phys()+"$pk"), quoteIdent(t.phys()), quoteIdent(t.Columns[pk].Name))); err != nil {
			return fmt.Errorf("create key index of %s: %w", t.id(), err)
		}
	}
	// Incremental reads filter on _seq (WHERE _seq > X, from_seq_id).
	if err := e.conn.Exec(fmt.Sprintf("CREATE INDEX %s ON %s (_seq)", quoteIdent(t.phys()+"$seq"), quoteIdent(t.phys()))); err != nil {
		return fmt.Errorf("create _seq index of %s: %w", t.id(), err)
	}
	return e.createTriggers(t)
}

func (e *Engine) dropTable(t *tableInfo) error {
	if err := e.conn.Exec("DROP TABLE IF EXISTS " + quoteIdent(t.phys())); err != nil {
		return fmt.Errorf("drop table %s: %w", t.id(), err)
	}
	if err := e.exec(`DELETE FROM _kv_files WHERE path LIKE ?`, t.Namespace+"/"+t.Name+"/%"); err != nil {
		return fmt.Errorf("drop files of %s: %w", t.id(), err)
	}
	delete(e.cat.Tables, t.id())
	return nil
}

func (e *Engine) execDropTable(st *stmt, s *session) (Result, *stmtErr) {
	c := &tokCursor{t: st.sig}
	c.accept("DROP")
	switch c.peek().upper() {
	case "USER", "SHARED", "STREAM":
		c.next()
	}
	c.accept("TABLE")
	ifExists := c.accept("IF", "EXISTS")
	ns, name, ok := c.qualifiedName()
	c.accept("CASCADE")
	if !ok || !c.done() {
		return Result{}, invalidSQL("Invalid DROP TABLE statement. Expected: DROP TABLE [IF EXISTS] [namespace.]table")
	}
	if ns == "" {
		ns = s.ns
	}
	id := ns + "." + name
	if !s.role.IsAdmin() {
		return Result{}, permErr("Unauthorized: Insufficient privileges to drop this table")
	}
	t := e.cat.Tables[id]
	if t == nil {
		if ifExists {
			return Result{Message: fmt.Sprintf("Table %s does not exist (skipped)", id)}, nil
		}
		return Result{}, execErr("Not found: Table '%s' not found in namespace '%s'", name, ns)
	}
	if err := e.dropTable(t); err != nil {
		return Result{}, execErr("Execution error: %v", err)
	}
	if err := e.saveCatalog(); err != nil {
		return Result{}, execErr("Execution error: %v", err)
	}
	// The real job id is "CL-" and 12 hex digits (kalamdb-handlers ddl/table/drop.rs).
	return Result{Message: fmt.Sprintf("Table %s dropped successfully. Cleanup job: CL-%012x", id, e.nextSeq()&0xffffffffffff)}, nil
}

// execAlterTable supports SET ACCESS LEVEL, ADD COLUMN and DROP COLUMN.
func (e *Engine) execAlterTable(st *stmt, s *session) (Result, *stmtErr) {
	c := &tokCursor{t: st.sig}
	c.accept("ALTER")
	switch c.peek().upper() {
	case "USER", "SHARED", "STREAM":
		c.next()
	}
	c.accept("TABLE")
	ns, name, ok := c.qualifiedName()
	if !ok {
		return Result{}, invalidSQL("Invalid ALTER TABLE statement: expected a table name")
	}
	if ns == "" {
		ns = s.ns
	}
	t := e.cat.Tables[ns+"."+name]
	if t == nil {
		return Result{}, execErr("Not found: Table '%s.%s' not found", ns, name)
	}
	allowed := s.role.IsAdmin() || t.Type != "shared" || s.role == RoleService
	if !allowed {
		return Result{}, permErr("Unauthorized: Insufficient privileges to alter table %s", t.id())
	}
	change := ""
	switch {
	case c.accept("SET", "ACCESS", "LEVEL"):
		lvl := strings.ToLower(c.next().text)
		if t.Type != "shared" {
			return Result{}, execErr("Invalid operation: ACCESS LEVEL can only be set on SHARED tables")
		}
		if lvl != "public" && lvl != "private" && lvl != "restricted" && lvl != "dba" {
			return Result{}, invalidSQL("Invalid ACCESS_LEVEL '%s'. Supported: PUBLIC, PRIVATE, RESTRICTED, DBA", lvl)
		}
		t.Access = lvl
	case c.accept("ADD"):
		c.accept("COLUMN")
		col, isPK, err := parseColumnDef(c)
		if err != nil {
			return Result{}, invalidSQL("Invalid ALTER TABLE statement: %v", err)
		}
		if isPK {
			return Result{}, execErr("Invalid operation: Cannot add a PRIMARY KEY column")
		}
		if t.col(col.Name) >= 0 {
			return Result{}, execErr("Invalid operation: Column '%s' already exists", col.Name)
		}
		if err := e.rebuildPhysical(t, func() error {
			return e.conn.Exec(fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", quoteIdent(t.phys()), quoteIdent(col.Name), col.Type.sqliteType()))
		}, func() { t.Columns = append(t.Columns, col) }); err != nil {
			return Result{}, execErr("Execution error: %v", err)
		}
		change = fmt.Sprintf("ADD COLUMN %s %s", col.Name, col.Type.sqlName())
	case c.accept("DROP"):
		c.accept("COLUMN")
		n, _ := c.next().ident()
		n = strings.ToLower(n)
		i := t.col(n)
		if i < 0 {
			return Result{}, execErr("Invalid operation: Column '%s' does not exist", n)
		}
		if t.Columns[i].PK {
			return Result{}, execErr("Invalid operation: Cannot drop primary key column '%s'", n)
		}
		if err := e.rebuildPhysical(t, func() error {
			return e.conn.Exec(fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", quoteIdent(t.phys()), quoteIdent(n)))
		}, func() { t.Columns = append(t.Columns[:i:i], t.Columns[i+1:]...) }); err != nil {
			return Result{}, execErr("Execution error: %v", err)
		}
		change = "DROP COLUMN " + n
	default:
		return Result{}, notImplementedErr("ALTER TABLE " + strings.ToUpper(c.peek().text))
	}
	if err := e.saveCatalog(); err != nil {
		return Result{}, execErr("Execution error: %v", err)
	}
	if change == "" {
		return Result{Message: fmt.Sprintf("Table %s altered successfully", t.id())}, nil
	}
	t.Version++
	if err := e.saveCatalog(); err != nil {
		return Result{}, execErr("Execution error: %v", err)
	}
	// alter.rs (kalamdb-handlers ddl/table) reports the change and the new schema version.
	return Result{Message: fmt.Sprintf("Table %s altered successfully: %s (version %d)", t.id(), change, t.Version+1)}, nil
}

// rebuildPhysical alters t's SQLite table with its triggers dropped, since
// they name every column.
func (e *Engine) rebuildPhysical(t *tableInfo, alter func() error, update func()) error {
	for _, k := range []string{"$i", "$u", "$d"} {
		if err := e.conn.Exec("DROP TRIGGER IF EXISTS " + quoteIdent(t.phys()+k)); err != nil {
			return err
		}
	}
	if err := alter(); err != nil {
		return err
	}
	update()
	return e.createTriggers(t)
}

// roleAliases maps CREATE/ALTER USER role words (sql-model §8).
var roleAliases = map[string]Role{
	"dba": RoleDBA, "admin": RoleDBA, "service": RoleService, "developer": RoleService, "analyst": RoleService,
	"user": RoleUser, "viewer": RoleUser, "readonly": RoleUser, "system": RoleSystem,
}

// nameToken reads a user name, bare or quoted; user ids keep their case
// (UserId is not lowercased, unlike namespace and table names).
func nameToken(t token) (string, bool) {
	switch t.kind {
	case tkString:
		return t.stringValue(), t.stringValue() != ""
	case tkWord:
		return t.text, true
	case tkQIdent:
		return t.ident()
	}
	return "", false
}

func (e *Engine) execUserDDL(st *stmt, s *session) (Result, *stmtErr) {
	c := &tokCursor{t: st.sig}
	verb := c.next().upper()
	c.accept("USER")
	now := e.opts.Now().UnixMilli()
	switch verb {
	case "CREATE":
		name, ok := nameToken(c.next())
		if !ok || !c.accept("WITH") {
			return Result{}, invalidSQL("Invalid CREATE USER statement. Expected: CREATE USER <name> WITH PASSWORD '<password>' ROLE <role> [EMAIL '<email>']")
		}
		u := &userInfo{ID: name, Role: RoleUser, AuthType: "Password", CreatedAt: now, UpdatedAt: now}
		switch c.next().upper() {
		case "PASSWORD":
			pw := c.next()
			if pw.kind != tkString {
				return Result{}, invalidSQL("Invalid CREATE USER statement: PASSWORD must be a quoted string")
			}
			u.setPassword(pw.stringValue())
		case "OAUTH":
			u.AuthType = "OAuth"
			if c.peek().kind == tkString {
				c.next()
			}
		case "INTERNAL":
			u.AuthType = "Internal"
		default:
			return Result{}, invalidSQL("Invalid CREATE USER statement: expected PASSWORD, OAUTH or INTERNAL")
		}
		for !c.done() {
			switch {
			case c.accept("ROLE"):
				r, ok := roleAliases[strings.ToLower(strings.Trim(c.next().text, `'"`))]
				if !ok {
					return Result{}, invalidSQL("Invalid role. Supported: user, service, dba, system")
				}
				u.Role = r
			case c.accept("EMAIL"):
				em := c.next()
				if em.kind != tkString {
					return Result{}, invalidSQL("Invalid CREATE USER statement: EMAIL must be a quoted string")
				}
				v := em.stringValue()
				u.Email = &v
			default:
				return Result{}, invalidSQL("Invalid CREATE USER statement: unexpected %s", c.peek().text)
			}
		}
		if s.role == RoleDBA && u.Role == RoleSystem {
			return Result{}, permErr("Unauthorized: DBA cannot grant System role")
		}
		if _, exists := e.cat.Users[name]; exists {
			return Result{}, execErr("Already exists: User '%s' already exists", name)
		}
		if err := validateUserID(name); err != nil {
			return Result{}, execErr("Invalid operation: %v", err)
		}
		e.cat.Users[name] = u
		if err := e.saveCatalog(); err != nil {
			return Result{}, execErr("Execution error: %v", err)
		}
		return Result{Message: fmt.Sprintf("User '%s' created", name)}, nil
	case "ALTER":
		name, ok := nameToken(c.next())
		if !ok || !c.accept("SET") {
			return Result{}, invalidSQL("Invalid ALTER USER statement. Expected: ALTER USER <name> SET PASSWORD|ROLE|EMAIL ...")
		}
		if !s.role.IsAdmin() {
			return Result{}, permErr("Unauthorized: ALTER USER requires DBA or System role")
		}
		u := e.cat.Users[name]
		if u == nil || u.DeletedAt != nil {
			return Result{}, execErr("Not found: User '%s' not found", name)
		}
		what := c.next().upper()
		val := c.next()
		switch what {
		case "PASSWORD":
			if val.kind != tkString {
				return Result{}, invalidSQL("Invalid ALTER USER statement: PASSWORD must be a quoted string")
			}
			u.setPassword(val.stringValue())
		case "ROLE":
			r, ok := roleAliases[strings.ToLower(strings.Trim(val.text, `'"`))]
			if !ok {
				return Result{}, invalidSQL("Invalid role. Supported: user, service, dba, system")
			}
			if s.role == RoleDBA && r == RoleSystem {
				return Result{}, permErr("Unauthorized: DBA cannot grant System role")
			}
			u.Role = r
		case "EMAIL":
			if val.kind != tkString {
				return Result{}, invalidSQL("Invalid ALTER USER statement: EMAIL must be a quoted string")
			}
			v := val.stringValue()
			u.Email = &v
		default:
			return Result{}, invalidSQL("Invalid ALTER USER statement: expected SET PASSWORD, SET ROLE or SET EMAIL")
		}
		u.UpdatedAt = now
		if err := e.saveCatalog(); err != nil {
			return Result{}, execErr("Execution error: %v", err)
		}
		return Result{Message: fmt.Sprintf("User '%s' updated", name)}, nil
	default: // DROP
		ifExists := c.accept("IF", "EXISTS")
		name, ok := nameToken(c.next())
		if !ok || !c.done() {
			return Result{}, invalidSQL("Invalid DROP USER statement. Expected: DROP USER [IF EXISTS] <name>")
		}
		u := e.cat.Users[name]
		if u == nil || u.DeletedAt != nil {
			if ifExists {
				return Result{Message: fmt.Sprintf("User '%s' does not exist (skipped)", name)}, nil
			}
			return Result{}, execErr("Not found: User '%s' not found", name)
		}
		if name == "root" {
			return Result{}, execErr("Invalid operation: Cannot drop the root user")
		}
		u.DeletedAt = &now
		u.UpdatedAt = now
		if err := e.saveCatalog(); err != nil {
			return Result{}, execErr("Execution error: %v", err)
		}
		return Result{Message: fmt.Sprintf("User '%s' dropped (soft delete)", name)}, nil
	}
}

// topic DDL (sql-model §7)
func (e *Engine) execTopicDDL(st *stmt, s *session) (Result, *stmtErr) {
	c := &tokCursor{t: st.sig}
	verb := c.next().upper()
	c.accept("TOPIC")
	ifExists := verb == "DROP" && c.accept("IF", "EXISTS")
	ns, name, ok := c.qualifiedName()
	if !ok {
		return Result{}, invalidSQL("Invalid %s TOPIC statement: expected a topic name", verb)
	}
	id := name
	if ns != "" {
		id = ns + "." + name
	}
	now := e.opts.Now().UnixMilli()
	save := func(msg string) (Result, *stmtErr) {
		if err := e.saveCatalog(); err != nil {
			return Result{}, execErr("Execution error: %v", err)
		}
		return Result{Message: msg}, nil
	}
	switch verb {
	case "CREATE":
		if ns == "" {
			return Result{}, execErr("Invalid operation: Topic name must be namespace-qualified: <namespace>.<topic>")
		}
		parts := 1
		if c.accept("PARTITIONS") {
			n, err := strconv.Atoi(c.next().text)
			if err != nil || n < 1 {
				return Result{}, invalidSQL("Invalid PARTITIONS value: must be a positive integer")
			}
			parts = n
		}
		if !c.done() {
			return Result{}, invalidSQL("Invalid CREATE TOPIC statement: unexpected %s", c.peek().text)
		}
		if _, ok := e.cat.Namespaces[ns]; !ok {
			return Result{}, execErr("Not found: Namespace '%s' does not exist", ns)
		}
		if _, exists := e.cat.Topics[id]; exists {
			return Result{}, execErr("Already exists: Topic '%s' already exists", id)
		}
		e.cat.Topics[id] = &topicInfo{ID: id, Partitions: parts, Routes: []topicRoute{}, CreatedAt: now, UpdatedAt: now}
		return save(fmt.Sprintf("Created topic '%s' with %d partition(s)", id, parts))
	}
	tp := e.cat.Topics[id]
	if tp == nil {
		if ifExists {
			return Result{Message: fmt.Sprintf("Topic '%s' does not exist", id)}, nil
		}
		return Result{}, execErr("Not found: Topic '%s' does not exist", id)
	}
	switch verb {
	case "ALTER":
		if !c.accept("ADD", "SOURCE") {
			return Result{}, invalidSQL("Invalid ALTER TOPIC statement. Expected: ALTER TOPIC <topic> ADD SOURCE <table> ON INSERT|UPDATE|DELETE")
		}
		tns, tname, ok := c.qualifiedName()
		if !ok || !c.accept("ON") {
			return Result{}, invalidSQL("Invalid ALTER TOPIC statement. Expected: ALTER TOPIC <topic> ADD SOURCE <table> ON INSERT|UPDATE|DELETE")
		}
		if tns == "" {
			tns = "default" // sql-model §1: unqualified ADD SOURCE means default
		}
		op := map[string]string{"INSERT": "Insert", "UPDATE": "Update", "DELETE": "Delete"}[c.next().upper()]
		if op == "" {
			return Result{}, invalidSQL("Invalid ALTER TOPIC statement: operation must be INSERT, UPDATE or DELETE")
		}
		route := topicRoute{Table: tns + "." + tname, Op: op, Payload: "full"}
		if c.accept("WHERE") {
			start := c.i
			for !c.done() && c.peek().upper() != "WITH" {
				c.next()
			}
			route.Filter = join(spaced(c.t[start:c.i]))
		}
		if c.accept("WITH") {
			c.accept("(")
			for !c.done() && !c.accept(")") {
				k := strings.ToLower(c.next().text)
				c.accept("=")
				v := c.next()
				val := strings.ToLower(strings.Trim(v.text, `'"`))
				if k == "payload" {
					if val != "key" && val != "full" && val != "diff" {
						return Result{}, invalidSQL("Invalid payload mode '%s'. Supported: key, full, diff", val)
					}
					route.Payload = val
				}
				c.accept(",")
			}
		}
		for _, r := range tp.Routes {
			if r.Table == route.Table && r.Op == route.Op {
				return Result{}, execErr("Already exists: Route for %s ON %s already exists in topic '%s'", route.Table, op, id)
			}
		}
		tp.Routes = append(tp.Routes, route)
		tp.UpdatedAt = now
		return save(fmt.Sprintf("Added source %s ON %s to topic '%s'", route.Table, op, id))
	case "DROP":
		delete(e.cat.Topics, id)
		for k := range e.claims {
			if k.topic == id {
				delete(e.claims, k)
			}
		}
		if err := e.clearTopic(id, true); err != nil {
			return Result{}, execErr("Execution error: %v", err)
		}
		return save(fmt.Sprintf("Dropped topic '%s' and scheduled cleanup job [%s]", id, topicCleanupJobID()))
	default: // CLEAR
		if err := e.clearTopic(id, false); err != nil {
			return Result{}, execErr("Execution error: %v", err)
		}
		return save(fmt.Sprintf("Scheduled cleanup job [%s] for topic '%s'", topicCleanupJobID(), id))
	}
}

// topicCleanupJobID is a TopicCleanup job id: "TC-" and 12 hex digits of a
// random UUID (kalamdb-jobs/src/jobs_manager/utils.rs generate_job_id).
func topicCleanupJobID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "TC-" + hex.EncodeToString(b[:])
}

func (e *Engine) clearTopic(id string, offsets bool) error {
	if err := e.exec(`DELETE FROM _kv_msgs WHERE topic = ?`, id); err != nil {
		return err
	}
	if offsets {
		return e.exec(`DELETE FROM _kv_offsets WHERE topic = ?`, id)
	}
	return nil
}

// spaced puts single spaces between tokens (for stored expression text).
func spaced(toks []token) []token {
	out := make([]token, 0, 2*len(toks))
	for i, t := range toks {
		if i > 0 {
			out = append(out, token{kind: tkSpace, text: " "})
		}
		out = append(out, t)
	}
	return out
}

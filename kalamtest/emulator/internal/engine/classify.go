package engine

import (
	"fmt"
	"strings"
)

const (
	adminNamespace = "Admin privileges (DBA or System role) required for namespace operations"
	adminStorage   = "Admin privileges (DBA or System role) required for storage operations"
	adminTopics    = "Admin privileges (DBA or System role) required for topic management"
	adminUsers     = "Admin privileges (DBA or System role) required for user management"
)

// classify unwraps EXECUTE AS USER and classifies a statement with the
// caller's role before anything runs (sql-model §5.1, classifier core.rs):
// INVALID_SQL for what cannot be classified, PERMISSION_DENIED (no
// statement prefix) for role gates.
func classify(sql string, role Role) (*stmt, *stmtErr) {
	invalid := func(format string, args ...any) *stmtErr {
		return &stmtErr{code: "INVALID_SQL", status: 400, msg: fmt.Sprintf(format, args...), sensitive: true, bare: true}
	}
	denied := func(msg string) *stmtErr {
		return &stmtErr{code: "PERMISSION_DENIED", status: 403, msg: msg, bare: true}
	}
	toks, err := lex(sql)
	if err != nil {
		return nil, invalid("%v", err)
	}
	st := &stmt{sql: sql, full: sql, toks: toks, sig: significant(toks)}
	if len(st.sig) >= 3 && st.sig[0].upper() == "EXECUTE" && st.sig[1].upper() == "AS" && st.sig[2].upper() == "USER" {
		inner, target, ok := unwrapExecuteAs(toks)
		if !ok {
			return nil, invalid("Invalid EXECUTE AS USER syntax. Expected: EXECUTE AS USER 'name' (<single statement>)")
		}
		if pieces, err := splitStatements(inner); err != nil || len(pieces) != 1 {
			return nil, invalid("EXECUTE AS USER must wrap exactly one SQL statement")
		}
		inner = strings.Trim(inner, asciiSpace)
		st2, se := classify(inner, role)
		if se != nil {
			return nil, se
		}
		if st2.asUser != "" {
			return nil, invalid("Nested EXECUTE AS USER is not supported")
		}
		st2.asUser, st2.full = target, sql
		return st2, nil
	}
	admin := role.IsAdmin()
	w := func(i int) string {
		if i < len(st.sig) {
			return st.sig[i].upper()
		}
		return ""
	}
	w0, w1, w2 := w(0), w(1), w(2)
	gate := func(msg string, k stmtKind, feature string) (*stmt, *stmtErr) {
		if !admin {
			return nil, denied(msg)
		}
		st.kind, st.feature = k, feature
		return st, nil
	}
	set := func(k stmtKind, feature string) (*stmt, *stmtErr) {
		st.kind, st.feature = k, feature
		return st, nil
	}
	switch w0 {
	case "SELECT", "WITH", "VALUES":
		return set(kSelect, "SELECT")
	case "INSERT":
		return set(kInsert, "INSERT")
	case "UPDATE":
		return set(kUpdate, "UPDATE")
	case "DELETE":
		return set(kDelete, "DELETE")
	case "BEGIN":
		return set(kBegin, "BEGIN")
	case "COMMIT":
		return set(kCommit, "COMMIT")
	case "ROLLBACK":
		return set(kRollback, "ROLLBACK")
	case "START":
		if w1 == "TRANSACTION" {
			return set(kBegin, "BEGIN")
		}
	case "USE":
		return set(kUse, "USE")
	case "CONSUME":
		return set(kConsume, "CONSUME")
	case "ACK":
		return set(kAck, "ACK")
	case "SUBSCRIBE":
		if w1 == "TO" {
			return set(kSubscribe, "SUBSCRIBE TO")
		}
	case "EXPLAIN":
		return gate("Admin privileges (DBA or System role) required for EXPLAIN commands", kNotImplemented, "EXPLAIN")
	case "BACKUP":
		return gate("Admin privileges (DBA or System role) required for backup operations", kNotImplemented, "BACKUP DATABASE")
	case "RESTORE":
		return gate("Admin privileges (DBA or System role) required for restore operations", kNotImplemented, "RESTORE DATABASE")
	case "EXPORT":
		return set(kNotImplemented, "EXPORT USER DATA")
	case "CLUSTER":
		if w1 == "LIST" || w1 == "STATUS" || w1 == "LS" {
			return set(kNotImplemented, "CLUSTER "+w1)
		}
		return gate("Admin privileges (DBA or System role) required for cluster operations", kNotImplemented, "CLUSTER "+w1)
	case "KILL":
		if w1 == "JOB" {
			return gate("Admin privileges (DBA or System role) required for job management", kNotImplemented, "KILL JOB")
		}
		if w1 == "LIVE" {
			return set(kNotImplemented, "KILL LIVE QUERY")
		}
	case "STORAGE":
		switch w1 {
		case "FLUSH":
			return set(kFlush, "STORAGE FLUSH")
		case "COMPACT":
			return set(kNotImplemented, "STORAGE COMPACT")
		case "CHECK":
			return gate(adminStorage, kNotImplemented, "STORAGE CHECK")
		}
	case "SET":
		if w1 == "NAMESPACE" {
			return set(kUse, "USE")
		}
		return gate("Admin privileges (DBA or System role) required for SET commands", kNotImplemented, "SET")
	case "DESCRIBE", "DESC":
		if w1 == "TABLE" {
			return set(kDescribe, "DESCRIBE TABLE")
		}
		return gate("Admin privileges (DBA or System role) required for "+w0, kNotImplemented, w0)
	case "SHOW":
		switch w1 {
		case "NAMESPACES":
			return set(kShowNamespaces, "SHOW NAMESPACES")
		case "TABLES":
			return set(kShowTables, "SHOW TABLES")
		case "STORAGES", "STATS", "MANIFEST", "EXPORT":
			return set(kNotImplemented, "SHOW "+w1)
		case "COLUMNS":
			return gate("Admin privileges (DBA or System role) required for SHOW COLUMNS", kNotImplemented, "SHOW COLUMNS")
		case "ALL":
			return gate("Admin privileges (DBA or System role) required for SHOW ALL", kNotImplemented, "SHOW ALL")
		}
	case "CLEAR":
		if w1 == "TOPIC" {
			return gate(adminTopics, kClearTopic, "CLEAR TOPIC")
		}
	case "CREATE", "ALTER", "DROP":
		obj := w1
		if obj == "USER" || obj == "SHARED" || obj == "STREAM" {
			if w2 == "TABLE" {
				obj = "TABLE"
			}
		}
		if obj == "OR" || obj == "MATERIALIZED" || obj == "TEMP" || obj == "TEMPORARY" {
			obj = "VIEW"
		}
		switch obj {
		case "NAMESPACE":
			kind := map[string]stmtKind{"CREATE": kCreateNamespace, "DROP": kDropNamespace, "ALTER": kNotImplemented}[w0]
			return gate(adminNamespace, kind, w0+" NAMESPACE")
		case "STORAGE":
			return gate(adminStorage, kNotImplemented, w0+" STORAGE")
		case "TOPIC":
			kind := map[string]stmtKind{"CREATE": kCreateTopic, "DROP": kDropTopic, "ALTER": kAlterTopic}[w0]
			return gate(adminTopics, kind, w0+" TOPIC")
		case "TABLE":
			kind := map[string]stmtKind{"CREATE": kCreateTable, "DROP": kDropTable, "ALTER": kAlterTable}[w0]
			if kind == kCreateTable {
				// The classifier parses CREATE TABLE: errors stop the whole batch.
				if _, err := parseCreateTable(st.sig); err != nil {
					return nil, invalid("Invalid CREATE TABLE statement: %v", err)
				}
			}
			return set(kind, w0+" TABLE")
		case "USER":
			switch w0 {
			case "CREATE":
				return gate(adminUsers, kCreateUser, "CREATE USER")
			case "DROP":
				return gate(adminUsers, kDropUser, "DROP USER")
			}
			return set(kAlterUser, "ALTER USER")
		case "VIEW":
			if w0 == "CREATE" {
				return set(kNotImplemented, "CREATE VIEW")
			}
		case "INDEX", "VECTOR", "UNIQUE":
			return set(kNotImplemented, w0+" INDEX")
		}
	}
	if known[w0] {
		return nil, invalid("Unsupported statement type: %s", sql)
	}
	found := ""
	if len(st.sig) > 0 {
		found = st.sig[0].text
	}
	return nil, invalid("sql parser error: Expected: an SQL statement, found: %s at Line: 1, Column: 1", found)
}

// known are statements the PostgreSQL parser accepts but KalamDB refuses.
var known = map[string]bool{
	"GRANT": true, "REVOKE": true, "TRUNCATE": true, "MERGE": true, "CALL": true, "COPY": true,
	"VACUUM": true, "ANALYZE": true, "PREPARE": true, "EXECUTE": true, "DEALLOCATE": true,
	"DECLARE": true, "FETCH": true, "CLOSE": true, "LISTEN": true, "NOTIFY": true, "COMMENT": true,
	"CREATE": true, "ALTER": true, "DROP": true, "SHOW": true, "SAVEPOINT": true, "RELEASE": true,
	"REPLACE": true, "DISCARD": true, "LOCK": true, "UNLISTEN": true, "RESET": true,
}

// unwrapExecuteAs parses EXECUTE AS USER name ( inner ).
func unwrapExecuteAs(toks []token) (inner, target string, ok bool) {
	var sigPos []int
	for i, t := range toks {
		if t.kind != tkSpace && t.kind != tkComment {
			sigPos = append(sigPos, i)
		}
	}
	if len(sigPos) < 6 {
		return "", "", false
	}
	nameTok := toks[sigPos[3]]
	switch nameTok.kind {
	case tkString:
		// The server trims a quoted name (execute_as.rs parse_execute_as).
		target = strings.TrimSpace(nameTok.stringValue())
	case tkWord, tkQIdent:
		// A bare name is taken as written, up to white space or '(':
		// its case, and double quotes if any, are kept.
		target = nameTok.text
	default:
		return "", "", false
	}
	open, last := sigPos[4], sigPos[len(sigPos)-1]
	if toks[open].text != "(" || toks[last].text != ")" {
		return "", "", false
	}
	depth := 0
	for _, p := range sigPos[4:] {
		switch toks[p].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 && p != last {
				return "", "", false
			}
		}
	}
	return join(toks[open+1 : last]), target, target != ""
}

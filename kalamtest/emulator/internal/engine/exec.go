package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

type stmtKind int

const (
	kSelect stmtKind = iota
	kInsert
	kUpdate
	kDelete
	kCreateNamespace
	kDropNamespace
	kUse
	kShowNamespaces
	kShowTables
	kDescribe
	kCreateTable
	kDropTable
	kAlterTable
	kCreateUser
	kAlterUser
	kDropUser
	kCreateTopic
	kAlterTopic
	kDropTopic
	kClearTopic
	kConsume
	kAck
	kBegin
	kCommit
	kRollback
	kFlush
	kSubscribe
	kNotImplemented
)

// isDDL marks statements refused inside explicit transactions.
func (k stmtKind) isDDL() bool {
	switch k {
	case kCreateNamespace, kDropNamespace, kCreateTable, kDropTable, kAlterTable, kCreateUser, kAlterUser,
		kDropUser, kCreateTopic, kAlterTopic, kDropTopic, kClearTopic:
		return true
	}
	return false
}

// stmt is one classified statement of a request.
type stmt struct {
	sql     string  // the statement (inner SQL for EXECUTE AS)
	full    string  // the statement as sent (error details)
	toks    []token // all tokens of sql
	sig     []token // significant tokens
	kind    stmtKind
	feature string // statement name for "Not implemented"
	asUser  string // EXECUTE AS USER target, "" when none
}

// stmtErr is a statement failure before the "Statement k failed: " prefix.
type stmtErr struct {
	code      string
	status    int
	msg       string
	sensitive bool
	bare      bool // no "Statement k failed:" prefix
	noDetails bool // the error carries no "details"
}

// execErr is an execution failure. Its status, code and whether non-admins
// see it follow the server's classify_sql_error on the KalamDbError display
// prefix the message starts with (http-api §6.6).
func execErr(format string, args ...any) *stmtErr {
	msg := fmt.Sprintf(format, args...)
	e := &stmtErr{code: "SQL_EXECUTION_ERROR", status: 400, msg: msg}
	lower := strings.ToLower(msg)
	prefix, _, _ := strings.Cut(msg, ":")
	switch prefix {
	case "Already exists", "Invalid operation", "Constraint violation", "Not implemented", "Conflict",
		"Namespace not found", "Parameter count exceeded", "Parameter size exceeded", "Parameter count mismatch",
		"Parameter binding error", "System column violation":
	case "Table not found":
		e.sensitive = true
	case "Not found":
		e.sensitive = tableDiscovery(lower)
	case "Execution error":
		switch {
		case containsAny(lower, "access denied", "permission denied", "unauthorized", "not authorized", "forbidden", "insufficient privileges"):
			e.code, e.status = "PERMISSION_DENIED", 403
		case safeValidation(lower):
		default:
			e.sensitive = true
		}
	default:
		e.sensitive = !safeValidation(lower) || tableDiscovery(lower)
	}
	return e
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// tableDiscovery is is_table_discovery_error_message: such errors would
// reveal which tables exist.
func tableDiscovery(lower string) bool {
	return strings.Contains(lower, "table") && strings.Contains(lower, "not found") ||
		strings.Contains(lower, "relation") && strings.Contains(lower, "does not exist") ||
		strings.Contains(lower, "unknown table")
}

// safeValidation is is_safe_validation_error_message.
func safeValidation(lower string) bool {
	return containsAny(lower, "no field named", "primary key", "constraint violation", "already exists",
		"duplicate", "unique constraint", "unique index") ||
		strings.Contains(lower, "column") && strings.Contains(lower, "not found") ||
		strings.Contains(lower, "field") && strings.Contains(lower, "not found")
}

func permErr(format string, args ...any) *stmtErr {
	return &stmtErr{code: "PERMISSION_DENIED", status: 403, msg: fmt.Sprintf(format, args...)}
}

func notImplementedErr(feature string) *stmtErr {
	return execErr("Not implemented: %s - not supported by the emulator", feature)
}

func tableNotFound(ns, name string) *stmtErr {
	return execErr("Table not found: Error during planning: table 'kalam.%s.%s' not found", ns, name)
}

// session is who runs a statement and with what.
type session struct {
	authUser     string
	authRole     Role
	user         string // effective user (impersonation target)
	role         Role   // effective role (user when impersonating)
	impersonated bool
	ns           string
	params       []any
}

// Execute runs one SQL request (http-api §6).
func (e *Engine) Execute(req Request) ([]Result, *Error) {
	id := req.Identity
	admin := id.Role.IsAdmin()
	fail := func(code string, status int, msg string, sensitive bool) ([]Result, *Error) {
		return nil, &Error{Code: code, HTTPStatus: status, Message: msg, Sensitive: sensitive}
	}
	if len(req.SQL) > maxSQLBytes {
		return fail("INVALID_SQL", 400, fmt.Sprintf("SQL query too long: %d bytes (maximum %d bytes)", len(req.SQL), maxSQLBytes), false)
	}
	params := make([]any, len(req.Params))
	for i, p := range req.Params {
		v, err := paramValue(p)
		if err != nil {
			return fail("INVALID_PARAMETER", 400, fmt.Sprintf("Parameter $%d invalid: %v", i+1, err), false)
		}
		params[i] = v
	}
	placeholders := filePlaceholders(req.SQL)
	if req.Uploads == nil && len(placeholders) > 0 {
		return fail("INVALID_INPUT", 400, "FILE placeholders require multipart/form-data", false)
	}
	pieces, err := splitStatements(req.SQL)
	var open *unterminatedError
	if errors.As(err, &open) && open.quote == '\'' {
		// The real splitter lets an open string through; the statement
		// then fails in sqlparser's tokenizer (recorded: sql_errors
		// "unterminated string").
		k := 1
		if before, err := splitStatements(req.SQL[:open.start]); err == nil && len(before) > 0 {
			k = len(before)
		}
		return nil, &Error{Code: "SQL_EXECUTION_ERROR", HTTPStatus: 400, Sensitive: true, Details: detailsFor(admin, req.SQL),
			Message: fmt.Sprintf("Statement %d failed: Execution error: SQL error: %s", k, open.tokenizerText(req.SQL))}
	}
	if err != nil {
		return fail("BATCH_PARSE_ERROR", 400, "Failed to parse SQL batch: "+err.Error(), true)
	}
	if len(pieces) == 0 {
		return fail("EMPTY_SQL", 400, "No SQL statements provided", false)
	}
	stmts := make([]*stmt, len(pieces))
	for i, p := range pieces {
		st, serr := classify(p, id.Role)
		if serr != nil {
			return nil, &Error{Code: serr.code, HTTPStatus: serr.status, Message: serr.msg, Sensitive: serr.sensitive, Details: serr.details(admin, p)}
		}
		stmts[i] = st
	}
	if len(params) > 0 && len(stmts) > 1 {
		return fail("PARAMS_WITH_BATCH", 400, "Parameters not supported with multi-statement batches", false)
	}
	fileMode := req.Uploads != nil && (len(placeholders) > 0 || len(req.Uploads) > 0)
	if fileMode {
		if len(stmts) != 1 {
			return fail("INVALID_INPUT", 400, "File uploads require a single SQL statement", false)
		}
		if len(req.Uploads) > e.opts.MaxFilesPerRequest {
			return fail("TOO_MANY_FILES", 400, fmt.Sprintf("Too many files: %d (maximum %d)", len(req.Uploads), e.opts.MaxFilesPerRequest), false)
		}
	}
	ns := strings.ToLower(req.Namespace)
	if ns == "" {
		ns = "default"
	}
	base := session{authUser: id.UserID, authRole: id.Role, user: id.UserID, role: id.Role, ns: ns, params: params}

	results, isDML, fe := e.runLocked(stmts, base, req, fileMode)
	if fe != nil {
		return nil, fe
	}
	if len(stmts) == 1 {
		if len(results) == 1 && results[0].ReturnsRows {
			results[0].Streamed = true
		}
		return results, nil
	}
	// Batches move DML results into summaries at the end (§6.3).
	var out []Result
	var sums [3]int
	for i, r := range results {
		if isDML[i] >= 0 {
			sums[isDML[i]] += r.RowCount
			continue
		}
		out = append(out, r)
	}
	for i, verb := range []string{"Inserted", "Updated", "Deleted"} {
		if sums[i] > 0 {
			out = append(out, Result{RowCount: sums[i], Message: fmt.Sprintf("%s %d row(s)", verb, sums[i]), AsUser: id.UserID})
		}
	}
	if out == nil {
		out = []Result{}
	}
	return out, nil
}

// details is the statement shown to admins, except for a bare INVALID_SQL
// (parser / classifier rejections), which the real server sends without
// details (recorded: sql_errors "syntax error", "unsupported statement").
func (se *stmtErr) details(admin bool, sql string) string {
	if se.noDetails || se.bare && se.code != "SQL_EXECUTION_ERROR" {
		return ""
	}
	return detailsFor(admin, sql)
}

func detailsFor(admin bool, sql string) string {
	if admin {
		return sql
	}
	return ""
}

// paramValue types a JSON parameter as the server does (http-api §6.2).
func paramValue(p any) (any, error) {
	switch x := p.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, fmt.Errorf("Unsupported number format: %s", x)
		}
		return f, nil
	case float64:
		return x, nil
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case []any:
		return nil, fmt.Errorf("Array parameters not yet supported")
	case map[string]any:
		return nil, fmt.Errorf("Object parameters not yet supported")
	}
	return nil, fmt.Errorf("unsupported parameter type %T", p)
}

// runLocked runs the batch under e.mu; a bug surfacing as a panic rolls the
// request back and becomes an INTERNAL_ERROR instead of killing the caller.
func (e *Engine) runLocked(stmts []*stmt, base session, req Request, fileMode bool) (res []Result, isDML []int, fe *Error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			e.abortTx()
			res, isDML = nil, nil
			fe = &Error{Code: "INTERNAL_ERROR", HTTPStatus: 500, Message: fmt.Sprintf("SQL request failed: internal error: %v", p), Sensitive: true}
		}
	}()
	return e.runBatch(stmts, base, req, fileMode)
}

// runBatch executes statements in order under e.mu. isDML[i] is 0/1/2 for
// insert/update/delete results, -1 otherwise.
func (e *Engine) runBatch(stmts []*stmt, base session, req Request, fileMode bool) ([]Result, []int, *Error) {
	if e.closed {
		return nil, nil, &Error{Code: "INTERNAL_ERROR", HTTPStatus: 500, Message: "engine is closed", Sensitive: true}
	}
	if e.catErr != nil {
		return nil, nil, &Error{Code: "INTERNAL_ERROR", HTTPStatus: 500, Message: "engine unusable after a failed rollback: " + e.catErr.Error(), Sensitive: true}
	}
	admin := base.authRole.IsAdmin()
	results := make([]Result, 0, len(stmts))
	isDML := make([]int, 0, len(stmts))
	wrap := func(i int, st *stmt, se *stmtErr) *Error {
		msg := se.msg
		if !se.bare {
			msg = fmt.Sprintf("Statement %d failed: %s", i+1, se.msg)
		}
		return &Error{Code: se.code, HTTPStatus: se.status, Message: msg, Sensitive: se.sensitive, Details: se.details(admin, st.full)}
	}
	for i, st := range stmts {
		s := base
		e.cur.user, e.cur.role = s.user, s.role
		if st.asUser != "" {
			if se := e.impersonate(&s, st.asUser); se != nil {
				e.abortTx()
				return nil, nil, wrap(i, st, se)
			}
			e.cur.user, e.cur.role = s.user, s.role
		}
		if i == 0 {
			if se := checkParamLimits(s.params); se != nil {
				return nil, nil, wrap(i, st, se)
			}
		}
		inTx := e.txID != ""
		var res Result
		var se *stmtErr
		switch st.kind {
		case kBegin:
			if inTx {
				se = execErr("Invalid operation: Transaction '%s' is already active", e.txID)
				break
			}
			if err := e.conn.Exec("BEGIN"); err != nil {
				se = execErr("Execution error: begin transaction: %v", err)
				break
			}
			e.txCount++
			e.txID = e.uuidV7() // request_transaction_state.rs: a UUIDv7 transaction id
			res = Result{Message: fmt.Sprintf("Transaction started (%s)", e.txID)}
		case kCommit:
			if !inTx {
				se = execErr("Invalid operation: COMMIT requires an active explicit SQL transaction")
				break
			}
			id := e.txID
			if err := e.commit(); err != nil {
				se = execErr("Execution error: commit: %v", err)
				break
			}
			res = Result{Message: fmt.Sprintf("Transaction committed (%s)", id)}
		case kRollback:
			if !inTx {
				se = execErr("Invalid operation: ROLLBACK requires an active explicit SQL transaction")
				break
			}
			id := e.txID
			e.abortTx()
			res = Result{Message: fmt.Sprintf("Transaction rolled back (%s)", id)}
		default:
			if inTx && st.kind.isDDL() {
				se = execErr("Invalid operation: DDL is not allowed inside explicit transaction '%s'", e.txID)
				break
			}
			if !inTx {
				if err := e.conn.Exec("BEGIN"); err != nil {
					se = execErr("Execution error: begin: %v", err)
					break
				}
			}
			if st.kind.isDDL() || fileMode {
				e.catDirty = true // a failure must restore the catalog
			}
			if fileMode {
				se = e.stageFiles(st, &s, req.Uploads)
			}
			if se == nil {
				res, se = e.run(st, &s, inTx)
			}
			if se == nil && !inTx {
				if err := e.commit(); err != nil {
					se = execErr("Execution error: commit: %v", err)
				}
			}
		}
		if se != nil {
			e.abortTx()
			return nil, nil, wrap(i, st, se)
		}
		if res.AsUser == "" {
			res.AsUser = s.user
		}
		if st.kind == kUse {
			base.ns = s.ns // USE affects the rest of the batch (sql-model §1)
		}
		results = append(results, res)
		switch st.kind {
		case kInsert:
			isDML = append(isDML, 0)
		case kUpdate:
			isDML = append(isDML, 1)
		case kDelete:
			isDML = append(isDML, 2)
		default:
			isDML = append(isDML, -1)
		}
	}
	if e.txID != "" {
		e.abortTx()
		// Reported through error_for_privilege: redacted for non-admins.
		return nil, nil, &Error{Code: "SQL_EXECUTION_ERROR", HTTPStatus: 400, Sensitive: true,
			Message: "Request completed with an open explicit transaction; rolled back automatically"}
	}
	return results, isDML, nil
}

func checkParamLimits(params []any) *stmtErr {
	if len(params) > maxParams {
		return execErr("Parameter count exceeded: maximum %d parameters allowed, got %d", maxParams, len(params))
	}
	for i, p := range params {
		if s, ok := p.(string); ok && len(s) > maxParamBytes {
			return execErr("Parameter size exceeded: parameter at index %d is %d bytes (max %d bytes)", i, len(s), maxParamBytes)
		}
	}
	return nil
}

// abortTx rolls back whatever SQLite transaction is open and forgets its
// captured changes, so nothing of it is ever delivered.
func (e *Engine) abortTx() {
	e.captured = nil
	e.txID = ""
	if !e.conn.GetAutocommit() {
		if err := e.conn.Exec("ROLLBACK"); err != nil {
			// Later requests must not run inside the half-aborted transaction.
			e.catErr = fmt.Errorf("rollback failed: %w", err)
			return
		}
	}
	if e.catDirty {
		e.catDirty = false
		// The stored catalog is what committed: DDL of the failed unit vanishes.
		e.catErr = e.reloadCatalog()
	}
}

// reloadCatalog re-reads the committed catalog after a rollback so DDL
// effects of a failed unit vanish from memory too.
func (e *Engine) reloadCatalog() error {
	rows, err := e.queryRows(`SELECT v FROM _kv_meta WHERE k = 'catalog'`)
	if err != nil {
		return fmt.Errorf("reload catalog: %w", err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("reload catalog: no stored catalog")
	}
	s, _ := rows[0][0].(string)
	c := newCatalog()
	if err := json.Unmarshal([]byte(s), c); err != nil {
		return fmt.Errorf("reload catalog: %w", err)
	}
	c.CommitSeq, err = e.storedCommitSeq()
	e.cat = c
	return err
}

// commit publishes captured changes to topics inside the transaction,
// commits, then hands them to the change feed.
func (e *Engine) commit() error {
	changes, err := e.buildChanges(e.captured)
	if err != nil {
		return err
	}
	if len(changes) > 0 {
		e.cat.CommitSeq++
		if err := e.publish(changes, e.cat.CommitSeq); err != nil {
			return err
		}
		if err := e.exec(`INSERT INTO _kv_meta (k, v) VALUES ('commit_seq', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`,
			strconv.FormatInt(e.cat.CommitSeq, 10)); err != nil {
			return err
		}
	}
	if err := e.conn.Exec("COMMIT"); err != nil {
		return err
	}
	e.catDirty = false
	e.captured = nil
	e.txID = ""
	out := make([]Change, len(changes))
	for i, c := range changes {
		out[i] = c.Change
	}
	e.feed.push(out)
	return nil
}

// impersonate applies EXECUTE AS USER (http-api §6.3).
func (e *Engine) impersonate(s *session, target string) *stmtErr {
	u := e.cat.Users[target]
	if u == nil || u.DeletedAt != nil {
		return execErr("Not found: EXECUTE AS USER target '%s' was not found", target)
	}
	if target != s.authUser {
		allowed := false
		switch s.authRole {
		case RoleSystem:
			allowed = true
		case RoleDBA:
			allowed = u.Role == RoleService || u.Role == RoleUser || u.Role == RoleAnonymous
		case RoleService:
			allowed = u.Role == RoleUser || u.Role == RoleAnonymous
		}
		if !allowed {
			// Checked before the statement runs, so without the "Statement k
			// failed:" prefix (kalamdb-api http/sql impersonation).
			se := permErr("Unauthorized: Role %s is not authorized to use AS USER for '%s' with role %s", roleName(s.authRole), target, roleName(u.Role))
			se.bare = true
			return se
		}
	}
	s.user, s.role, s.impersonated = target, RoleUser, true
	return nil
}

// run executes one statement inside an open SQLite transaction.
func (e *Engine) run(st *stmt, s *session, inTx bool) (Result, *stmtErr) {
	switch st.kind {
	case kSelect:
		return e.execSelect(st, s)
	case kInsert, kUpdate, kDelete:
		return e.execDML(st, s, inTx)
	case kCreateNamespace:
		return e.execCreateNamespace(st, s)
	case kDropNamespace:
		return e.execDropNamespace(st, s)
	case kUse:
		return e.execUse(st, s)
	case kShowNamespaces:
		return e.execShowNamespaces(st, s)
	case kShowTables:
		return e.execShowTables(st, s)
	case kDescribe:
		return e.execDescribe(st, s)
	case kCreateTable:
		return e.execCreateTable(st, s)
	case kDropTable:
		return e.execDropTable(st, s)
	case kAlterTable:
		return e.execAlterTable(st, s)
	case kCreateUser, kAlterUser, kDropUser:
		return e.execUserDDL(st, s)
	case kCreateTopic, kAlterTopic, kDropTopic, kClearTopic:
		return e.execTopicDDL(st, s)
	case kConsume:
		return e.execConsume(st, s)
	case kAck:
		return e.execAck(st, s)
	case kSubscribe:
		return e.execSubscribe(st, s)
	case kFlush:
		if s.role == RoleUser || s.role == RoleAnonymous {
			return Result{}, permErr("Unauthorized: Insufficient privileges for storage flush")
		}
		return Result{Message: "Storage flush skipped: no pending writes (the emulator keeps no cold storage)"}, nil
	}
	return Result{}, notImplementedErr(st.feature)
}

func (e *Engine) storedCommitSeq() (int64, error) {
	rows, err := e.queryRows(`SELECT v FROM _kv_meta WHERE k = 'commit_seq'`)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	s, _ := rows[0][0].(string)
	return strconv.ParseInt(s, 10, 64)
}

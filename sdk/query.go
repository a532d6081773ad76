package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/kalamstack/kalam-go/sdk/internal/jsonlite"
	"github.com/kalamstack/kalam-go/sdk/internal/redact"
	"strings"
	"time"

	"github.com/kalamstack/kalam-go/transport"
)

// QueryOption configures one Query call.
type QueryOption func(*queryConfig) error

type queryConfig struct {
	args      []any
	namespace string
	files     []*fileUpload
	progress  func(UploadProgress)
	// newUpload is set by File: referenced only there, the multipart
	// encoder stays out of browser bundles that never upload.
	newUpload func(sql string, params []byte, namespace string, files []*fileUpload, progress func(UploadProgress)) (*upload, error)
	asUser    string // AsUser: wrap in EXECUTE AS USER
}

// Args binds values to the placeholders $1, $2, ... in order. See the
// package documentation for how Go types map to KalamDB parameters.
// KalamDB allows parameters only in single-statement requests.
func Args(values ...any) QueryOption {
	return func(q *queryConfig) error {
		q.args = append(q.args, values...)
		return nil
	}
}

// Namespace sets the namespace for unqualified table names (sent as
// namespace_id; the server's default is "default").
func Namespace(ns string) QueryOption {
	return func(q *queryConfig) error {
		if strings.TrimSpace(ns) == "" {
			return errors.New("sdk: Namespace: empty namespace")
		}
		q.namespace = ns
		return nil
	}
}

// Query runs one or more SQL statements (separated by ';') and returns their
// results. The result of the first statement is reachable directly through
// the returned *Result; Results lists all of them.
//
// Row cap: KalamDB cuts a SELECT without LIMIT to 50 rows
// (limits.default_query_limit) and any SELECT to 1000 rows
// (limits.max_query_limit). The client does not page silently: RowCount
// reports what came back; use LIMIT/OFFSET or keyset paging for more.
//
// Retries: a read-only statement (first keyword SELECT, SHOW, DESCRIBE or
// EXPLAIN, comments skipped) is retried after a transport failure; any
// statement is retried after HTTP 429 RATE_LIMIT_EXCEEDED, which the server
// sends before running it. Both are bounded by WithMaxRetries.
//
// A KalamDB error comes back as a *ServerError (also when the server answers
// HTTP 200 with "status":"error").
func (c *Client) Query(ctx context.Context, sql string, opts ...QueryOption) (*Result, error) {
	var q queryConfig
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&q); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(sql) == "" {
		return nil, errors.New("sdk: Query: empty SQL")
	}
	readOnly := isReadOnlySQL(sql)
	if q.asUser != "" {
		wrapped, err := executeAsUser(q.asUser, sql)
		if err != nil {
			return nil, err
		}
		sql = wrapped
	}
	var params []byte
	if len(q.args) > 0 {
		var err error
		if params, err = encodeArgs(q.args); err != nil {
			return nil, err
		}
	}
	rq := &request{method: "POST", path: "/v1/api/sql", authed: true, idempotent: readOnly}
	if len(q.files) > 0 {
		up, err := q.newUpload(sql, params, q.namespace, q.files, q.progress)
		if err != nil {
			return nil, err
		}
		rq.body = up.body
		rq.idempotent = false
		defer up.release()
	} else {
		if q.progress != nil {
			return nil, errors.New("sdk: OnUploadProgress given without any File")
		}
		body, err := encodeSQLRequest(sql, params, q.namespace)
		if err != nil {
			return nil, err
		}
		rq.body = jsonBody(body)
	}
	ctx, cancel, err := c.callContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	resp, err := c.send(ctx, rq)
	if err != nil {
		return nil, queryError(sql, err)
	}
	body, err := c.readBody(ctx, resp)
	if err != nil {
		return nil, queryError(sql, err)
	}
	res, err := decodeResult(resp.StatusCode, transport.HeaderValue(resp.Header, "Content-Type"), body)
	if err != nil {
		return nil, queryError(sql, err)
	}
	return res, nil
}

// queryError names the failed statement. A password the statement carries
// is hidden in the server's text too: KalamDB's parser errors quote the
// offending literal alone ("found: 'secret'"), with no PASSWORD before it.
func queryError(sql string, err error) error {
	if vals := redact.PasswordValues(sql); len(vals) > 0 {
		var se *ServerError
		if errors.As(err, &se) {
			se.Message, se.Details = redact.Values(se.Message, vals), redact.Values(se.Details, vals)
		}
		var re *ResponseError
		if errors.As(err, &re) {
			re.Snippet = redact.Values(re.Snippet, vals)
		}
	}
	return fmt.Errorf("sdk: query %s: %w", sqlPreview(sql), err)
}

// encodeSQLRequest writes {"sql", "params" (omitted when empty),
// "namespace_id" (omitted when empty)} as json.Marshal would.
func encodeSQLRequest(sql string, params []byte, namespace string) ([]byte, error) {
	n := len(`{"sql":"","params":,"namespace_id":""}`) + len(sql) + len(params) + len(namespace)
	b := jsonlite.AppendString(append(make([]byte, 0, n), `{"sql":`...), sql)
	if len(params) > 0 {
		var err error
		if b, err = jsonlite.AppendRaw(append(b, `,"params":`...), params); err != nil {
			return nil, fmt.Errorf("sdk: encoding the SQL request: %w", err)
		}
	}
	if namespace != "" {
		b = jsonlite.AppendString(append(b, `,"namespace_id":`...), namespace)
	}
	return append(b, '}'), nil
}

// sqlPreview shortens SQL for error messages: string literals are elided
// and secrets redacted, and the cut never splits a UTF-8 character
// (the official client panics there: sdk-features §4 X2).
func sqlPreview(sql string) string {
	var b strings.Builder
	inQuote := false
	for _, r := range sql {
		switch {
		case r == '\'':
			if !inQuote {
				b.WriteString("'…'")
			}
			inQuote = !inQuote
		case inQuote:
		default:
			b.WriteRune(r)
		}
	}
	s := strings.Join(strings.Fields(b.String()), " ")
	// Other literals ("…", $$…$$) and the client's own secrets are redacted
	// before the cut, which would hide half a secret from the match.
	if len(s) > 16<<10 {
		s = s[:16<<10]
	}
	s = redactSecrets(s)
	const max = 60
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

// isReadOnlySQL reports whether the first keyword, after comments and
// whitespace, is SELECT, SHOW, DESCRIBE or EXPLAIN. A batch is judged by its
// first statement only when every statement is read-only.
func isReadOnlySQL(sql string) bool {
	for _, stmt := range strings.Split(sql, ";") {
		kw := firstKeyword(stmt)
		if kw == "" {
			continue
		}
		switch kw {
		case "SELECT", "SHOW", "DESCRIBE", "DESC":
		case "EXPLAIN":
			// EXPLAIN ANALYZE runs the statement.
			if strings.Contains(strings.ToUpper(stmt), "ANALYZE") {
				return false
			}
		default:
			return false
		}
	}
	return firstKeyword(sql) != ""
}

func firstKeyword(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n(")
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s[2:], "*/")
			if i < 0 {
				return ""
			}
			s = s[i+4:]
		default:
			end := 0
			for end < len(s) && (s[end] >= 'a' && s[end] <= 'z' || s[end] >= 'A' && s[end] <= 'Z') {
				end++
			}
			return strings.ToUpper(s[:end])
		}
	}
}

// wire types of the SQL response (http-api §6.4).
type sqlResponse struct {
	Status  string          `json:"status"`
	Results []wireResult    `json:"results"`
	Took    float64         `json:"took"`
	Error   json.RawMessage `json:"error"`
}

type wireResult struct {
	Schema   []wireField     `json:"schema"`
	Rows     json.RawMessage `json:"rows"`
	RowCount json.Number     `json:"row_count"`
	Message  string          `json:"message"`
	AsUser   string          `json:"as_user"`
}

type wireField struct {
	Name     string          `json:"name"`
	DataType json.RawMessage `json:"data_type"`
	Index    int             `json:"index"`
	Flags    []string        `json:"flags"`
}

func decodeResult(status int, contentType string, body []byte) (*Result, error) {
	var sr sqlResponse
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, unexpected(status, contentType, "empty body", body, nil)
	}
	if err := decodeSQLResponse(body, &sr); err != nil {
		return nil, unexpected(status, contentType, describeJSONError(err), body, err)
	}
	switch sr.Status {
	case "success":
	case "error":
		return nil, decodeServerError(status, contentType, body, "")
	default:
		return nil, unexpected(status, contentType, fmt.Sprintf("SQL reply has status %q", sr.Status), body, nil)
	}
	if sr.Results == nil {
		return nil, unexpected(status, contentType, "SQL reply has no results", body, nil)
	}
	res := &Result{Took: time.Duration(sr.Took * float64(time.Millisecond))}
	res.all = make([]*StatementResult, len(sr.Results))
	for i := range sr.Results {
		sres, err := newStatementResult(&sr.Results[i])
		if err != nil {
			// Well-formed JSON that KalamDB cannot have sent (ragged rows,
			// a row_count that disagrees with the rows, a bad data_type).
			return nil, unexpected(status, contentType, fmt.Sprintf("result %d: %v", i, err), body, err)
		}
		res.all[i] = sres
	}
	if len(res.all) > 0 {
		res.StatementResult = res.all[0]
	} else {
		res.StatementResult = &StatementResult{}
	}
	return res, nil
}

func newStatementResult(w *wireResult) (*StatementResult, error) {
	s := &StatementResult{Message: w.Message, AsUser: w.AsUser}
	if w.RowCount != "" {
		n, err := w.RowCount.Int64()
		if err != nil || n < 0 {
			return nil, fmt.Errorf("row_count %q is not a non-negative integer", w.RowCount)
		}
		s.RowCount = int(n)
	}
	s.Columns = make([]Column, len(w.Schema))
	s.byName = make(map[string]int, len(w.Schema))
	for i, f := range w.Schema {
		dt, err := parseDataType(f.DataType)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		col := Column{Name: f.Name, Index: i, Type: dt}
		for _, fl := range f.Flags {
			switch fl {
			case "pk":
				col.PrimaryKey = true
			case "nn":
				col.NotNull = true
			case "uq":
				col.Unique = true
			}
		}
		s.Columns[i] = col
		if _, dup := s.byName[strings.ToLower(f.Name)]; !dup {
			s.byName[strings.ToLower(f.Name)] = i
		}
	}
	if len(w.Rows) > 0 && string(w.Rows) != "null" {
		// row_count (checked against the rows below) sizes the cells in
		// one allocation; a lying one cannot ask for more cells than
		// the rows' bytes could hold.
		hint := 0
		if s.RowCount > 0 && len(s.Columns) > 0 && s.RowCount <= len(w.Rows)/(2*len(s.Columns)) {
			hint = s.RowCount
		}
		rows, err := splitRows(w.Rows, len(s.Columns), hint)
		if err != nil {
			return nil, err
		}
		if w.RowCount != "" && s.RowCount != len(rows) {
			return nil, fmt.Errorf("row_count is %d but %d rows came", s.RowCount, len(rows))
		}
		s.rows = make([]Row, len(rows))
		for i, cells := range rows {
			s.rows[i] = Row{res: s, cells: cells}
		}
	}
	return s, nil
}

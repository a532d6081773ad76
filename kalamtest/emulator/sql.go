package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
)

// sqlPayload is a parsed /v1/api/sql body, JSON or multipart.
type sqlPayload struct {
	sql       string
	params    []json.RawMessage // nil when absent or null
	namespace string
	multipart bool
	uploads   []engine.Upload
}

// payloadError is a payload problem answered in shape A with status 400.
type payloadError struct {
	code    string
	message string
}

// handleSQL is POST /v1/api/sql in the order of execute.rs (http-api.md
// §6.1): authentication, per-user rate limit, payload, SQL length, params,
// then the engine (split, classify, params-with-batch, execute).
func (s *Server) handleSQL(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id, ok := s.authenticateBearer(w, r, start)
	if !ok {
		return
	}
	if !s.sqlLimiter.allow(id.UserID) {
		writeSQLError(w, http.StatusTooManyRequests, since(start), sqlErrorDetail{
			Code: "RATE_LIMIT_EXCEEDED", Message: "Too many queries per second. Please slow down."})
		return
	}
	p, perr := s.readSQLPayload(r)
	if perr != nil {
		writeSQLError(w, http.StatusBadRequest, since(start), sqlErrorDetail{Code: perr.code, Message: perr.message})
		return
	}
	if len(p.sql) > maxSQLLength {
		writeSQLError(w, http.StatusBadRequest, since(start), sqlErrorDetail{Code: "INVALID_SQL",
			Message: fmt.Sprintf("SQL query too long: %d bytes (maximum %d bytes)", len(p.sql), maxSQLLength)})
		return
	}
	params, perr := decodeParams(p.params)
	if perr != nil {
		writeSQLError(w, http.StatusBadRequest, since(start), sqlErrorDetail{Code: perr.code, Message: perr.message})
		return
	}
	req := engine.Request{Identity: id, SQL: p.sql, Params: params, Namespace: p.namespace}
	if p.multipart {
		req.Uploads = p.uploads
		if req.Uploads == nil {
			req.Uploads = []engine.Upload{}
		}
	}
	results, eerr := s.db.Execute(req)
	if eerr != nil {
		writeEngineError(w, eerr, id.Role.IsAdmin(), since(start))
		return
	}
	writeSQLSuccess(w, results, start)
}

// readSQLPayload is parse_incoming_payload: multipart when the Content-Type
// starts with multipart/form-data (any case), JSON otherwise.
func (s *Server) readSQLPayload(r *http.Request) (sqlPayload, *payloadError) {
	ct := r.Header.Get("Content-Type")
	if len(ct) >= len("multipart/form-data") && strings.EqualFold(ct[:len("multipart/form-data")], "multipart/form-data") {
		return s.readMultipart(r)
	}
	body, jerr := readJSONBody(r)
	if jerr != nil {
		return sqlPayload{}, &payloadError{"INVALID_INPUT", "Invalid JSON payload: " + jerr.text}
	}
	p, err := decodeSQLRequest(body)
	if err != nil {
		return sqlPayload{}, &payloadError{"INVALID_INPUT", "Invalid JSON payload: Json deserialize error: " + err.Error()}
	}
	return p, nil
}

// decodeSQLRequest decodes QueryRequest: `sql` a required string, `params`
// an optional array (or null), `namespace_id` an optional string (or null).
// Unknown fields are ignored, as serde does without deny_unknown_fields, so
// `namespace` is silently dropped (http-api.md §6.1).
func decodeSQLRequest(body []byte) (sqlPayload, error) {
	var p sqlPayload
	fields, err := decodeObject(body, "struct QueryRequest")
	if err != nil {
		return p, err
	}
	seen := map[string]bool{}
	for _, f := range fields {
		switch f.key {
		case "sql", "params", "namespace_id":
		default:
			continue
		}
		if seen[f.key] {
			return p, serdeError(body, int64(len(body)), fmt.Sprintf("duplicate field `%s`", f.key))
		}
		seen[f.key] = true
		switch f.key {
		case "sql":
			if p.sql, err = stringField(body, f); err != nil {
				return p, err
			}
		case "params":
			if isJSONNull(f.raw) {
				continue
			}
			var arr []json.RawMessage
			if err := json.Unmarshal(f.raw, &arr); err != nil {
				return p, serdeError(body, f.invalidTypeOffset(), fmt.Sprintf("invalid type: %s, expected a sequence", rawKind(f.raw)))
			}
			if arr == nil {
				arr = []json.RawMessage{}
			}
			for _, v := range arr {
				// serde_json refuses numbers beyond f64 (1e400) while parsing.
				if len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
					if _, err := strconv.ParseFloat(string(v), 64); err != nil {
						return p, serdeError(body, int64(len(body)), "number out of range")
					}
				}
			}
			p.params = arr
		case "namespace_id":
			if isJSONNull(f.raw) {
				continue
			}
			if p.namespace, err = stringField(body, f); err != nil {
				return p, err
			}
		}
	}
	if !seen["sql"] {
		return p, serdeError(body, int64(len(body)), "missing field `sql`")
	}
	return p, nil
}

// decodeParams is parse_scalar_params (http-api.md §6.2): null, bool,
// number (kept exact as json.Number) and string; arrays and objects are
// INVALID_PARAMETER.
func decodeParams(raw []json.RawMessage) ([]any, *payloadError) {
	if raw == nil {
		return nil, nil
	}
	out := make([]any, 0, len(raw))
	for i, r := range raw {
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, &payloadError{"INVALID_PARAMETER", fmt.Sprintf("Parameter $%d invalid: %v", i+1, err)}
		}
		switch v.(type) {
		case []any:
			return nil, &payloadError{"INVALID_PARAMETER", fmt.Sprintf("Parameter $%d invalid: Array parameters not yet supported", i+1)}
		case map[string]any:
			return nil, &payloadError{"INVALID_PARAMETER", fmt.Sprintf("Parameter $%d invalid: Object parameters not yet supported", i+1)}
		}
		out = append(out, v)
	}
	return out, nil
}

// readMultipart is parse_multipart_request (http-api.md §7.1, §7.2): parts
// sql, params (a JSON array as text), namespace_id (lower-cased) and
// file:<name>; others are ignored. Files are counted before they are read
// and size-checked while reading.
func (s *Server) readMultipart(r *http.Request) (sqlPayload, *payloadError) {
	p := sqlPayload{multipart: true, uploads: []engine.Upload{}}
	mr, err := r.MultipartReader()
	if err != nil {
		return p, &payloadError{"INVALID_INPUT", "Multipart parse error: " + err.Error()}
	}
	var sql, params *string
	for {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return p, &payloadError{"INVALID_INPUT", "Multipart parse error: " + err.Error()}
		}
		name, filename := dispositionNames(part)
		switch {
		case name == "sql":
			v, err := io.ReadAll(part)
			if err != nil {
				return p, &payloadError{"INVALID_INPUT", "Failed to read SQL field: " + err.Error()}
			}
			sql = ptr(strings.ToValidUTF8(string(v), "\uFFFD"))
		case name == "params":
			v, err := io.ReadAll(part)
			if err != nil {
				return p, &payloadError{"INVALID_INPUT", "Multipart parse error: " + err.Error()}
			}
			params = ptr(strings.ToValidUTF8(string(v), "\uFFFD"))
		case name == "namespace_id":
			v, err := io.ReadAll(part)
			if err != nil {
				return p, &payloadError{"INVALID_INPUT", "Multipart parse error: " + err.Error()}
			}
			p.namespace = strings.ToLower(strings.ToValidUTF8(string(v), "\uFFFD"))
		case strings.HasPrefix(name, "file:"):
			if len(p.uploads) >= s.maxFiles {
				return p, &payloadError{"TOO_MANY_FILES", fmt.Sprintf("Too many files: maximum %d allowed", s.maxFiles)}
			}
			key := strings.TrimPrefix(name, "file:")
			if filename == "" {
				filename = key
			}
			data, perr := s.readFilePart(part, key, filename)
			if perr != nil {
				return p, perr
			}
			p.uploads = addUpload(p.uploads, engine.Upload{
				Placeholder: key, Filename: filename, MimeType: part.Header.Get("Content-Type"), Data: data,
			})
		}
	}
	if sql == nil || strings.TrimSpace(*sql) == "" {
		return p, &payloadError{"EMPTY_SQL", "SQL statement is required"}
	}
	p.sql = *sql
	if params != nil {
		var v any
		dec := json.NewDecoder(strings.NewReader(*params))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return p, &payloadError{"INVALID_PARAMETER", "Invalid params JSON: " + serdeSyntaxError([]byte(*params), dec.InputOffset(), err).Error()}
		}
		if _, ok := v.([]any); !ok {
			return p, &payloadError{"INVALID_PARAMETER", "Params must be a JSON array"}
		}
		if err := json.Unmarshal([]byte(*params), &p.params); err != nil {
			return p, &payloadError{"INVALID_PARAMETER", "Invalid params JSON: " + err.Error()}
		}
	}
	return p, nil
}

// readFilePart reads one file part, failing as soon as it passes the
// per-file limit or the absolute 100 MiB cap.
func (s *Server) readFilePart(part io.Reader, key, filename string) ([]byte, *payloadError) {
	limit := min(s.maxFile, absoluteMaxFilePart)
	data, err := io.ReadAll(io.LimitReader(part, limit+1))
	if err != nil {
		return nil, &payloadError{"INVALID_INPUT", fmt.Sprintf("Failed to read file '%s': %v", key, err)}
	}
	if int64(len(data)) > s.maxFile {
		return nil, &payloadError{"FILE_TOO_LARGE", fmt.Sprintf("File '%s' exceeds maximum size of %d bytes", filename, s.maxFile)}
	}
	if int64(len(data)) > absoluteMaxFilePart {
		return nil, &payloadError{"FILE_TOO_LARGE", "File exceeds absolute maximum size"}
	}
	return data, nil
}

// addUpload stores u, replacing an earlier part with the same placeholder
// (the real server keeps files in a map keyed by placeholder).
func addUpload(uploads []engine.Upload, u engine.Upload) []engine.Upload {
	for i := range uploads {
		if uploads[i].Placeholder == u.Placeholder {
			uploads[i] = u
			return uploads
		}
	}
	return append(uploads, u)
}

// dispositionNames reads the part's name and raw filename. Part.FileName
// would strip directories, which the real server keeps.
func dispositionNames(part *multipart.Part) (name, filename string) {
	_, params, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
	if err != nil {
		return part.FormName(), ""
	}
	return params["name"], params["filename"]
}

func ptr[T any](v T) *T { return &v }

// publicMessages are the fixed texts non-admins get for sensitive errors
// (ErrorCode::public_message, http-api.md §6.6).
var publicMessages = map[string]string{
	"BATCH_PARSE_ERROR":   "Failed to parse SQL batch",
	"SQL_EXECUTION_ERROR": "SQL statement failed",
	"INVALID_SQL":         "SQL statement is invalid or not allowed",
	"TABLE_NOT_FOUND":     "Requested table is not available",
	"INTERNAL_ERROR":      "SQL request failed",
}

// redact applies build_sql_error_response: preserved errors keep their text
// (admins also get details); sensitive errors are replaced for non-admins
// by the code's fixed text, and a code without one keeps text and details.
func redact(e *engine.Error, admin bool) sqlErrorDetail {
	d := sqlErrorDetail{Code: e.Code, Message: e.Message}
	switch {
	case !e.Sensitive:
		if admin {
			d.Details = e.Details
		}
	case !admin && publicMessages[e.Code] != "":
		d.Message = publicMessages[e.Code]
	default:
		d.Details = e.Details
	}
	return d
}

func writeEngineError(w http.ResponseWriter, e *engine.Error, admin bool, took tookMS) {
	status := e.HTTPStatus
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	writeSQLError(w, status, took, redact(e, admin))
}

// schemaField is SchemaField on the wire.
type schemaField struct {
	Name     string          `json:"name"`
	DataType json.RawMessage `json:"data_type"`
	Index    int             `json:"index"`
	Flags    []string        `json:"flags,omitempty"`
}

func schemaFields(cols []engine.Column) []schemaField {
	out := make([]schemaField, len(cols))
	for i, c := range cols {
		dt := c.DataType
		if len(dt) == 0 {
			dt = json.RawMessage(`"Text"`)
		}
		out[i] = schemaField{Name: c.Name, DataType: dt, Index: c.Index, Flags: c.Flags}
	}
	return out
}

// queryResult is QueryResult in the buffered shape: schema omitted when
// empty, rows only for row-returning statements, message when set.
type queryResult struct {
	Schema   []schemaField        `json:"schema,omitempty"`
	Rows     *[][]json.RawMessage `json:"rows,omitempty"`
	RowCount int                  `json:"row_count"`
	Message  string               `json:"message,omitempty"`
	AsUser   string               `json:"as_user"`
}

// writeSQLSuccess sends results in one of the two real shapes (http-api.md
// §6.4): the result of a single row-returning statement is streamed with "error":null and an
// always-present schema; anything else is one buffered body without error.
func writeSQLSuccess(w http.ResponseWriter, results []engine.Result, start time.Time) {
	if len(results) == 1 && results[0].Streamed {
		streamRows(w, results[0], start)
		return
	}
	out := make([]queryResult, len(results))
	for i, res := range results {
		q := queryResult{Schema: schemaFields(res.Schema), RowCount: res.RowCount, Message: res.Message, AsUser: res.AsUser}
		if res.ReturnsRows {
			rows := nonNilRows(res.Rows)
			q.Rows = &rows
		}
		out[i] = q
	}
	writeJSON(w, http.StatusOK, struct {
		Status  string        `json:"status"`
		Results []queryResult `json:"results"`
		Took    tookMS        `json:"took"`
	}{"success", out, since(start)})
}

func nonNilRows(rows [][]json.RawMessage) [][]json.RawMessage {
	if rows == nil {
		return [][]json.RawMessage{}
	}
	for i, row := range rows {
		for j, cell := range row {
			if len(cell) == 0 {
				rows[i][j] = json.RawMessage("null")
			}
		}
	}
	return rows
}

// streamRows writes the streamed shape exactly as streaming.rs and
// converter.rs build it: a prefix with the schema, the rows, then a suffix
// whose took is Rust's Display of the rounded f64. The prefix is flushed
// first, so the body goes out chunked as the real one does.
func streamRows(w http.ResponseWriter, res engine.Result, start time.Time) {
	var buf bytes.Buffer
	buf.WriteString(`{"status":"success","results":[{"schema":`)
	buf.Write(marshal(schemaFields(res.Schema)))
	buf.WriteString(`,"rows":[`)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	buf.Reset()
	for i, row := range nonNilRows(res.Rows) {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteByte('[')
		for j, cell := range row {
			if j > 0 {
				buf.WriteByte(',')
			}
			buf.Write(cell)
		}
		buf.WriteByte(']')
	}
	buf.WriteString(`],"row_count":`)
	buf.WriteString(strconv.Itoa(res.RowCount))
	buf.WriteString(`,"as_user":`)
	buf.Write(marshal(res.AsUser))
	buf.WriteString(`}],"took":`)
	buf.WriteString(displayTook(since(start)))
	buf.WriteString(`,"error":null}`)
	_, _ = w.Write(buf.Bytes())
}

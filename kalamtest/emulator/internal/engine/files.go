package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// fileRef is the stored FILE cell (http-api §7.4), fields in server order.
type fileRef struct {
	ID     string `json:"id"`
	Sub    string `json:"sub"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	Mime   string `json:"mime"`
	SHA256 string `json:"sha256"`
}

// storedName is FileRef::stored_name (http-api §7.5).
func (f fileRef) storedName() string {
	base, ext := f.Name, ""
	if dot := strings.LastIndexByte(f.Name, '.'); dot >= 0 {
		base, ext = f.Name[:dot], f.Name[dot+1:]
	}
	var b strings.Builder
	for _, r := range base {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + 'a' - 'A')
		case r == ' ' || r == '_' || r == '-':
			b.WriteByte('-')
		}
	}
	s := b.String()
	if len(s) > 50 {
		s = s[:50]
	}
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	s = strings.Trim(s, "-")
	ext = strings.ToLower(ext)
	okExt := ext != "" && len(ext) <= 10
	for _, r := range ext {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			okExt = false
		}
	}
	if !okExt {
		ext = "bin"
	}
	if s == "" {
		return f.ID + "." + ext
	}
	return f.ID + "-" + s + "." + ext
}

// fileKey is where a file lives: table area, then the owner for USER tables.
func fileKey(t *tableInfo, owner, sub, stored string) string {
	area := "shared"
	if t.Type == "user" {
		area = "u:" + owner
	}
	return t.Namespace + "/" + t.Name + "/" + area + "/" + sub + "/" + stored
}

var placeholderRe = regexp.MustCompile(`(?i)FILE\(\s*["']([^"']*)["']`)

// filePlaceholders lists FILE("name") names, detected case-insensitively
// over the whole text (http-api §7.1).
func filePlaceholders(sql string) []string {
	var out []string
	for _, m := range placeholderRe.FindAllStringSubmatch(sql, -1) {
		out = append(out, m[1])
	}
	return out
}

// noTableErr is the answer when the statement names no table a file could
// go to, a SELECT included (kalamdb-api/src/http/sql/execution_paths.rs):
// it carries no details.
func noTableErr() *stmtErr {
	se := inputErr("INVALID_INPUT", 400, "Could not determine target table from SQL. Use fully qualified table name (namespace.table).")
	se.noDetails = true
	return se
}

func inputErr(code string, status int, format string, args ...any) *stmtErr {
	return &stmtErr{code: code, status: status, msg: fmt.Sprintf(format, args...), bare: true}
}

// stageFiles stores the uploads of a single-statement multipart request in
// the open transaction and substitutes the placeholders with FileRef JSON
// literals (sql-model §6 steps 3-4).
func (e *Engine) stageFiles(st *stmt, s *session, uploads []Upload) *stmtErr {
	if st.kind != kInsert && st.kind != kUpdate && st.kind != kDelete {
		return noTableErr()
	}
	c := &tokCursor{t: st.sig}
	switch st.kind {
	case kInsert:
		c.accept("INSERT")
		c.accept("INTO")
	case kUpdate:
		c.accept("UPDATE")
	default:
		c.accept("DELETE")
		c.accept("FROM")
	}
	ns, name, ok := c.qualifiedName()
	if !ok {
		return noTableErr()
	}
	if ns == "" {
		ns = s.ns
	}
	if ns == "system" {
		return inputErr("INVALID_INPUT", 400, "File uploads are not supported for stream or system tables")
	}
	t := e.cat.Tables[ns+"."+name]
	if t == nil {
		return &stmtErr{code: "TABLE_NOT_FOUND", status: 400, msg: fmt.Sprintf("Table '%s:%s' not found", ns, name), sensitive: true, bare: true}
	}
	if t.Type == "stream" {
		return inputErr("INVALID_INPUT", 400, "File uploads are not supported for stream or system tables")
	}
	if t.Type == "shared" && s.impersonated {
		return sharedImpersonationErr(t)
	}
	wanted := filePlaceholders(st.sql)
	sql := st.sql
	for _, up := range uploads {
		if len(wanted) > 0 && !contains(wanted, up.Placeholder) {
			continue // unreferenced parts are dropped (http-api §7.1)
		}
		if int64(len(up.Data)) > e.opts.MaxFileSize {
			return inputErr("FILE_TOO_LARGE", 400, "File '%s' exceeds maximum size of %d bytes", up.Placeholder, e.opts.MaxFileSize)
		}
		ref := fileRef{ID: strconv.FormatInt(e.nextSeq(), 10), Name: up.Filename, Size: int64(len(up.Data)), Mime: up.MimeType}
		if ref.Name == "" {
			ref.Name = up.Placeholder
		}
		if ref.Mime == "" {
			ref.Mime = mimeFor(ref.Name)
		}
		e.cat.FileCount++
		ref.Sub = fmt.Sprintf("f%04d", (e.cat.FileCount-1)/5000+1)
		sum := sha256.Sum256(up.Data)
		ref.SHA256 = hex.EncodeToString(sum[:])
		data := up.Data
		if data == nil {
			data = []byte{}
		}
		if err := e.exec(`INSERT OR REPLACE INTO _kv_files (path, data, mime) VALUES (?, ?, ?)`,
			fileKey(t, s.user, ref.Sub, ref.storedName()), data, ref.Mime); err != nil {
			return &stmtErr{code: "INTERNAL_ERROR", status: 500, msg: "Failed to store file: " + err.Error(), sensitive: true, bare: true}
		}
		js, err := marshalJSON(ref)
		if err != nil {
			return &stmtErr{code: "INTERNAL_ERROR", status: 500, msg: "Failed to encode file reference: " + err.Error(), sensitive: true, bare: true}
		}
		lit := quoteString(string(js))
		for _, q := range []string{`"`, `'`} {
			for _, f := range []string{"FILE", "file", "File"} {
				sql = strings.ReplaceAll(sql, f+"("+q+up.Placeholder+q+")", lit)
			}
		}
	}
	if err := e.saveCatalog(); err != nil {
		return &stmtErr{code: "INTERNAL_ERROR", status: 500, msg: err.Error(), sensitive: true, bare: true}
	}
	if len(filePlaceholders(sql)) > 0 {
		// A placeholder without its part reaches the planner as a call
		// of an unknown function (kalamdb-api/src/http/sql/execution_paths.rs
		// substitutes only the parts sent).
		return execErr("Execution error: Error during planning: Invalid function 'file'.\nDid you mean 'pi'?")
	}
	toks, err := lex(sql)
	if err != nil {
		return execErr("Execution error: %v", err)
	}
	st.sql, st.toks, st.sig = sql, toks, significant(toks)
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mimeFor(name string) string {
	if m := mime.TypeByExtension(strings.ToLower(path.Ext(name))); m != "" {
		return strings.SplitN(m, ";", 2)[0]
	}
	return "application/octet-stream"
}

// deleteFiles removes the files a FILE cell refers to (the server deletes
// them when the row is deleted or the cell replaced).
func (e *Engine) deleteFileCell(t *tableInfo, owner string, cell any) error {
	s, ok := cell.(string)
	if !ok || s == "" {
		return nil
	}
	var ref fileRef
	if json.Unmarshal([]byte(s), &ref) != nil || ref.ID == "" {
		return nil // not a FileRef: nothing stored for it
	}
	return e.exec(`DELETE FROM _kv_files WHERE path = ?`, fileKey(t, owner, ref.Sub, ref.storedName()))
}

var subfolderRe = regexp.MustCompile(`^f\d{4}$`)

// ReadFile returns a stored file of a FILE column (http-api §7.5).
func (e *Engine) ReadFile(id Identity, namespace, table, subfolder, storedName string) ([]byte, string, *Error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !subfolderRe.MatchString(subfolder) || storedName == "" || strings.ContainsAny(storedName, `/\`) || strings.Contains(storedName, "..") {
		return nil, "", &Error{Code: "INVALID_INPUT", HTTPStatus: 400, Message: "Invalid file path"}
	}
	ns, name := strings.ToLower(namespace), strings.ToLower(table)
	if ns == "system" {
		return nil, "", &Error{Code: "INVALID_INPUT", HTTPStatus: 400, Message: "File downloads are not supported for stream or system tables"}
	}
	t := e.cat.Tables[ns+"."+name]
	if t == nil {
		return nil, "", &Error{Code: "TABLE_NOT_FOUND", HTTPStatus: 404, Message: fmt.Sprintf("Table '%s:%s' not found", ns, name)}
	}
	if t.Type == "stream" {
		return nil, "", &Error{Code: "INVALID_INPUT", HTTPStatus: 400, Message: "File downloads are not supported for stream or system tables"}
	}
	if t.Type == "shared" && !sharedAllowed(t.Access, id.Role, false) {
		return nil, "", &Error{Code: "PERMISSION_DENIED", HTTPStatus: 403,
			Message: fmt.Sprintf("Shared table access denied (access_level=%s)", roleName(Role(t.Access)))}
	}
	rows, err := e.queryRows(`SELECT data FROM _kv_files WHERE path = ?`, fileKey(t, id.UserID, subfolder, storedName))
	if err != nil {
		return nil, "", &Error{Code: "INTERNAL_ERROR", HTTPStatus: 500, Message: "Failed to read file: " + err.Error()}
	}
	if len(rows) == 0 {
		return nil, "", &Error{Code: "FILE_NOT_FOUND", HTTPStatus: 404, Message: "File not found"}
	}
	data, _ := rows[0][0].([]byte)
	if data == nil {
		data = []byte{}
	}
	// The download's type comes from the stored name's extension, not the
	// recorded mime (http-api §7.5).
	return data, mimeFor(storedName), nil
}

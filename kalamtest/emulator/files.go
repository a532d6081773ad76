package emulator

import (
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
)

// handleFileDownload is GET /v1/files/{ns}/{table}/{subfolder}/{stored_name}
// (http-api.md §7.5). The engine resolves the table, its type and access
// rules, and the owner partition; this layer does auth, the ?user_id=
// impersonation check, path validation and the response encoding.
func (s *Server) handleFileDownload(w http.ResponseWriter, r *http.Request, ns, table, sub, name string) {
	start := time.Now()
	id, ok := s.authenticateBearer(w, r, start)
	if !ok {
		return
	}
	reader := id
	if target := r.URL.Query().Get("user_id"); r.URL.Query().Has("user_id") && target != id.UserID {
		u, found := s.db.LookupUser(target)
		if !found || u.Deleted {
			writeSQLError(w, http.StatusNotFound, 0, sqlErrorDetail{Code: "INVALID_INPUT", Message: "Requested user was not found"})
			return
		}
		if !canImpersonate(id.Role, u.Role) {
			writeSQLError(w, http.StatusForbidden, 0, sqlErrorDetail{Code: "PERMISSION_DENIED",
				Message: "Impersonation target is not allowed for the current role"})
			return
		}
		// The file is read from the target's partition with the caller's
		// role, which decides shared-table access.
		reader = engine.Identity{UserID: u.ID, Role: id.Role}
	}
	if !validSubfolder(sub) || strings.Contains(name, "..") || strings.ContainsAny(name, "/\\\x00") {
		writeSQLError(w, http.StatusBadRequest, 0, sqlErrorDetail{Code: "INVALID_INPUT", Message: "Invalid file path"})
		return
	}
	data, _, ferr := s.db.ReadFile(reader, ns, table, sub, name)
	if ferr != nil {
		writeFileError(w, ferr)
		return
	}
	safe := strings.Map(func(r rune) rune {
		if r == '"' || r == '\r' || r == '\n' || r == 0 {
			return -1
		}
		return r
	}, name)
	w.Header().Set("Content-Type", guessContentType(name))
	w.Header().Set("Content-Disposition", `inline; filename="`+safe+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// writeFileError encodes an engine.ReadFile failure in the download
// handler's bodies: an unknown table is {"error":"Table 'ns:t' not found"}
// (404), a missing file {"error":"File not found","code":"FILE_NOT_FOUND"}
// (404); the rest (access denied, stream/system tables) are shape A.
func writeFileError(w http.ResponseWriter, e *engine.Error) {
	switch {
	case e.Code == "TABLE_NOT_FOUND" || (e.HTTPStatus == http.StatusNotFound && e.Code != "FILE_NOT_FOUND" && strings.HasPrefix(e.Message, "Table ")):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": e.Message})
	case e.Code == "FILE_NOT_FOUND":
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "File not found", "code": "FILE_NOT_FOUND"})
	default:
		status := e.HTTPStatus
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		writeSQLError(w, status, 0, sqlErrorDetail{Code: e.Code, Message: e.Message})
	}
}

// validSubfolder is FileRef::is_valid_subfolder: "f" and four digits.
func validSubfolder(sub string) bool {
	if len(sub) != 5 || sub[0] != 'f' {
		return false
	}
	for _, c := range sub[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// canImpersonate is can_impersonate_role (kalamdb-session permissions.rs):
// system → anyone; dba → service, user, anonymous; service → user, anonymous.
func canImpersonate(caller, target engine.Role) bool {
	switch caller {
	case engine.RoleSystem:
		return true
	case engine.RoleDBA:
		return target == engine.RoleService || target == engine.RoleUser || target == engine.RoleAnonymous
	case engine.RoleService:
		return target == engine.RoleUser || target == engine.RoleAnonymous
	}
	return false
}

// contentTypes is the subset of mime_guess the download handler's callers
// meet; anything else is application/octet-stream, mime_guess's fallback.
// A fixed table keeps answers independent of the host's mime.types.
var contentTypes = map[string]string{
	"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
	"webp": "image/webp", "svg": "image/svg+xml", "ico": "image/x-icon", "bmp": "image/bmp",
	"tif": "image/tiff", "tiff": "image/tiff", "avif": "image/avif",
	"pdf": "application/pdf", "json": "application/json", "xml": "text/xml",
	"txt": "text/plain", "csv": "text/csv", "html": "text/html", "htm": "text/html",
	"css": "text/css", "js": "application/javascript", "md": "text/markdown",
	"zip": "application/zip", "gz": "application/gzip", "tar": "application/x-tar",
	"mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "mp4": "video/mp4",
	"webm": "video/webm", "mov": "video/quicktime", "wasm": "application/wasm",
	"doc": "application/msword", "xls": "application/vnd.ms-excel",
	"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

func guessContentType(name string) string {
	if ct, ok := contentTypes[strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))]; ok {
		return ct
	}
	return "application/octet-stream"
}

// handleExportDownload is GET /v1/exports/{user_id}/{export_id} (http-api.md
// §7.6). The emulator never produces exports (EXPORT USER DATA is not
// implemented), so after the real auth and ownership checks every export is
// the real "not found".
func (s *Server) handleExportDownload(w http.ResponseWriter, r *http.Request, userID, exportID string) {
	start := time.Now()
	id, ok := s.authenticateBearer(w, r, start)
	if !ok {
		return
	}
	if id.UserID != userID && !id.Role.IsAdmin() {
		writeSQLError(w, http.StatusForbidden, 0, sqlErrorDetail{Code: "PERMISSION_DENIED",
			Message: "You can only download your own exports"})
		return
	}
	for _, seg := range []string{userID, exportID} {
		if strings.Contains(seg, "..") || strings.ContainsAny(seg, "/\\\x00") {
			writeSQLError(w, http.StatusBadRequest, 0, sqlErrorDetail{Code: "INVALID_INPUT", Message: "Invalid export path"})
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "Export not found", "code": "EXPORT_NOT_FOUND"})
}

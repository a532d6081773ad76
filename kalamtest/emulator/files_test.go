package emulator

import (
	"net/http"
	"testing"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// http-api.md §7.5: downloads by stored name, Content-Type from the
// extension, the real 404/403/400 bodies, ?user_id= impersonation.
func TestFileDownload(t *testing.T) {
	e := rootEnv(t)
	type read struct {
		id                   engine.Identity
		ns, table, sub, name string
	}
	var last read
	e.db.readFile = func(id engine.Identity, ns, table, sub, name string) ([]byte, string, *engine.Error) {
		last = read{id, ns, table, sub, name}
		switch table {
		case "missing":
			return nil, "", &engine.Error{Code: "TABLE_NOT_FOUND", HTTPStatus: 404, Message: "Table '" + ns + ":" + table + "' not found"}
		case "private":
			return nil, "", &engine.Error{Code: "PERMISSION_DENIED", HTTPStatus: 403, Message: "Shared table access denied (access_level=Private)"}
		case "events":
			return nil, "", &engine.Error{Code: "INVALID_INPUT", HTTPStatus: 400, Message: "File storage is not supported for stream or system tables"}
		}
		if name == "7-gone.txt" {
			return nil, "", &engine.Error{Code: "FILE_NOT_FOUND", HTTPStatus: 404, Message: "File not found"}
		}
		return []byte("%PDF-1.4 bytes"), "application/x-stored", nil
	}
	alice := e.token("alice", "AlicePass123!")
	svc := e.token("svc", "SvcPass123!")
	get := func(token, path string) response {
		return e.do(http.MethodGet, path, "", nil, "Authorization", "Bearer "+token)
	}

	r := get(alice, "/v1/files/app/docs/f0001/7301-my-report-v2.pdf")
	wantStatus(t, r, http.StatusOK)
	require.Equal(t, "%PDF-1.4 bytes", string(r.body))
	require.Equal(t, "application/pdf", r.header.Get("Content-Type"))
	require.Equal(t, `inline; filename="7301-my-report-v2.pdf"`, r.header.Get("Content-Disposition"), "download %q %v", r.body, r.header)
	require.Equal(t, read{engine.Identity{UserID: "alice", Role: engine.RoleUser}, "app", "docs", "f0001", "7301-my-report-v2.pdf"}, last, "engine read %+v", last)
	for name, ct := range map[string]string{"1-a.png": "image/png", "1-a.TXT": "text/plain", "1.bin": "application/octet-stream", "1-x.unknownext": "application/octet-stream"} {
		got := get(alice, "/v1/files/app/docs/f0001/"+name).header.Get("Content-Type")
		assert.Equal(t, ct, got, "%s: Content-Type %q, want %q", name, got, ct)
	}

	r = get(alice, "/v1/files/app/missing/f0001/1-a.txt")
	wantStatus(t, r, http.StatusNotFound)
	wantJSON(t, r.body, `{"error":"Table 'app:missing' not found"}`)
	r = get(alice, "/v1/files/app/docs/f0001/7-gone.txt")
	wantStatus(t, r, http.StatusNotFound)
	wantJSON(t, r.body, `{"error":"File not found","code":"FILE_NOT_FOUND"}`)
	wantShapeA(t, get(alice, "/v1/files/app/private/f0001/1-a.txt"), 403, "PERMISSION_DENIED", "Shared table access denied (access_level=Private)")
	wantShapeA(t, get(alice, "/v1/files/app/events/f0001/1-a.txt"), 400, "INVALID_INPUT", "File storage is not supported for stream or system tables")
	for _, bad := range []string{"/v1/files/app/docs/x0001/1-a.txt", "/v1/files/app/docs/f01/1-a.txt", "/v1/files/app/docs/f0001/..a", "/v1/files/app/docs/f0001/a%5Cb"} {
		wantShapeA(t, get(alice, bad), 400, "INVALID_INPUT", "Invalid file path")
	}

	// ?user_id=: a user may not read another's files; a service may read a
	// user's; an unknown target is 404 shape A.
	wantShapeA(t, get(alice, "/v1/files/app/docs/f0001/1-a.txt?user_id=svc"), 403, "PERMISSION_DENIED", "Impersonation target is not allowed for the current role")
	wantShapeA(t, get(svc, "/v1/files/app/docs/f0001/1-a.txt?user_id=nobody"), 404, "INVALID_INPUT", "Requested user was not found")
	wantStatus(t, get(svc, "/v1/files/app/docs/f0001/1-a.txt?user_id=alice"), 200)
	require.Equal(t, engine.Identity{UserID: "alice", Role: engine.RoleService}, last.id, "impersonated read as %+v", last.id)
	wantStatus(t, get(alice, "/v1/files/app/docs/f0001/1-a.txt?user_id=alice"), 200)

	// Macro-registered route: a wrong method falls through to 404.
	wantStatus(t, e.do(http.MethodPost, "/v1/files/app/docs/f0001/1-a.txt", "", nil, "Authorization", "Bearer "+alice), 404)
	wantStatus(t, get(alice, "/v1/files/app/docs/f0001"), 404)
}

// http-api.md §7.6: exports need the owner or an admin; the emulator has none.
func TestExportDownload(t *testing.T) {
	e := rootEnv(t)
	alice := e.token("alice", "AlicePass123!")
	wantShapeA(t, e.do(http.MethodGet, "/v1/exports/svc/e1", "", nil, "Authorization", "Bearer "+alice), 403, "PERMISSION_DENIED", "You can only download your own exports")
	r := e.do(http.MethodGet, "/v1/exports/alice/e1", "", nil, "Authorization", "Bearer "+alice)
	wantStatus(t, r, 404)
	wantJSON(t, r.body, `{"error":"Export not found","code":"EXPORT_NOT_FOUND"}`)
	wantShapeB(t, e.do(http.MethodGet, "/v1/exports/alice/e1", "", nil), "MISSING_AUTHORIZATION")
}

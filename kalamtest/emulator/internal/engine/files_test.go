package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFileUpload stores FILE("name") uploads, writes the FileRef JSON the
// server writes and serves the bytes back (sql-model §6, http-api §7).
func TestFileUpload(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.docs (id TEXT PRIMARY KEY, name TEXT, attachment FILE) WITH (TYPE='USER')`)
	data := []byte("hello attachment")
	res, err := e.Execute(Request{Identity: alice, SQL: `INSERT INTO app.docs (id, name, attachment) VALUES ($1, 'My Doc', FILE("myfile"))`,
		Params:  []any{"doc1"},
		Uploads: []Upload{{Placeholder: "myfile", Filename: "My Report_v2.PDF", MimeType: "application/pdf", Data: data}, {Placeholder: "extra", Filename: "x.txt", Data: []byte("x")}}})
	require.Nil(t, err, "upload: %+v", err)
	require.Len(t, res, 1)
	require.Equal(t, "Inserted 1 row(s)", res[0].Message, "upload result %+v", res)
	cell := queryRowsJSON(t, e, alice, `SELECT attachment FROM app.docs WHERE id = 'doc1'`)
	var cells [][]string
	require.NoError(t, json.Unmarshal([]byte(cell), &cells), "FILE cell is not a JSON string: %s", cell)
	var ref map[string]any
	if err := json.Unmarshal([]byte(cells[0][0]), &ref); err != nil {
		require.FailNow(t, fmt.Sprintf("FileRef JSON: %v in %s", err, cells[0][0]))
	}
	sum := sha256.Sum256(data)
	require.EqualValues(t, "f0001", ref["sub"])
	require.EqualValues(t, "My Report_v2.PDF", ref["name"])
	require.EqualValues(t, float64(len(data)), ref["size"])
	require.EqualValues(t, "application/pdf", ref["mime"])
	require.EqualValues(t, hex.EncodeToString(sum[:]), ref["sha256"], "FileRef %v", ref)
	require.True(t, strings.HasPrefix(cells[0][0], `{"id":"`), "FileRef field order: %s", cells[0][0])
	stored := ref["id"].(string) + "-my-report-v2.pdf"
	got, mime, ferr := e.ReadFile(alice, "app", "docs", "f0001", stored)
	require.Nil(t, ferr)
	require.Equal(t, string(data), string(got))
	require.Equal(t, "application/pdf", mime, "ReadFile: %q %q %+v", got, mime, ferr)
	// USER-table files are per user.
	_, _, ferr = e.ReadFile(bob, "app", "docs", "f0001", stored)
	require.NotNil(t, ferr)
	require.Equal(t, "FILE_NOT_FOUND", ferr.Code)
	require.Equal(t, 404, ferr.HTTPStatus, "bob reads alice's file: %+v", ferr)
	for _, c := range []struct{ sub, name, code string }{
		{"x1", stored, "INVALID_INPUT"}, {"f0001", "../etc", "INVALID_INPUT"}, {"f0001", "nope.bin", "FILE_NOT_FOUND"},
	} {
		_, _, ferr := e.ReadFile(alice, "app", "docs", c.sub, c.name)
		assert.False(t, ferr == nil || ferr.Code != c.code, "ReadFile(%s, %s) = %+v, want %s", c.sub, c.name, ferr, c.code)
	}
	_, _, ferr = e.ReadFile(alice, "app", "nope", "f0001", stored)
	require.NotNil(t, ferr)
	require.Equal(t, 404, ferr.HTTPStatus)
	require.Equal(t, "Table 'app:nope' not found", ferr.Message, "unknown table: %+v", ferr)
	// Deleting the row removes its file.
	mustExec(t, e, alice, `DELETE FROM app.docs WHERE id = 'doc1'`)
	_, _, ferr = e.ReadFile(alice, "app", "docs", "f0001", stored)
	require.NotNil(t, ferr)
	require.Equal(t, "FILE_NOT_FOUND", ferr.Code, "file survives its row: %+v", ferr)
}

// TestFileUploadErrors checks the upload path's refusals (http-api §7.1-7.2).
func TestFileUploadErrors(t *testing.T) {
	e := newTestEngine(t, Options{MaxFileSize: 4, MaxFilesPerRequest: 1})
	mustExec(t, e, root, `CREATE TABLE app.docs (id TEXT PRIMARY KEY, f FILE) WITH (TYPE='USER');
		CREATE STREAM TABLE app.s (id TEXT PRIMARY KEY, f FILE) WITH (TTL_SECONDS=10)`)
	up := []Upload{{Placeholder: "f", Filename: "a.txt", Data: []byte("ok")}}
	cases := []struct {
		name, sql string
		uploads   []Upload
		code      string
		msg       string
	}{
		{"batch", `INSERT INTO app.docs (id, f) VALUES ('1', FILE("f")); SELECT 1`, up, "INVALID_INPUT", "File uploads require a single SQL statement"},
		{"too many", `INSERT INTO app.docs (id, f) VALUES ('1', FILE("f"))`, append(up, up...), "TOO_MANY_FILES", "Too many files"},
		{"too large", `INSERT INTO app.docs (id, f) VALUES ('1', FILE("f"))`, []Upload{{Placeholder: "f", Data: []byte("12345")}}, "FILE_TOO_LARGE", "File 'f' exceeds maximum size of 4 bytes"},
		{"select", `SELECT FILE("f")`, up, "INVALID_INPUT", "Could not determine target table"},
		{"stream", `INSERT INTO app.s (id, f) VALUES ('1', FILE("f"))`, up, "INVALID_INPUT", "File uploads are not supported for stream or system tables"},
		{"unknown table", `INSERT INTO app.nope (id, f) VALUES ('1', FILE("f"))`, up, "TABLE_NOT_FOUND", "Table 'app:nope' not found"},
		{"missing part", `INSERT INTO app.docs (id, f) VALUES ('1', FILE("other"))`, up, "SQL_EXECUTION_ERROR", "Statement 1 failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Execute(Request{Identity: alice, SQL: c.sql, Uploads: c.uploads})
			require.NotNil(t, err)
			require.Equal(t, c.code, err.Code, "got %+v, want %s", err, c.code)
			wantContains(t, err.Message, c.msg)
		})
	}
	// Failed uploads leave no file behind.
	rows, err := e.queryRows(`SELECT COUNT(*) FROM _kv_files`)
	require.NoError(t, err)
	require.EqualValues(t, 0, rows[0][0].(int64), "stored files after failures: %v %v", rows, err)
	// An UPDATE replacing the file removes the old one.
	if _, err := e.Execute(Request{Identity: alice, SQL: `INSERT INTO app.docs (id, f) VALUES ('1', FILE("f"))`, Uploads: up}); err != nil {
		require.FailNow(t, fmt.Sprint(err))
	}
	if _, err := e.Execute(Request{Identity: alice, SQL: `UPDATE app.docs SET f = FILE('f') WHERE id = '1'`, Uploads: up}); err != nil {
		require.FailNow(t, fmt.Sprint(err))
	}
	rows, err = e.queryRows(`SELECT COUNT(*) FROM _kv_files`)
	require.NoError(t, err)
	require.EqualValues(t, 1, rows[0][0].(int64), "stored files after replacing update: %v %v", rows, err)
}

// TestStoredName follows FileRef::stored_name (http-api §7.5).
func TestStoredName(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"My Report_v2.PDF", "7-my-report-v2.pdf"},
		{"test-attachment.txt", "7-test-attachment.txt"},
		{"!!!.png", "7.png"},
		{"noext", "7-noext.bin"},
		{"a.verylongextension", "7-a.bin"},
	} {
		got := (fileRef{ID: "7", Name: c.name}).storedName()
		assert.Equal(t, c.want, got, "storedName(%q) = %q, want %q", c.name, got, c.want)
	}
}

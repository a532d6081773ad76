package sdk

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The small multipart encoder writes what mime/multipart writes, byte for
// byte, so the server sees the same form as before it replaced that package.
func TestFormWriterMatchesMimeMultipart(t *testing.T) {
	files := []*fileUpload{
		{placeholder: "doc", filename: `we"ird\name.txt`, mime: "text/plain", r: strings.NewReader("hello"), size: 5},
		{placeholder: "img", filename: "a.png", r: strings.NewReader(""), size: 0},
	}
	u := &upload{sql: "INSERT 1", params: []byte(`[1,"x"]`), namespace: "app", files: files, boundary: "kalam-go-0123456789abcdef"}
	var got bytes.Buffer
	require.NoError(t, u.write(&got, false))

	var want bytes.Buffer
	mw := multipart.NewWriter(&want)
	require.NoError(t, mw.SetBoundary(u.boundary))
	require.NoError(t, mw.WriteField("sql", "INSERT 1"))
	require.NoError(t, mw.WriteField("params", `[1,"x"]`))
	require.NoError(t, mw.WriteField("namespace_id", "app"))
	for _, f := range []struct{ name, file, mime, body string }{
		{"file:doc", `we"ird\name.txt`, "text/plain", "hello"},
		{"file:img", "a.png", "application/octet-stream", ""},
	} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, quoteEscaper.Replace(f.name), quoteEscaper.Replace(f.file)))
		h.Set("Content-Type", f.mime)
		p, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, err = p.Write([]byte(f.body))
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	require.Equal(t, want.String(), got.String())
}

func TestFileRejectsLineBreakInMIMEType(t *testing.T) {
	var q queryConfig
	err := File("doc", "a.txt", "text/plain\r\nX-Evil: 1", strings.NewReader("x"))(&q)
	require.ErrorContains(t, err, "line break")
}

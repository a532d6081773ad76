package sdk

import (
	"bytes"
	"fmt"
	mathrand "math/rand/v2"
	"mime/multipart"
	"net/textproto"
	"regexp"
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

// The redaction scanners match the regular expressions they replace.
func TestRedactionMatchesRegexps(t *testing.T) {
	jwt := regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*`)
	pw := regexp.MustCompile(`(?i)(password\s*)'(?:[^']|'')*'?`)
	oracle := func(s string) string {
		if strings.Contains(s, "eyJ") {
			s = jwt.ReplaceAllString(s, "[REDACTED]")
		}
		return pw.ReplaceAllString(s, "$1'[REDACTED]'")
	}
	cases := []string{
		"", "plain", "token eyJhbGc.eyJzdWIi.sig rest", "eyJ", "eyJabc", "eyJa.b", "xeyJa.b.c.d", "eyJa..b",
		"CREATE USER u WITH PASSWORD 'se''cret' ROLE x", "password'", "PassWord  \t'x", "password 'a'' ",
		"password x 'y'", "paſſword 'k'", "password 'a' and password 'b'", "passwordpassword'z'", "pass word 'x'",
		"é password\n'ü' eyJé.x", "password''''", "PASSWORD ''", "eyJx.eyJy.'password 'q'",
	}
	for _, c := range cases {
		require.Equal(t, oracle(c), redactSecrets(c), "input %q", c)
	}
	// Random strings over the characters that matter.
	alphabet := []string{"eyJ", ".", "a", "_", " ", "'", "password", "PASS", "word", "ſ", "\t", "é", "-", "Z"}
	r := mathrand.New(mathrand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		require.Equal(t, oracle(b.String()), redactSecrets(b.String()), "input %q", b.String())
	}
}

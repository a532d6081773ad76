package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kalamstack/kalam-go/transport/mock"
	"github.com/stretchr/testify/require"
)

// leadingInt reads header integers as fmt.Sscanf("%d") did.
func TestLeadingIntMatchesSscanf(t *testing.T) {
	for _, v := range []string{"0", "300", " 12", "\t7", "+5", "-3", "12abc", "1.5", "", " ", "abc", "-", "+",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "0x10", "1_000", "٣"} {
		var want int64
		_, err := fmt.Sscanf(v, "%d", &want)
		got, ok := leadingInt(v)
		require.Equal(t, err == nil, ok, "input %q", v)
		if ok {
			require.Equal(t, want, got, "input %q", v)
		}
	}
}

// quoteEscaper escapes as the strings.Replacer it replaced did.
func TestQuoteEscaperMatchesReplacer(t *testing.T) {
	old := strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "")
	for _, s := range []string{"", "a", `a"b`, `a\b`, "a\r\nb", `\"`, "é\"\\\n", "plain name.txt"} {
		require.Equal(t, old.Replace(s), quoteEscaper.Replace(s), "input %q", s)
	}
}

// encodeSQLRequest writes json.Marshal's bytes for the struct it replaced.
func TestEncodeSQLRequestMatchesMarshal(t *testing.T) {
	type sqlRequest struct {
		SQL         string          `json:"sql"`
		Params      json.RawMessage `json:"params,omitempty"`
		NamespaceID string          `json:"namespace_id,omitempty"`
	}
	for _, c := range []struct{ sql, params, ns string }{
		{"SELECT 1", "", ""},
		{"SELECT $1, '<&>' \u2028 é \xff", `[1,"a<b",null,2.5]`, "app"},
		{"", ` [ {"a" : 1} ] `, ""},
		{"x", `[`, "ns"},
	} {
		want, werr := json.Marshal(sqlRequest{SQL: c.sql, Params: json.RawMessage(c.params), NamespaceID: c.ns})
		got, gerr := encodeSQLRequest(c.sql, []byte(c.params), c.ns)
		if werr != nil {
			require.ErrorContains(t, gerr, werr.Error())
			continue
		}
		require.NoError(t, gerr)
		require.Equal(t, string(want), string(got))
	}
}

// The login body is json.Marshal's bytes for the map of user and password.
func TestLoginBodyMatchesMarshal(t *testing.T) {
	bodies := make(chan []byte, 1)
	rec := mock.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"a1","user":{"id":"u"}}`))
	}))
	c, err := New("http://kalamdb.test", WithTransport(rec))
	require.NoError(t, err)
	_, err = c.Login(context.Background(), "r<o>&t\u2028", `p"w\`)
	require.NoError(t, err)
	body := <-bodies
	want, err := json.Marshal(map[string]string{"user": "r<o>&t\u2028", "password": `p"w\`})
	require.NoError(t, err)
	require.Equal(t, string(want), string(body))
}

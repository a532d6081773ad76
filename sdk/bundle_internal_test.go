package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonlite"
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

// jsonlite (the browser builds' decoder) gives encoding/json's values and
// errors for every type the SDK decodes through jsonscan.Unmarshal.
func FuzzJSONLiteAgreesOnSDKTypes(f *testing.F) {
	for _, s := range []string{
		`{"user":{"id":"u","role":"dba","email":"e","created_at":"2024-01-02T03:04:05Z","updated_at":"2024-01-02T03:04:05.123456+02:00"},"admin_ui_access":true,"expires_at":"2025-01-01T00:00:00Z","access_token":"a","refresh_token":"r","refresh_expires_at":"2025-02-01T00:00:00Z"}`,
		`{"user":{"id":"u","created_at":"yesterday"},"expires_at":12}`,
		`{"user":{"created_at":"2024-01-02T3:04:05,5-07:30","updated_at":null},"expires_at":"2025-01-01T00:00:00+24:00"}`,
		`{"expires_at":"2024-02-30T00:00:00Z"}`, `{"expires_at":"2024-01-02T03:04:05Zx"}`, `{"refresh_expires_at":["2024"]}`,
		`{"status":"success","results":[{"schema":[{"name":"a","data_type":{"Decimal":{"precision":1,"scale":0}},"index":0,"flags":["pk"]}],"rows":[["1"]],"row_count":1,"as_user":"u"}],"took":1.5,"error":null}`,
		`{"status":"error","results":[],"took":1.23,"error":{"code":"INVALID_SQL","message":"m","details":"d"}}`,
		`{"error":"bad","code":"X","message":"m"}`, `{"error":{"code":1}}`, `{"Status":"success","results":null,"took":"1"}`,
		`{"id":"f","sub":"s","name":"n.txt","size":12,"mime":"text/plain","sha256":"ab","shard":3}`,
		`{"Decimal":{"precision":10,"scale":2}}`, `{"Embedding":384}`, `"Text"`, `[1.5,2,3e2]`, `[1,2,300]`,
		`{"user":"\ud800","x":[1,{"y":null}]}`, `{"status":"a"`, `[1,2,]`, ``,
	} {
		f.Add([]byte(s))
	}
	targets := []func() any{
		func() any { return new(LoginResponse) }, func() any { return new(sqlResponse) },
		func() any { return new(errorBody) }, func() any { return new(nestedError) },
		func() any { return new(FileRef) }, func() any { return new(map[string]json.RawMessage) },
		func() any { return new(string) }, func() any { return new(int) }, func() any { return new([]float32) },
		func() any { return new([]int) }, func() any { return new(Me) }, func() any { return new(SetupStatus) },
		func() any { return new(SetupResponse) }, func() any { return new(wireConsumeResponse) },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, mk := range targets {
			want, got := mk(), mk()
			werr := json.Unmarshal(body, want)
			gerr := jsonlite.Unmarshal(body, got)
			if werr != nil {
				require.Error(t, gerr, "%T from %q", want, body)
				require.Equal(t, werr.Error(), gerr.Error(), "%T from %q", want, body)
				continue
			}
			require.NoError(t, gerr, "%T from %q", want, body)
			require.Equal(t, want, got, "%T from %q", want, body)
		}
	})
}

// UUID's UnmarshalText is for Scan; no type the SDK decodes through
// jsonlite holds one, and jsonlite refuses it rather than decode it
// unlike encoding/json (it calls no UnmarshalText, see jsonlite.Unmarshaler).
func TestJSONLiteRefusesUUID(t *testing.T) {
	var u UUID
	require.NoError(t, json.Unmarshal([]byte(`"6ba7b810-9dad-11d1-80b4-00c04fd430c8"`), &u))
	require.ErrorContains(t, jsonlite.Unmarshal([]byte(`"6ba7b810-9dad-11d1-80b4-00c04fd430c8"`), &u), "unsupported Go type")
}

// The bodies still encoded through jsonscan.Marshal (jsonlite's in browser
// builds) come out as json.Marshal writes them.
func TestJSONLiteMarshalAgreesOnSDKRequests(t *testing.T) {
	for _, v := range []any{
		SetupRequest{User: "dba", Password: `p"<>`, RootPassword: "r\u2028"},
		SetupRequest{User: "dba", Email: "a@b"},
		consumeRequest{TopicID: "app.t", GroupID: "g", Start: "Earliest", Limit: 100, PartitionID: 2, TimeoutSeconds: 30},
		consumeRequest{Start: map[string]any{"Offset": uint64(1) << 60}},
		consumeRequest{Start: map[string]uint64{"Offset": 7}},
		consumeRequest{Start: startOffset{1<<64 - 1}},
		struct {
			TopicID     string `json:"topic_id"`
			GroupID     string `json:"group_id"`
			PartitionID uint32 `json:"partition_id"`
			UptoOffset  uint64 `json:"upto_offset"`
		}{"t", "g", 1, 1<<64 - 1},
	} {
		want, err := json.Marshal(v)
		require.NoError(t, err)
		got, err := jsonlite.Marshal(v)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
}

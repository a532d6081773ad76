package emulator

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// benchPost posts one SQL body and fails the benchmark on a non-200.
func benchPost(b *testing.B, client *http.Client, url, token, body string) {
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/api/sql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	require.NoError(b, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(b, http.StatusOK, resp.StatusCode, "status %d for %s", resp.StatusCode, body)
}

func benchEnv(b *testing.B) (string, string, *http.Client) {
	s, url := engineEnv(b, Options{SQLRateLimit: -1})
	token, err := s.AccessToken("root")
	require.NoError(b, err)
	client := &http.Client{}
	benchPost(b, client, url, token, `{"sql":"CREATE NAMESPACE app"}`)
	benchPost(b, client, url, token, `{"sql":"CREATE TABLE app.items (id BIGINT PRIMARY KEY, name TEXT, qty INT) WITH (TYPE = 'SHARED')"}`)
	return url, token, client
}

// BenchmarkInsertRoundTrip is one parameterised INSERT over loopback HTTP.
func BenchmarkInsertRoundTrip(b *testing.B) {
	url, token, client := benchEnv(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchPost(b, client, url, token, fmt.Sprintf(`{"sql":"INSERT INTO app.items (id, name, qty) VALUES ($1, $2, $3)","params":[%d,"item",%d]}`, i, i%100))
	}
}

// BenchmarkSelectRoundTrip is one 10-row SELECT (streamed shape) over
// loopback HTTP.
func BenchmarkSelectRoundTrip(b *testing.B) {
	url, token, client := benchEnv(b)
	for i := 0; i < 10; i++ {
		benchPost(b, client, url, token, fmt.Sprintf(`{"sql":"INSERT INTO app.items (id, name, qty) VALUES (%d, 'item', %d)"}`, i, i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchPost(b, client, url, token, `{"sql":"SELECT id, name, qty FROM app.items LIMIT 10"}`)
	}
}

package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/kalamtest/emulator"
	"github.com/kalamstack/kalam-go/sdk"
)

// BenchmarkQueryRoundTrip compares one SELECT through the SDK with the same
// request made with bare net/http and encoding/json, against one emulator.
// The difference is the SDK's overhead.
func BenchmarkQueryRoundTrip(b *testing.B) {
	srv := kalamtest.NewServer(b, kalamtest.WithEmulatorOptions(func(o *emulator.Options) { o.SQLRateLimit = -1 }))
	const query = "SELECT 1 AS ok, 'hello' AS greeting"
	ctx := context.Background()

	b.Run("sdk", func(b *testing.B) {
		c, err := sdk.New(srv.URL, sdk.WithBasicAuth(srv.RootUser, srv.RootPassword))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.ReportAllocs()
		for b.Loop() {
			res, err := c.Query(ctx, query)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := res.Rows()[0].Int64("ok"); err != nil || n != 1 {
				b.Fatalf("ok = %d, %v", n, err)
			}
		}
	})

	b.Run("nethttp", func(b *testing.B) {
		hc := &http.Client{}
		loginBody, _ := json.Marshal(map[string]string{"user": srv.RootUser, "password": srv.RootPassword})
		resp, err := hc.Post(srv.URL+"/v1/api/auth/login", "application/json", bytes.NewReader(loginBody))
		if err != nil {
			b.Fatal(err)
		}
		var login struct {
			AccessToken string `json:"access_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&login)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		body, _ := json.Marshal(map[string]string{"sql": query})
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/api/sql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+login.AccessToken)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var out struct {
				Status  string `json:"status"`
				Results []struct {
					Rows [][]json.RawMessage `json:"rows"`
				} `json:"results"`
			}
			err = json.NewDecoder(resp.Body).Decode(&out)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || out.Status != "success" {
				b.Fatal(fmt.Errorf("status %d: %v", resp.StatusCode, err))
			}
			if string(out.Results[0].Rows[0][0]) != `"1"` {
				b.Fatalf("ok = %s", out.Results[0].Rows[0][0])
			}
		}
	})
}

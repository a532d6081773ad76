//go:build !js

package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/wasm/chromium"
)

// waitFor is a page-side wait: a promise that resolves when cond (a JS
// expression) is truthy, checked on each DOM change, or rejects after ms.
func waitFor(cond string, ms int) string {
	return fmt.Sprintf(`new Promise((resolve, reject) => {
  const check = () => { try { return !!(%s); } catch (e) { return false; } };
  if (check()) return resolve(true);
  const obs = new MutationObserver(() => { if (check()) { obs.disconnect(); resolve(true); } });
  obs.observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
  setTimeout(() => { obs.disconnect(); reject(new Error("timed out waiting for: " + %q + "; status: " + (document.getElementById("status") || {}).textContent)); }, %d);
})`, cond, cond, ms)
}

func openPage(t testing.TB, ctx context.Context, b *chromium.Browser, url string) *chromium.Tab {
	tab, err := b.NewTab(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, tab.Call(ctx, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": 720, "height": 400, "deviceScaleFactor": 1, "mobile": false}, nil))
	require.NoError(t, tab.Call(ctx, "Page.navigate", map[string]any{"url": url}, nil))
	require.NoError(t, tab.Eval(ctx, waitFor(`document.querySelector("#notes[data-ready]")`, 60000), nil))
	return tab
}

func launch(t testing.TB) *chromium.Browser {
	if _, err := chromium.Find(); err != nil {
		t.Skip(err) // CI installs chromium and runs this package (.ci/run)
	}
	b, err := chromium.Launch()
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// The page shows a row inserted from Go, and a row typed into its form
// reaches the database. KALAM_SCREENSHOT=path saves a PNG of the page.
func TestPageShowsLiveRows(t *testing.T) {
	b := launch(t)
	srv, err := start("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tab := openPage(t, ctx, b, srv.URL)

	client, err := sdk.New(srv.Target.URL, sdk.WithBasicAuth(srv.Target.User, srv.Target.Password))
	require.NoError(t, err)
	defer client.Close()
	live, err := client.LiveRows(ctx, "SELECT id, body FROM "+Table)
	require.NoError(t, err)
	defer live.Close()
	_, err = live.Next(ctx) // the snapshot
	require.NoError(t, err)

	for i, note := range []string{"Ship the browser example", "Inserted from Go at " + time.Now().Format("15:04:05")} {
		_, err = client.Query(ctx, "INSERT INTO "+Table+" (id, body) VALUES ($1, $2)", sdk.Args(int64(1000+i), note))
		require.NoError(t, err)
		require.NoError(t, tab.Eval(ctx, waitFor(fmt.Sprintf(`document.querySelector("#notes tbody").textContent.includes(%q)`, note), 10000), nil))
	}

	const typed = "Typed into the page's form"
	require.NoError(t, tab.Eval(ctx, fmt.Sprintf(`document.getElementById("body").value = %q; document.querySelector("#add button").click()`, typed), nil))
	for found := false; !found; {
		rows, err := live.Next(ctx)
		require.NoError(t, err)
		found = slices.ContainsFunc(rows, func(r sdk.Row) bool { s, _ := r.String("body"); return s == typed })
	}
	require.NoError(t, tab.Eval(ctx, waitFor(fmt.Sprintf(`document.querySelector("#notes tbody").textContent.includes(%q)`, typed), 10000), nil))

	if path := os.Getenv("KALAM_SCREENSHOT"); path != "" {
		var shot struct{ Data string }
		require.NoError(t, tab.Call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot))
		png, err := base64.StdEncoding.DecodeString(shot.Data)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, png, 0o644))
	}
}

// BenchmarkPageLoadToFirstQuery opens the page in b.N fresh tabs and
// reports the median time from navigation start to the SDK's first
// answered query (login included):
//
//	go test -run XXX -bench PageLoad -benchtime 5x ./examples/browser
func BenchmarkPageLoadToFirstQuery(b *testing.B) {
	br := launch(b)
	srv, err := start("127.0.0.1:0")
	require.NoError(b, err)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var ms []float64
	for b.Loop() {
		tab := openPage(b, ctx, br, srv.URL)
		var v float64
		require.NoError(b, tab.Eval(ctx, "kalamFirstQueryMs", &v))
		ms = append(ms, v)
		require.NoError(b, tab.Close(ctx))
	}
	slices.Sort(ms)
	b.ReportMetric(ms[len(ms)/2], "ms-to-first-query(median)")
	b.Logf("page load to first query, %d fresh tabs: %v ms", len(ms), ms)
}

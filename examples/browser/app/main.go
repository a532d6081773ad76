//go:build js && wasm

// Command app is the browser side of examples/browser: the SDK compiled
// to WebAssembly keeps a table on the page in step with a KalamDB table
// (LiveRows) and inserts the rows typed into the form.
package main

import (
	"context"
	"fmt"
	"strconv"
	"syscall/js"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
)

var doc = js.Global().Get("document")

func byID(id string) js.Value { return doc.Call("getElementById", id) }

func setStatus(format string, args ...any) {
	byID("status").Set("textContent", fmt.Sprintf(format, args...))
}

func main() {
	cfg := js.Global().Get("kalamConfig")
	table := cfg.Get("table").String()
	client, err := sdk.New(cfg.Get("url").String(), sdk.WithBasicAuth(cfg.Get("user").String(), cfg.Get("password").String()))
	if err != nil {
		setStatus("%v", err)
		return
	}
	if err := run(context.Background(), client, table); err != nil {
		setStatus("%v", err)
	}
	select {} // the page keeps calling in (the form)
}

func run(ctx context.Context, client *sdk.Client, table string) error {
	setStatus("connecting to %s…", client.BaseURL())
	ns := table[:len(table)-len(".notes")]
	if _, err := client.Query(ctx, "CREATE NAMESPACE IF NOT EXISTS "+ns); err != nil {
		return err
	}
	// Page load to the first answered query (login included), for the
	// example's benchmark.
	js.Global().Set("kalamFirstQueryMs", js.Global().Get("performance").Call("now"))
	if _, err := client.Query(ctx, "CREATE TABLE IF NOT EXISTS "+table+" (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE='SHARED')"); err != nil {
		return err
	}
	live, err := client.LiveRows(ctx, "SELECT id, body FROM "+table)
	if err != nil {
		return err
	}
	go func() {
		for rows, err := range live.Updates(ctx) {
			if err != nil {
				setStatus("live query: %v", err)
				continue
			}
			render(rows)
			setStatus("live: %d rows, updated %s", len(rows), time.Now().Format("15:04:05"))
		}
	}()

	input := byID("body")
	byID("add").Call("addEventListener", "submit", js.FuncOf(func(_ js.Value, args []js.Value) any {
		args[0].Call("preventDefault")
		body := input.Get("value").String()
		input.Set("value", "")
		// Never block a JavaScript callback: the query runs on a goroutine.
		go func() {
			id := time.Now().UnixMicro()
			if _, err := client.Query(ctx, "INSERT INTO "+table+" (id, body) VALUES ($1, $2)", sdk.Args(id, body)); err != nil {
				setStatus("insert: %v", err)
			}
		}()
		return nil
	}))
	return nil
}

// render replaces the table body; textContent keeps row text out of HTML.
func render(rows []sdk.Row) {
	tbody := byID("notes").Call("querySelector", "tbody")
	tbody.Set("textContent", "")
	for _, r := range rows {
		id, _ := r.Int64("id")
		body, _ := r.String("body")
		tr := doc.Call("createElement", "tr")
		for i, text := range []string{strconv.FormatInt(id, 10), body} {
			td := doc.Call("createElement", "td")
			if i == 0 {
				td.Set("className", "id")
			}
			td.Set("textContent", text)
			tr.Call("appendChild", td)
		}
		tbody.Call("appendChild", tr)
	}
	byID("notes").Call("setAttribute", "data-ready", "true")
}

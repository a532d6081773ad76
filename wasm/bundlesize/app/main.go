//go:build js && wasm

// Command app is the minimal browser app whose size CI checks
// (wasm/bundlesize): connect, one query, one subscription.
package main

import (
	"context"
	"fmt"
	"syscall/js"

	"github.com/kalamstack/kalam-go/sdk"
)

func main() {
	url := js.Global().Get("location").Get("origin").String()
	client, err := sdk.New(url, sdk.WithBasicAuth("root", "secret"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	ctx := context.Background()
	if err := client.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	res, err := client.Query(ctx, "SELECT 1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res)
	sub, err := client.Subscribe(ctx, "SELECT * FROM app.items")
	if err != nil {
		fmt.Println(err)
		return
	}
	ev, err := sub.Next(ctx)
	fmt.Println(ev, err)
}

//go:build !js && !wasip1

package sdk_test

import (
	"context"
	"fmt"
	"log"

	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/sdk"
)

func ExampleWithEndpoints() {
	url, stop := startEmulator()
	defer stop()
	// Three fault proxies in front of one emulator stand in for the three
	// nodes of a cluster here; a real program lists its nodes' URLs.
	var nodes []*kalamtest.Proxy
	for range 3 {
		p, err := kalamtest.StartProxy(url)
		if err != nil {
			log.Fatal(err)
		}
		defer p.Close()
		nodes = append(nodes, p)
	}

	client, err := sdk.New(nodes[0].URL,
		sdk.WithEndpoints(nodes[1].URL, nodes[2].URL),
		sdk.WithBasicAuth("root", "RootPass123!"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()

	nodes[0].Kill() // the first node dies
	res, err := client.Query(ctx, "SELECT 1 AS ok")
	if err != nil {
		log.Fatal(err)
	}
	ok, _ := res.Rows()[0].Int64("ok")
	fmt.Println(ok, client.BaseURL() == nodes[1].URL)
	// Output: 1 true
}

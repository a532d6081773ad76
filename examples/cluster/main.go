// Command cluster shows a client riding out the loss of the KalamDB node it
// uses: it subscribes to a table, writes, loses its node, and writes on;
// the subscription sees every row once and the events say which node
// serves it.
//
// With KALAMDB_URLS (comma-separated node URLs, with KALAMDB_USER /
// KALAMDB_PASSWORD) it talks to that cluster and asks you to stop the node
// in use. Otherwise it puts three local "nodes" (fault proxies) in front of
// one server, the one KALAMDB_URL names or an embedded emulator, and kills
// the first itself.
//
//	go run ./examples/cluster
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kalamstack/kalam-go/examples/internal/target"
	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/sdk"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

// cluster is the nodes the example uses and how to lose the first.
type cluster struct {
	urls           []string
	user, password string
	killFirst      func() // nil: the user stops a node by hand
	close          func()
}

func startCluster() (*cluster, error) {
	if env := os.Getenv("KALAMDB_URLS"); env != "" {
		c := &cluster{urls: strings.Split(env, ","), user: os.Getenv("KALAMDB_USER"), password: os.Getenv("KALAMDB_PASSWORD"), close: func() {}}
		if c.user == "" {
			c.user = "root"
		}
		return c, nil
	}
	srv, err := target.Get("ClusterRoot1!")
	if err != nil {
		return nil, err
	}
	c := &cluster{user: srv.User, password: srv.Password}
	var proxies []*kalamtest.Proxy
	for range 3 {
		p, err := kalamtest.StartProxy(srv.URL)
		if err != nil {
			return nil, err
		}
		proxies = append(proxies, p)
		c.urls = append(c.urls, p.URL)
	}
	c.killFirst = func() { proxies[0].Kill() }
	c.close = func() {
		for _, p := range proxies {
			p.Close()
		}
		srv.Close()
	}
	fmt.Println("three local nodes in front of", srv.URL+":", strings.Join(c.urls, ", "))
	return c, nil
}

func run(ctx context.Context) error {
	cl, err := startCluster()
	if err != nil {
		return err
	}
	defer cl.close()

	client, err := sdk.New("", sdk.WithEndpoints(cl.urls...), sdk.WithBasicAuth(cl.user, cl.password),
		sdk.WithConnectionEvents(func(ev sdk.ConnectionEvent) {
			fmt.Printf("  websocket %s on %s\n", ev.Kind, ev.Node)
		}))
	if err != nil {
		return err
	}
	defer client.Close()

	table := "demo.events_" + strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	for _, sql := range []string{
		"CREATE NAMESPACE IF NOT EXISTS demo",
		"CREATE TABLE " + table + " (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE='SHARED', ACCESS_LEVEL='public')",
	} {
		if _, err := client.Query(ctx, sql); err != nil {
			return err
		}
	}
	sub, err := client.Subscribe(ctx, "SELECT * FROM "+table)
	if err != nil {
		return err
	}
	defer sub.Close()

	write := func(from, to int) error {
		for i := from; i < to; i++ {
			// A transaction: the writes a KalamDB cluster replicates.
			if _, err := client.Query(ctx, fmt.Sprintf("BEGIN; INSERT INTO %s (id, body) VALUES (%d, 'row %d'); COMMIT", table, i, i)); err != nil {
				return fmt.Errorf("write %d through %s: %w", i, client.BaseURL(), err)
			}
		}
		return nil
	}
	if err := write(0, 5); err != nil {
		return err
	}
	fmt.Println("> wrote rows 0-4 through", client.BaseURL())

	first := client.BaseURL()
	if cl.killFirst != nil {
		cl.killFirst()
		fmt.Println("> node", first, "died")
	} else {
		fmt.Printf("> stop the node at %s now, then press Enter\n", first)
		fmt.Scanln()
	}
	if err := write(5, 10); err != nil {
		return err
	}
	fmt.Println("> wrote rows 5-9 through", client.BaseURL())

	seen := map[int64]int{}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(seen) < 10 {
		ev, err := sub.Next(wait)
		if err != nil {
			return fmt.Errorf("subscription after %d rows: %w", len(seen), err)
		}
		var rows []sdk.Row
		switch e := ev.(type) {
		case *sdk.InitialRows:
			rows = e.Rows
		case *sdk.Insert:
			rows = e.Rows
		}
		for _, r := range rows {
			id, err := r.Int64("id")
			if err != nil {
				return err
			}
			seen[id]++
		}
	}
	for id, n := range seen {
		if n != 1 {
			return fmt.Errorf("row %d delivered %d times", id, n)
		}
	}
	if client.BaseURL() == first {
		return fmt.Errorf("the client still uses %s, the node that stopped", first)
	}
	fmt.Printf("> the subscription saw rows 0-9 once each; the client now uses %s\n", client.BaseURL())
	return nil
}

//go:build !js

package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/sdk/internal/realtime/fakews"
	"github.com/kalamstack/kalam-go/transport/mock"
)

// exampleServer stands in for KalamDB: a real program passes only the
// server URL and credentials to sdk.New.
func exampleServer() (*fakews.Server, sdk.Option) {
	srv := fakews.New()
	return srv, sdk.WithTransport(mock.New(srv))
}

func ExampleClient_Subscribe() {
	srv, tr := exampleServer()
	srv.Insert("app.messages", "m1", map[string]any{"body": "hello"})
	client, err := sdk.New("http://localhost:8080", tr, sdk.WithToken("<jwt>"))
	if err != nil {
		panic(err)
	}
	defer client.Close()
	ctx := context.Background()

	sub, err := client.Subscribe(ctx, "SELECT * FROM app.messages", sdk.BatchSize(500))
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	for ev, err := range sub.Events(ctx) {
		switch {
		case errors.Is(err, sdk.ErrOverflow):
			continue // not fatal: the subscription resyncs (InitialRows with Resumed) and goes on
		case errors.Is(err, context.Canceled):
			return // ctx was cancelled: the normal way to stop, as is sub.Close (no error)
		case err != nil:
			panic(err) // fatal: the loop ends after any other error
		}
		switch e := ev.(type) {
		case *sdk.Ack:
			fmt.Println("columns:", len(e.Columns))
		case *sdk.InitialRows:
			for _, row := range e.Rows {
				body, _ := row.String("body")
				fmt.Println("snapshot:", body)
			}
			if e.Ready {
				srv.Insert("app.messages", "m2", map[string]any{"body": "world"})
			}
		case *sdk.Insert:
			body, _ := e.Rows[0].String("body")
			fmt.Println("inserted:", body)
			sub.Close() // ends the loop
		}
	}
	// Output:
	// columns: 5
	// snapshot: hello
	// inserted: world
}

func ExampleClient_LiveRows() {
	srv, tr := exampleServer()
	srv.Insert("app.todos", "t1", map[string]any{"body": "write docs"})
	client, err := sdk.New("http://localhost:8080", tr, sdk.WithToken("<jwt>"))
	if err != nil {
		panic(err)
	}
	defer client.Close()
	ctx := context.Background()

	live, err := client.LiveRows(ctx, "SELECT * FROM app.todos", sdk.Limit(100))
	if err != nil {
		panic(err)
	}
	defer live.Close()
	for rows, err := range live.Updates(ctx) {
		switch {
		case errors.Is(err, sdk.ErrOverflow):
			continue // not fatal: a whole, fresh row set follows
		case err != nil:
			panic(err) // fatal (a cancelled ctx ends here too, with context.Canceled)
		}
		fmt.Println(len(rows), "todos")
		if len(rows) == 1 {
			srv.Insert("app.todos", "t2", map[string]any{"body": "ship"})
		} else {
			live.Close()
		}
	}
	// Output:
	// 1 todos
	// 2 todos
}

// A client that keeps big snapshot rows within 8 MiB per message, and is
// told when a stalled link may have cost it changes (it resyncs itself).
func ExampleWithStallThreshold() {
	srv, tr := exampleServer()
	srv.Insert("app.messages", "m1", map[string]any{"body": "hello"})
	client, err := sdk.New("http://localhost:8080", tr, sdk.WithToken("<jwt>"),
		sdk.WithMaxMessageSize(8<<20),
		sdk.WithStallThreshold(2*time.Second),
		sdk.WithConnectionEvents(func(ev sdk.ConnectionEvent) {
			if errors.Is(ev.Err, sdk.ErrLinkStalled) {
				log.Printf("link stalled; subscriptions resync: %v", ev.Err)
			}
		}))
	if err != nil {
		panic(err)
	}
	defer client.Close()
	sub, err := client.Subscribe(context.Background(), "SELECT * FROM app.messages")
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	fmt.Println("subscribed")
	// Output:
	// subscribed
}

// A wrong password is tried once: KalamDB locks an account after five
// failures, so the client never sends a refused password again.
func ExampleWithBasicAuth_rejected() {
	srv := fakews.New()
	login := mock.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/api/auth/login" {
			srv.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"unauthorized","message":"Invalid credentials"}`)
	}))
	client, err := sdk.New("http://localhost:8080", sdk.WithTransport(login), sdk.WithBasicAuth("alice", "wrong"))
	if err != nil {
		panic(err)
	}
	defer client.Close()
	_, err = client.Subscribe(context.Background(), "SELECT * FROM app.messages")
	fmt.Println(errors.Is(err, sdk.ErrInvalidCredentials), errors.Is(err, sdk.ErrAccountLocked))
	// Output:
	// true false
}

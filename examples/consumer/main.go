// Command consumer is the Go twin of the official Rust SDK's "Topic
// Consumers" example: a billing worker reads a topic fed by a table's
// changes, marks each record processed and commits, then runs a handler
// loop that stops cleanly.
//
// With KALAMDB_URL set (and KALAMDB_USER / KALAMDB_PASSWORD, default root)
// it talks to that server; otherwise it starts an embedded KalamDB emulator
// on 127.0.0.1.
//
//	go run ./examples/consumer
package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/kalamstack/kalam-go/examples/internal/target"
	"github.com/kalamstack/kalam-go/sdk"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	srv, err := target.Get("ConsumerRoot1!")
	if err != nil {
		return err
	}
	defer srv.Close()

	client, err := sdk.New(srv.URL, sdk.WithBasicAuth(srv.User, srv.Password))
	if err != nil {
		return err
	}
	defer client.Close()

	// A table whose inserts and updates feed the topic orders.events. Topics
	// have no IF NOT EXISTS, so a rerun against a real server tolerates
	// "already exists".
	for _, sql := range []string{
		"CREATE NAMESPACE IF NOT EXISTS orders",
		"CREATE TABLE IF NOT EXISTS orders.placed (id BIGINT PRIMARY KEY, customer TEXT, cents BIGINT) WITH (TYPE = 'SHARED')",
		"CREATE TOPIC orders.events",
		"ALTER TOPIC orders.events ADD SOURCE orders.placed ON INSERT",
		"ALTER TOPIC orders.events ADD SOURCE orders.placed ON UPDATE",
	} {
		if _, err := client.Query(ctx, sql); err != nil && !strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	base := time.Now().UnixMilli()
	for i, customer := range []string{"ada", "grace", "linus"} {
		if _, err := client.Query(ctx, "INSERT INTO orders.placed (id, customer, cents) VALUES ($1, $2, $3)",
			sdk.Args(base+int64(i), customer, int64(1999*(i+1)))); err != nil {
			return err
		}
	}

	// The seed example: poll, mark, commit synchronously, close.
	consumer, err := client.Consumer(sdk.ConsumerConfig{
		Group:           "billing-worker",
		Topic:           "orders.events",
		AutoOffsetReset: sdk.Earliest,
		ManualCommit:    true,
		MaxPollRecords:  25,
		PollTimeout:     10 * time.Second,
	})
	if err != nil {
		return err
	}
	records, err := consumer.Poll(ctx)
	if err != nil {
		return err
	}
	for _, record := range records {
		row, err := record.Row()
		if err != nil {
			return err
		}
		customer, err := row.String("customer")
		if err != nil {
			return err
		}
		fmt.Printf("offset=%d op=%s table=%s customer=%s bytes=%d\n", record.Offset, record.Op, record.Table, customer, len(record.Payload))
		if err := consumer.MarkProcessed(record); err != nil {
			return err
		}
	}
	commit, err := consumer.Commit(ctx)
	if err != nil {
		return err
	}
	fmt.Println("committed offset", commit.Offset)
	if err := consumer.Close(ctx); err != nil {
		return err
	}

	// The same worker as a handler loop with auto commit: Run returns nil
	// when ctx ends, after committing what was handled.
	if _, err := client.Query(ctx, "UPDATE orders.placed SET cents = cents + 1 WHERE id = $1", sdk.Args(base)); err != nil {
		return err
	}
	worker, err := client.Consumer(sdk.ConsumerConfig{Group: "billing-worker", Topic: "orders.events", PollTimeout: time.Second})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	err = worker.Run(runCtx, func(ctx context.Context, rec sdk.Record) error {
		row, err := rec.Row()
		if err != nil {
			return err
		}
		cents, err := row.Int64("cents")
		if err != nil {
			return err
		}
		fmt.Printf("run: offset=%d op=%s cents=%d\n", rec.Offset, rec.Op, cents)
		stop() // one record is enough for the example
		return nil
	})
	stop()
	if err != nil {
		return err
	}
	return worker.Close(ctx)
}

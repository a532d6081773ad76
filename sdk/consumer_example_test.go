package sdk_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
)

// The official Rust SDK's "Topic Consumers" example in Go.
func ExampleClient_Consumer() {
	ctx := context.Background()
	client, err := sdk.New("http://localhost:8080", sdk.WithBasicAuth("admin", "AdminPass123!"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	consumer, err := client.Consumer(sdk.ConsumerConfig{
		Group:           "billing-worker",
		Topic:           "orders.events",
		AutoOffsetReset: sdk.Earliest,
		ManualCommit:    true,
		MaxPollRecords:  25,
		PollTimeout:     10 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	records, err := consumer.Poll(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, record := range records {
		fmt.Printf("offset=%d bytes=%d\n", record.Offset, len(record.Payload))
		if err := consumer.MarkProcessed(record); err != nil {
			log.Fatal(err)
		}
	}
	commit, err := consumer.Commit(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("committed offset", commit.Offset)
	if err := consumer.Close(ctx); err != nil {
		log.Fatal(err)
	}
}

// A worker loop: Run hands each record to the handler, commits what was
// handled, and returns nil when ctx ends.
func ExampleConsumer_Run() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	client, err := sdk.New("http://localhost:8080", sdk.WithBasicAuth("admin", "AdminPass123!"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	consumer, err := client.Consumer(sdk.ConsumerConfig{Group: "billing-worker", Topic: "orders.events"})
	if err != nil {
		log.Fatal(err)
	}
	defer consumer.Close(context.Background())
	err = consumer.Run(ctx, func(ctx context.Context, rec sdk.Record) error {
		row, err := rec.Row()
		if err != nil {
			return err
		}
		cents, err := row.Int64("cents")
		if err != nil {
			return err
		}
		fmt.Println(rec.Op, rec.Table, cents)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}

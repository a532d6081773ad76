package kalamsql_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"strings"

	_ "github.com/kalamstack/kalam-go/kalamsql"
	"github.com/kalamstack/kalam-go/kalamtest/emulator"
	"github.com/kalamstack/kalam-go/sdk"
)

// Example opens a pool with a DSN, writes in a transaction and reads exact
// BIGINT and DECIMAL values back. (An embedded emulator stands in for a
// KalamDB server here.)
func Example() {
	srv, err := emulator.Listen("127.0.0.1:0", emulator.Options{RootPassword: "ExamplePw1!"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	dsn := strings.Replace(srv.URL, "http://", "http://root:ExamplePw1!@", 1) + "/?namespace=shop"

	db, err := sql.Open("kalamdb", dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, ddl := range []string{
		"CREATE NAMESPACE IF NOT EXISTS shop",
		"CREATE SHARED TABLE shop.orders (id BIGINT PRIMARY KEY, item TEXT NOT NULL, price DECIMAL(10,2))",
	} {
		if _, err := db.ExecContext(ctx, ddl); err != nil {
			log.Fatal(err)
		}
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range []struct {
		id          int64
		item, price string
	}{{9007199254740993, "book", "12.50"}, {2, "pen", "1.25"}} {
		// Queued: nothing is sent until Commit.
		if _, err := tx.ExecContext(ctx, "INSERT INTO orders (id, item, price) VALUES ($1, $2, $3)", o.id, o.item, o.price); err != nil {
			log.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil { // one BEGIN; ...; COMMIT request
		log.Fatal(err)
	}

	rows, err := db.QueryContext(ctx, "SELECT id, item, price FROM orders ORDER BY id LIMIT 10")
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var item string
		var price sdk.Decimal
		if err := rows.Scan(&id, &item, &price); err != nil {
			log.Fatal(err)
		}
		fmt.Println(id, item, price)
	}
	if err := rows.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 2 pen 1.25
	// 9007199254740993 book 12.50
}

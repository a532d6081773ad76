package kalamsql_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/kalamstack/kalam-go/kalamsql"
	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/sdk"
)

// The driver's cost over the SDK for the same 100-row SELECT on the emulator.
func benchSetup(b *testing.B) (*sql.DB, *sdk.Client) {
	srv := kalamtest.NewServer(b)
	client, err := sdk.New(srv.URL, sdk.WithBasicAuth(srv.RootUser, srv.RootPassword))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	ctx := context.Background()
	var values []string
	for i := range 100 {
		values = append(values, fmt.Sprintf("(%d, 'name %d', %d.5)", i, i, i))
	}
	for _, q := range []string{"CREATE NAMESPACE b", "CREATE SHARED TABLE b.t (id BIGINT PRIMARY KEY, name TEXT, v DOUBLE)",
		"INSERT INTO b.t (id, name, v) VALUES " + strings.Join(values, ", ")} {
		if _, err := client.Query(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	srv.Emulator.SetSQLRateLimit(-1)
	db := kalamsql.OpenDB(client)
	b.Cleanup(func() { db.Close() })
	return db, client
}

func BenchmarkSelect100(b *testing.B) {
	db, client := benchSetup(b)
	ctx := context.Background()
	const q = "SELECT id, name, v FROM b.t LIMIT 100"
	b.Run("sdk", func(b *testing.B) {
		for b.Loop() {
			res, err := client.Query(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res.Rows() {
				var id int64
				var name string
				var v float64
				if err := r.Scan(&id, &name, &v); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("database/sql", func(b *testing.B) {
		for b.Loop() {
			rows, err := db.QueryContext(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				var id int64
				var name string
				var v float64
				if err := rows.Scan(&id, &name, &v); err != nil {
					b.Fatal(err)
				}
			}
			rows.Close()
		}
	})
}

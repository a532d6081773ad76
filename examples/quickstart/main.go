// Command quickstart walks through the kalam-go SDK: log in, create a
// namespace and a USER table, insert and select with parameters and typed
// reads, upload a FILE and download it again.
//
// With KALAMDB_URL set (and KALAMDB_USER / KALAMDB_PASSWORD, default root)
// it talks to that server; otherwise it starts an embedded KalamDB emulator
// on 127.0.0.1.
//
//	go run ./examples/quickstart
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
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
	srv, err := target.Get("QuickstartRoot1!")
	if err != nil {
		return err
	}
	defer srv.Close()

	client, err := sdk.New(srv.URL, sdk.WithBasicAuth(srv.User, srv.Password))
	if err != nil {
		return err
	}
	defer client.Close()

	login, err := client.Login(ctx, srv.User, srv.Password)
	if errors.Is(err, sdk.ErrSetupRequired) {
		return fmt.Errorf("the server needs its first-time setup (see Client.Setup): %w", err)
	}
	if err != nil {
		return err
	}
	fmt.Printf("logged in as %s (role %s), token valid until %s\n", login.User.ID, login.User.Role, login.ExpiresAt.Format(time.RFC3339))

	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000)
	ns := "quickstart"
	table := "notes_" + suffix
	for _, sql := range []string{
		"CREATE NAMESPACE IF NOT EXISTS " + ns,
		fmt.Sprintf(`CREATE TABLE %s.%s (id BIGINT PRIMARY KEY, title TEXT NOT NULL, score DOUBLE, created TIMESTAMP, attachment FILE) WITH (TYPE='USER')`, ns, table),
	} {
		res, err := client.Query(ctx, sql)
		if err != nil {
			return err
		}
		fmt.Println(">", sql, "→", res.Message)
	}

	const bigID = int64(9007199254740993) // 2^53+1: stays exact, never a float64
	created := time.Now().UTC().Truncate(time.Microsecond)
	for i, title := range []string{"first note", "second note"} {
		if _, err := client.Query(ctx, "INSERT INTO "+table+" (id, title, score, created) VALUES ($1, $2, $3, $4)",
			sdk.Args(bigID+int64(i), title, 0.5+float64(i), created), sdk.Namespace(ns)); err != nil {
			return err
		}
	}
	fmt.Println("> inserted 2 rows with parameters")

	res, err := client.Query(ctx, fmt.Sprintf("SELECT id, title, score, created FROM %s.%s WHERE score > $1 ORDER BY id", ns, table), sdk.Args(0.1))
	if err != nil {
		return err
	}
	fmt.Printf("> SELECT returned %d row(s):\n", res.RowCount)
	type note struct {
		ID      int64
		Title   string
		Score   float64
		Created time.Time
	}
	notes, err := sdk.CollectRows[note](res)
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Printf("  id=%d title=%q score=%.1f created=%s\n", n.ID, n.Title, n.Score, n.Created.Format(time.RFC3339Nano))
	}

	content := []byte("Hello from kalam-go!\n")
	if _, err := client.Query(ctx, fmt.Sprintf(`UPDATE %s.%s SET attachment = FILE("doc") WHERE id = $1`, ns, table),
		sdk.Args(bigID), sdk.File("doc", "hello.txt", "text/plain", bytes.NewReader(content))); err != nil {
		return err
	}
	res, err = client.Query(ctx, fmt.Sprintf("SELECT attachment FROM %s.%s WHERE id = $1", ns, table), sdk.Args(bigID))
	if err != nil {
		return err
	}
	ref, err := res.Rows()[0].File("attachment")
	if err != nil {
		return err
	}
	fmt.Printf("> uploaded %s (%d bytes, %s), stored as %s\n", ref.Name, ref.Size, ref.Mime, ref.StoredName())

	dl, err := client.Download(ctx, ns, table, ref)
	if err != nil {
		return err
	}
	defer dl.Close()
	got, err := io.ReadAll(dl)
	if err != nil {
		return err
	}
	fmt.Printf("> downloaded %d bytes (%s): %q\n", len(got), dl.ContentType, got)

	_, err = client.Query(ctx, "SELECT * FROM quickstart.does_not_exist")
	var se *sdk.ServerError
	if errors.As(err, &se) {
		fmt.Printf("> a failing query reports HTTP %d %s\n", se.HTTPStatus, se.Code)
	}
	return nil
}

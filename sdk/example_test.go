package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest/emulator"
	"github.com/kalamstack/kalam-go/sdk"
)

// startEmulator runs an in-process KalamDB emulator for the examples; a
// real program would use its server's URL, e.g. "http://localhost:8080".
func startEmulator() (url string, stop func()) {
	l, err := emulator.Listen("127.0.0.1:0", emulator.Options{RootPassword: "RootPass123!"})
	if err != nil {
		log.Fatal(err)
	}
	return l.URL, func() { l.Close() }
}

func ExampleNew() {
	url, stop := startEmulator()
	defer stop()

	// Basic credentials are exchanged for a JWT at /v1/api/auth/login.
	client, err := sdk.New(url, sdk.WithBasicAuth("root", "RootPass123!"), sdk.WithTimeout(10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	res, err := client.Query(context.Background(), "SELECT 1 AS ok")
	if err != nil {
		log.Fatal(err)
	}
	ok, err := res.Rows()[0].Int64("ok")
	fmt.Println(ok, err)
	// Output: 1 <nil>
}

func ExampleClient_Query() {
	url, stop := startEmulator()
	defer stop()
	client, err := sdk.New(url, sdk.WithBasicAuth("root", "RootPass123!"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()

	for _, sql := range []string{
		"CREATE NAMESPACE IF NOT EXISTS chat",
		"CREATE TABLE chat.messages (id BIGINT PRIMARY KEY, conversation_id TEXT, body TEXT, archived BOOLEAN) WITH (TYPE='USER')",
	} {
		if _, err := client.Query(ctx, sql); err != nil {
			log.Fatal(err)
		}
	}
	// $1, $2, ... are bound from Args; 64-bit ids stay exact.
	_, err = client.Query(ctx, "INSERT INTO messages (id, conversation_id, body, archived) VALUES ($1, $2, $3, $4)",
		sdk.Args(int64(9007199254740993), "conv_42", "hello", false), sdk.Namespace("chat"))
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.Query(ctx, "SELECT id, body FROM chat.messages WHERE conversation_id = $1 AND archived = $2",
		sdk.Args("conv_42", false))
	if err != nil {
		log.Fatal(err)
	}
	for _, row := range res.Rows() {
		id, _ := row.Int64("id")
		body, _ := row.String("body")
		fmt.Println(id, body)
	}
	fmt.Println("rows:", res.RowCount)
	// Output:
	// 9007199254740993 hello
	// rows: 1
}

func ExampleRow_Scan() {
	url, stop := startEmulator()
	defer stop()
	client, err := sdk.New(url, sdk.WithBasicAuth("root", "RootPass123!"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	res, err := client.Query(context.Background(), "SELECT 42 AS answer, 'forty-two' AS spelled, NULL AS missing")
	if err != nil {
		log.Fatal(err)
	}
	var (
		answer  int64
		spelled string
		missing *string // a pointer accepts NULL
	)
	if err := res.Rows()[0].Scan(&answer, &spelled, &missing); err != nil {
		log.Fatal(err)
	}
	fmt.Println(answer, spelled, missing == nil)

	// Or into structs by column name.
	type row struct {
		Answer  int64
		Spelled string `kalam:"spelled"`
	}
	rows, err := sdk.CollectRows[row](res)
	fmt.Printf("%+v %v\n", rows, err)
	// Output:
	// 42 forty-two true
	// [{Answer:42 Spelled:forty-two}] <nil>
}

func ExampleFile() {
	url, stop := startEmulator()
	defer stop()
	client, err := sdk.New(url, sdk.WithBasicAuth("root", "RootPass123!"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	for _, sql := range []string{
		"CREATE NAMESPACE IF NOT EXISTS app",
		"CREATE TABLE app.users (name TEXT PRIMARY KEY, avatar FILE) WITH (TYPE='USER')",
	} {
		if _, err := client.Query(ctx, sql); err != nil {
			log.Fatal(err)
		}
	}

	// The content streams from the reader; an *os.File works the same way.
	avatar := strings.NewReader("not really a PNG")
	res, err := client.Query(ctx, `INSERT INTO app.users (name, avatar) VALUES ($1, FILE("avatar"))`,
		sdk.Args("Alice"),
		sdk.File("avatar", "avatar.png", "image/png", avatar),
		sdk.OnUploadProgress(func(p sdk.UploadProgress) {
			fmt.Printf("%s: %d/%d bytes\n", p.FileName, p.BytesSent, p.TotalBytes)
		}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Message)
	// Output:
	// avatar.png: 16/16 bytes
	// Inserted 1 row(s)
}

func ExampleClient_Download() {
	url, stop := startEmulator()
	defer stop()
	client, err := sdk.New(url, sdk.WithBasicAuth("root", "RootPass123!"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	for _, sql := range []string{
		"CREATE NAMESPACE IF NOT EXISTS app",
		"CREATE TABLE app.docs (id TEXT PRIMARY KEY, attachment FILE) WITH (TYPE='SHARED')",
	} {
		if _, err := client.Query(ctx, sql); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := client.Query(ctx, `INSERT INTO app.docs (id, attachment) VALUES ('d1', FILE("contract"))`,
		sdk.File("contract", "Contract 2025.txt", "text/plain", strings.NewReader("signed"))); err != nil {
		log.Fatal(err)
	}

	res, err := client.Query(ctx, "SELECT attachment FROM app.docs WHERE id = 'd1'")
	if err != nil {
		log.Fatal(err)
	}
	ref, err := res.Rows()[0].File("attachment")
	if err != nil {
		log.Fatal(err)
	}
	dl, err := client.Download(ctx, "app", "docs", ref)
	if err != nil {
		log.Fatal(err)
	}
	defer dl.Close()
	content, err := io.ReadAll(dl) // checked against ref.Size and ref.SHA256 at the end
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ref.Name, ref.Size, dl.ContentType)
	fmt.Println(string(content))
	fmt.Println(strings.HasSuffix(ref.StoredName(), "-contract-2025.txt"))
	// Output:
	// Contract 2025.txt 6 text/plain
	// signed
	// true
}

func ExampleServerError() {
	url, stop := startEmulator()
	defer stop()

	client, err := sdk.New(url, sdk.WithBasicAuth("root", "wrong password"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	_, err = client.Query(context.Background(), "SELECT 1")
	fmt.Println(errors.Is(err, sdk.ErrInvalidCredentials))

	var se *sdk.ServerError
	if errors.As(err, &se) {
		fmt.Println(se.HTTPStatus, se.Code)
	}
	fmt.Println(sdk.IsRetryable(err))
	// Output:
	// true
	// 401 unauthorized
	// false
}

// WithLogger takes any Logger; a *slog.Logger is one.
func ExampleWithLogger() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	}))
	client, err := sdk.New("http://localhost:8080", sdk.WithLogger(logger))
	if err != nil {
		log.Fatal(err)
	}
	client.Close()
	// Output: level=DEBUG msg="kalamdb client closed"
}

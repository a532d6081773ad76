package kalamgen_test

import (
	"context"
	"fmt"
	"log"

	"github.com/kalamstack/kalam-go/kalamgen"
	"github.com/kalamstack/kalam-go/kalamtest/emulator"
	"github.com/kalamstack/kalam-go/sdk"
)

// Note is what cmd/kalamgen generates for
// CREATE SHARED TABLE notes.note (id BIGINT PRIMARY KEY, body TEXT NOT NULL, tag TEXT).
type Note struct {
	ID   int64   `kalam:"id"`
	Body string  `kalam:"body"`
	Tag  *string `kalam:"tag"`
}

var NoteDef = &kalamgen.Table[Note]{Namespace: "notes", Name: "note", Type: kalamgen.Shared, Key: "id",
	Columns: []kalamgen.Column{{Name: "id", Kind: sdk.KindBigInt}, {Name: "body", Kind: sdk.KindText}, {Name: "tag", Kind: sdk.KindText}}}

// Example shows the calls generated helpers make (InsertNote, GetNote and
// ListNote wrap these three). An embedded emulator stands in for KalamDB.
func Example() {
	srv, err := emulator.Listen("127.0.0.1:0", emulator.Options{RootPassword: "ExamplePw1!"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c, err := sdk.New(srv.URL, sdk.WithBasicAuth("root", "ExamplePw1!"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Query(ctx, "CREATE NAMESPACE notes; CREATE SHARED TABLE notes.note (id BIGINT PRIMARY KEY, body TEXT NOT NULL, tag TEXT)"); err != nil {
		log.Fatal(err)
	}

	tag := "todo"
	for _, n := range []Note{{ID: 1, Body: "buy milk", Tag: &tag}, {ID: 2, Body: "call Bob"}} {
		if err := kalamgen.Insert(ctx, c, NoteDef, &n); err != nil { // Tag nil: left out (NULL)
			log.Fatal(err)
		}
	}
	n, err := kalamgen.Get(ctx, c, NoteDef, int64(1))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n.Body, *n.Tag)
	all, err := kalamgen.List(ctx, c, NoteDef, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(all), all[1].Body, all[1].Tag == nil)
	// Output:
	// buy milk todo
	// 2 call Bob true
}

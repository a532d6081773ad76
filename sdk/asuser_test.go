//go:build !js

package sdk_test

import (
	"context"
	"fmt"
	"log"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/sdk"
)

// AsUser against the emulator: root writes and reads alice's rows of a
// USER table; a name with a quote works; a quote cannot end the literal.
func TestAsUserE2E(t *testing.T) {
	srv := e2eServer(t)
	root := e2eClient(t, srv)
	mustQuery(t, root, "CREATE NAMESPACE app")
	mustQuery(t, root, "CREATE TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE='USER')")
	mustQuery(t, root, "CREATE USER 'alice' WITH PASSWORD 'AlicePass123!' ROLE user")
	mustQuery(t, root, "CREATE USER 'o''brien' WITH PASSWORD 'OBrienPass123!' ROLE user")
	ctx := context.Background()

	res, err := root.Query(ctx, "INSERT INTO app.notes (id, body) VALUES ($1, $2);", sdk.Args(1, "for alice"), sdk.AsUser("alice"))
	require.NoError(t, err)
	require.Equal(t, "alice", res.AsUser)

	alice, err := sdk.New(srv.URL, sdk.WithBasicAuth("alice", "AlicePass123!"))
	require.NoError(t, err)
	defer alice.Close()
	rows := mustQuery(t, alice, "SELECT body FROM app.notes").Rows()
	require.Len(t, rows, 1, "alice sees the row written as her")
	require.Equal(t, "for alice", mustString(t, rows[0], "body"))

	res, err = root.Query(ctx, "SELECT body FROM app.notes", sdk.AsUser("o'brien"))
	require.NoError(t, err)
	require.Equal(t, "o'brien", res.AsUser)
	require.Empty(t, res.Rows(), "o'brien has no rows")

	// A quote in the name stays inside the literal: no such user, nothing injected.
	_, err = root.Query(ctx, "SELECT body FROM app.notes", sdk.AsUser("alice' OR '1"))
	var se *sdk.ServerError
	require.ErrorAs(t, err, &se)
	require.Contains(t, se.Message, "alice' OR '1")
	require.Contains(t, se.Message, "not found")
}

// What cannot be quoted, or wrapped, is refused before anything is sent.
func TestAsUserRejects(t *testing.T) {
	f := newFake(t)
	c, _ := newClient(t, f, basic())
	ctx := context.Background()
	for user, why := range map[string]string{
		"":          "empty",
		" alice":    "white space",
		"alice\t":   "white space",
		"a(b":       "'('",
		"x') (DROP": "'('",
		"../etc":    `".."`,
		"a/b":       `"/"`,
		"a\\b":      `"\"`,
		"a\x00b":    "control",
		"a\nb":      "control",
		"\xff\xfe":  "UTF-8",
	} {
		_, err := c.Query(ctx, "SELECT 1", sdk.AsUser(user))
		require.Error(t, err, "%q", user)
		assert.Contains(t, err.Error(), "AsUser", "%q", user)
		assert.Contains(t, err.Error(), why, "%q", user)
	}
	for sql, why := range map[string]string{
		"SELECT 1; SELECT 2":               "exactly one statement",
		"SELECT 'a;b' ; DELETE FROM t":     "exactly one statement",
		"SELECT 'open":                     "unterminated",
		"SELECT 1 /* open":                 "unterminated",
		"execute as user 'bob' (SELECT 1)": "already an EXECUTE AS USER",
		" ; ":                              "empty statement",
	} {
		_, err := c.Query(ctx, sql, sdk.AsUser("alice"))
		require.Error(t, err, sql)
		assert.Contains(t, err.Error(), why, sql)
	}
	require.Zero(t, f.sqlCalls.Load(), "nothing was sent")
}

// The wrapper as sent: the name quoted, the statement in parentheses, a
// trailing semicolon and a quoted ';' kept where they belong.
func TestAsUserWire(t *testing.T) {
	f := newFake(t)
	c, _ := newClient(t, f, basic())
	_, err := c.Query(context.Background(), "SELECT 'x;y' -- note\n ;", sdk.AsUser("o'brien"))
	require.NoError(t, err)
	require.JSONEq(t, `{"sql":"EXECUTE AS USER 'o''brien' (SELECT 'x;y')"}`, string(f.lastSQL(t).Body))
}

func ExampleAsUser() {
	url, stop := startEmulator()
	defer stop()
	client, err := sdk.New(url, sdk.WithBasicAuth("root", "RootPass123!"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	for _, sql := range []string{
		"CREATE NAMESPACE app",
		"CREATE TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE='USER')",
		"CREATE USER 'alice' WITH PASSWORD 'AlicePass123!' ROLE user",
	} {
		if _, err := client.Query(ctx, sql); err != nil {
			log.Fatal(err)
		}
	}
	// Runs as EXECUTE AS USER 'alice' (INSERT ...): the row is alice's.
	res, err := client.Query(ctx, "INSERT INTO app.notes (id, body) VALUES ($1, $2)",
		sdk.Args(1, "hello"), sdk.AsUser("alice"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Message, "as", res.AsUser)
	// Output: Inserted 1 row(s) as alice
}

//go:build !js

package sdk_test

import (
	"context"
	"fmt"
	"log"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/sdk"
)

// The client lists its open subscriptions (the official SDKs' S11
// scenario) and reads the server's own list, system.live.
func TestSubscriptionsIntrospection(t *testing.T) {
	srv := e2eServer(t)
	c := e2eClient(t, srv)
	seqTable(t, c, true, 1, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.Empty(t, c.Subscriptions())

	before := time.Now()
	const q1 = "SELECT * FROM app.t"
	first, err := c.Subscribe(ctx, q1)
	require.NoError(t, err)
	defer first.Close()
	ids, _ := snapshot(t, ctx, first, nil)
	require.Equal(t, []int64{1, 2}, ids)
	seqTable(t, c, false, 3, 3)
	require.Equal(t, []int64{3}, nextRowIDs(t, ctx, first))

	subs := c.Subscriptions()
	require.Len(t, subs, 1)
	info := subs[0]
	require.Equal(t, q1, info.Query)
	require.Equal(t, first.ID(), info.ID)
	require.Equal(t, sdk.SubscriptionLive, info.State)
	require.True(t, info.HasLastSeq)
	require.Equal(t, seqOf(t, c, 3), info.LastSeq, "the last _seq delivered is the server's newest")
	require.False(t, info.CreatedAt.Before(before))
	require.False(t, info.LastEventAt.Before(info.CreatedAt))

	const q2 = "SELECT id FROM app.t WHERE id > 2"
	second, err := c.Subscribe(ctx, q2, sdk.LiveOnly())
	require.NoError(t, err)
	defer second.Close()
	subs = c.Subscriptions()
	require.Len(t, subs, 2)
	require.Equal(t, q2, subs[1].Query)
	require.False(t, subs[1].HasLastSeq)
	require.Equal(t, "live", subs[1].State.String())

	// The server's view: both live queries, as root's, on one connection.
	live, err := c.LiveQueries(ctx)
	require.NoError(t, err)
	require.Len(t, live, 2)
	byID := map[string]sdk.LiveQuery{}
	for _, l := range live {
		byID[l.SubscriptionID] = l
	}
	l1 := byID[first.ID()]
	require.Equal(t, q1, l1.Query)
	require.Equal(t, "root", l1.UserID)
	require.Equal(t, "app", l1.Namespace)
	require.Equal(t, "t", l1.Table)
	require.Equal(t, "active", l1.Status)
	require.Equal(t, "root-"+l1.ConnectionID+"-"+first.ID(), l1.LiveID)
	require.EqualValues(t, 1, l1.Changes, "one change pushed")
	require.False(t, l1.CreatedAt.IsZero())
	require.Equal(t, q2, byID[second.ID()].Query)
	require.Equal(t, l1.ConnectionID, byID[second.ID()].ConnectionID, "one shared WebSocket")

	require.NoError(t, first.Close())
	subs = c.Subscriptions()
	require.Len(t, subs, 1)
	require.Equal(t, q2, subs[0].Query)
	require.Eventually(t, func() bool {
		live, err := c.LiveQueries(ctx)
		return err == nil && len(live) == 1 && live[0].Query == q2
	}, 10*time.Second, 10*time.Millisecond, "the server drops the unsubscribed live query")
	require.NoError(t, second.Close())
	require.Empty(t, c.Subscriptions())
}

// system.live is for dba and system roles only.
func TestLiveQueriesNeedsAdmin(t *testing.T) {
	srv := e2eServer(t)
	root := e2eClient(t, srv)
	mustQuery(t, root, "CREATE USER 'alice' WITH PASSWORD 'AlicePass123!' ROLE user")
	alice, err := sdk.New(srv.URL, sdk.WithBasicAuth("alice", "AlicePass123!"))
	require.NoError(t, err)
	defer alice.Close()
	_, err = alice.LiveQueries(context.Background())
	require.ErrorIs(t, err, sdk.ErrPermissionDenied)
}

func ExampleClient_Subscriptions() {
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
	} {
		if _, err := client.Query(ctx, sql); err != nil {
			log.Fatal(err)
		}
	}
	sub, err := client.Subscribe(ctx, "SELECT * FROM app.notes", sdk.LiveOnly())
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	for _, s := range client.Subscriptions() { // this client's view
		fmt.Println("client:", s.Query, s.State)
	}
	live, err := client.LiveQueries(ctx) // the server's view: system.live
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range live {
		fmt.Println("server:", l.UserID, l.Query, l.Status)
	}
	// Output:
	// client: SELECT * FROM app.notes live
	// server: root SELECT * FROM app.notes active
}

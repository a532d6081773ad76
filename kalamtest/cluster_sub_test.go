//go:build !js && !wasip1

package kalamtest

import (
	"context"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

// A subscription on a follower sees a transaction committed through the
// leader: every node applies it and notifies its own subscribers. (An
// autocommit INSERT would reach only the shard leader's subscribers on a
// real 0.4.2 server, see clusterbin.go.)
func TestClusterSubscriptionOnFollowerSeesWriteViaLeader(t *testing.T) {
	c := StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leader, err := c.Leader(ctx)
	require.NoError(t, err)
	follower := c.Nodes[0]
	if follower == leader {
		follower = c.Nodes[1]
	}
	token := clusterLogin(t, c, leader)
	mustSQL(t, leader, token, "CREATE NAMESPACE app")
	mustSQL(t, leader, token, "CREATE TABLE app.items (id BIGINT PRIMARY KEY, name TEXT) WITH (TYPE = 'SHARED')")

	client, err := sdk.New(follower.URL, sdk.WithToken(token))
	require.NoError(t, err)
	defer client.Close()
	sub, err := client.Subscribe(ctx, "SELECT * FROM app.items")
	require.NoError(t, err)
	defer sub.Close()
	for {
		ev, err := sub.Next(ctx)
		require.NoError(t, err)
		if rows, ok := ev.(*sdk.InitialRows); ok && rows.Ready {
			require.Empty(t, rows.Rows)
			break
		}
	}

	mustSQL(t, leader, token, "BEGIN; INSERT INTO app.items (id, name) VALUES (7, 'seven'); COMMIT")
	for {
		ev, err := sub.Next(ctx)
		require.NoError(t, err, "waiting for the insert on node %d", follower.ID)
		ins, ok := ev.(*sdk.Insert)
		if !ok {
			continue
		}
		require.Len(t, ins.Rows, 1)
		id, err := ins.Rows[0].Int64("id")
		require.NoError(t, err)
		require.EqualValues(t, 7, id)
		return
	}
}

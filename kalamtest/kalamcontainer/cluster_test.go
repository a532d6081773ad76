//go:build !js && !wasip1

package kalamcontainer_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/kalamstack/kalam-go/kalamtest/kalamcontainer"
	"github.com/kalamstack/kalam-go/sdk"
)

// clusterImage is the image KALAMTEST_IMAGE names; the test is skipped
// without one (a cluster needs a real KalamDB image, which CI does not
// build) or without a Docker engine.
func clusterImage(t *testing.T) string {
	t.Helper()
	img := os.Getenv("KALAMTEST_IMAGE")
	if img == "" {
		t.Skip("kalamcontainer: a cluster needs a KalamDB image; set KALAMTEST_IMAGE (e.g. kalamdb-real:local)")
	}
	kalamcontainer.SkipIfNoEngine(t)
	return img
}

// runCluster starts n nodes of img, skipping when img cannot form a
// cluster (the emulator), and removes them when the test ends.
func runCluster(t *testing.T, img string, n int) *kalamcontainer.Cluster {
	t.Helper()
	start := time.Now()
	c, err := kalamcontainer.RunCluster(context.Background(), img, n,
		testcontainers.WithLogger(tclog.TestLogger(t)), kalamcontainer.WithStartTimeout(3*time.Minute))
	if errors.Is(err, kalamcontainer.ErrNoCluster) {
		t.Skip(err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Terminate(context.Background())) })
	t.Logf("%d nodes of %s formed a cluster in %v", n, img, time.Since(start).Round(time.Millisecond))
	return c
}

func clientFor(t *testing.T, c *kalamcontainer.Cluster, n *kalamcontainer.ClusterNode) *sdk.Client {
	t.Helper()
	cl, err := sdk.New(n.URL, sdk.WithBasicAuth(c.RootUser, c.RootPassword))
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return cl
}

// ids returns the id column of sql's rows, in order.
func ids(ctx context.Context, cl *sdk.Client, sql string) ([]string, error) {
	res, err := cl.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	maps, err := res.Maps()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(maps))
	for i, m := range maps {
		out[i] = fmt.Sprint(m["id"])
	}
	return out, nil
}

// eventuallyIDs waits (bounded) until sql through cl returns want.
func eventuallyIDs(t *testing.T, cl *sdk.Client, sql string, want []string) {
	t.Helper()
	var got []string
	var err error
	ok := assert.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		got, err = ids(ctx, cl, sql)
		return err == nil && assert.ObjectsAreEqual(want, got)
	}, 60*time.Second, 250*time.Millisecond)
	if !ok {
		t.Fatalf("%s: want ids %v, last got %v (err %v)", sql, want, got, err)
	}
}

// nextEvent is sub's next event, waiting a bounded time.
func nextEvent(sub *sdk.Subscription) (sdk.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return sub.Next(ctx)
}

// writeAny runs sql through the first client that takes it, retrying
// (bounded) while none does: after a failover KalamDB 0.4.2-rc.3 may
// refuse a write on one node ("Not leader for shard") that another takes.
func writeAny(t *testing.T, sql string, clients ...*sdk.Client) {
	t.Helper()
	var errs []error
	ok := assert.Eventually(t, func() bool {
		errs = errs[:0]
		for _, cl := range clients {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, err := cl.Query(ctx, sql)
			cancel()
			if err == nil {
				return true
			}
			errs = append(errs, err)
		}
		return false
	}, time.Minute, 500*time.Millisecond)
	require.True(t, ok, "%s: no node took it: %v", sql, errors.Join(errs...))
}

func mustExec(t *testing.T, cl *sdk.Client, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := cl.Query(ctx, sql)
	require.NoError(t, err, sql)
}

// A three-node cluster: what one node writes, another reads; a partitioned
// node is cut off from its peers while the majority goes on writing, and
// catches up once healed; a stopped node comes back on its own data.
func TestRunCluster(t *testing.T) {
	img := clusterImage(t)
	c := runCluster(t, img, 3)
	require.Len(t, c.Nodes, 3)
	n1, n2, n3 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	for i, n := range c.Nodes {
		assert.Equal(t, i+1, n.ID)
		assert.Equal(t, fmt.Sprintf("node%d", i+1), n.Alias)
		assert.Equal(t, http.StatusOK, login(t, n.URL, c.RootUser, c.RootPassword).StatusCode, "node %d", n.ID)
	}
	assert.Equal(t, []string{n1.URL, n2.URL, n3.URL}, c.URLs())
	// A fresh cluster's bootstrap node leads.
	leader, err := c.Leader(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, leader.ID)
	c1, c2, c3 := clientFor(t, c, n1), clientFor(t, c, n2), clientFor(t, c, n3)
	const table = "kc_cluster.items"
	const all = "SELECT id FROM " + table + " ORDER BY id"
	// In a transaction: KalamDB 0.4.2-rc.3 replicates only transactional
	// writes; an autocommit one stays on the shard leader's node.
	insert := func(id int, v string) string {
		return fmt.Sprintf("BEGIN; INSERT INTO %s (id, v) VALUES (%d, '%s'); COMMIT", table, id, v)
	}

	t.Run("WriteOnOneNodeReadOnAnother", func(t *testing.T) {
		mustExec(t, c1, "CREATE NAMESPACE IF NOT EXISTS kc_cluster")
		mustExec(t, c1, "CREATE TABLE "+table+" (id BIGINT PRIMARY KEY, v TEXT) WITH (TYPE = 'SHARED')")
		mustExec(t, c1, insert(1, "one"))
		eventuallyIDs(t, c3, all, []string{"1"})
		mustExec(t, c3, insert(2, "two"))
		eventuallyIDs(t, c2, all, []string{"1", "2"})
	})

	t.Run("PartitionedNodeCatchesUpOnHeal", func(t *testing.T) {
		ctx := context.Background()
		// A subscription on node 3, open across the partition.
		sub, err := c3.Subscribe(ctx, "SELECT id FROM "+table)
		require.NoError(t, err)
		defer sub.Close()
		for ready := false; !ready; {
			ev, err := nextEvent(sub)
			require.NoError(t, err)
			ir, ok := ev.(*sdk.InitialRows)
			ready = ok && ir.Ready
		}

		start := time.Now()
		require.NoError(t, n3.Partition(ctx))
		t.Logf("partition: %v", time.Since(start).Round(time.Millisecond))
		healed := false
		defer func() {
			if !healed {
				assert.NoError(t, n3.Heal(ctx))
			}
		}()
		// The majority goes on: a write through node 1 succeeds.
		mustExec(t, c1, insert(3, "while node 3 was cut off"))
		eventuallyIDs(t, c2, all, []string{"1", "2", "3"})
		// The host still reaches node 3 (its port is not on the private
		// network): it logs in and answers what needs no table alone, but
		// what needs the leader fails.
		assert.Equal(t, http.StatusOK, login(t, n3.URL, c.RootUser, c.RootPassword).StatusCode)
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err = c3.Query(qctx, "SELECT 1 AS one")
		cancel()
		assert.NoError(t, err, "a query that needs no table, on the partitioned node")
		for _, sql := range []string{insert(4, "from the cut-off node"), all} {
			start := time.Now()
			qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := c3.Query(qctx, sql)
			cancel()
			var se *sdk.ServerError
			if assert.ErrorAs(t, err, &se, "%s through the partitioned node", sql) {
				assert.Equal(t, "FORWARD_FAILED", se.Code)
				assert.Equal(t, http.StatusServiceUnavailable, se.HTTPStatus)
			}
			t.Logf("%.40s through the partitioned node, after %v: %v", sql, time.Since(start).Round(time.Millisecond), err)
		}

		start = time.Now()
		require.NoError(t, n3.Heal(ctx))
		healed = true
		fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		require.NoError(t, c.WaitFormed(fctx))
		eventuallyIDs(t, c3, all, []string{"1", "2", "3"})
		t.Logf("heal to caught up: %v", time.Since(start).Round(time.Millisecond))
		// The subscription stayed open and gets the write it missed.
		ev, err := nextEvent(sub)
		require.NoError(t, err)
		ins, ok := ev.(*sdk.Insert)
		require.True(t, ok, "want the missed insert, got %T %+v", ev, ev)
		require.Len(t, ins.Rows, 1)
		id, err := ins.Rows[0].Int64("id")
		require.NoError(t, err)
		assert.EqualValues(t, 3, id)
		t.Logf("heal to the missed change on node 3's subscription: %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("StoppedNodeRestarts", func(t *testing.T) {
		ctx := context.Background()
		url := n2.URL
		stop := 10 * time.Second
		require.NoError(t, n2.Stop(ctx, &stop))
		start := time.Now()
		writeAny(t, insert(5, "while node 2 was down"), c1, c3)
		require.NoError(t, n2.Start(ctx))
		t.Logf("start on its data: %v", time.Since(start).Round(time.Millisecond))
		assert.Equal(t, url, n2.URL, "a node keeps its URL across a restart")
		assert.Equal(t, http.StatusOK, login(t, n2.URL, c.RootUser, c.RootPassword).StatusCode)

		// KalamDB 0.4.2-rc.3 does not take a node back on its old data;
		// a replacement on empty data catches up.
		require.NoError(t, n2.Kill(ctx))
		start = time.Now()
		require.NoError(t, n2.StartEmpty(ctx))
		assert.Equal(t, url, n2.URL)
		fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		require.NoError(t, c.WaitFormed(fctx))
		eventuallyIDs(t, c2, all, []string{"1", "2", "3", "5"})
		t.Logf("replace on empty data to caught up: %v", time.Since(start).Round(time.Millisecond))
	})
}

// The emulator image is refused before any container starts: each
// emulator container is its own engine.
func TestRunClusterRefusesEmulator(t *testing.T) {
	kalamcontainer.SkipIfNoImage(t, emulatorImage)
	ctx := context.Background()
	// The emulator image as Dockerfile.test now labels it, whatever the
	// local kalamdb-emulator:test was built from.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"),
		[]byte("FROM "+emulatorImage+"\nLABEL "+kalamcontainer.EmulatorLabel+"=true\n"), 0o644))
	label, left := tagged(t)
	tag := "kalamcontainer-emulator-label:" + strings.ToLower(t.Name())
	cli, err := kalamcontainer.NewDockerClient(ctx)
	require.NoError(t, err)
	defer cli.Close()
	prov, err := testcontainers.NewDockerProvider()
	require.NoError(t, err)
	defer prov.Close()
	_, err = prov.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: dir, Repo: "kalamcontainer-emulator-label", Tag: strings.ToLower(t.Name()),
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{PruneChildren: true}) })

	c, err := kalamcontainer.RunCluster(ctx, tag, 3, label)
	require.ErrorIs(t, err, kalamcontainer.ErrNoCluster)
	assert.Nil(t, c)
	assert.Contains(t, err.Error(), "kalamdb-emulator")
	assert.Empty(t, left(), "containers started for an image that cannot form a cluster")
}

// Bad input fails before anything starts, naming what was wrong.
func TestRunClusterBadInput(t *testing.T) {
	for _, c := range []struct {
		img     string
		n       int
		message string
	}{
		{"kalamdb-real:local", 0, "a cluster of 0 nodes"},
		{"kalamdb-real:local", kalamcontainer.MaxClusterNodes + 1, "1 to 99"},
		{"", 3, "no image named"},
	} {
		_, err := kalamcontainer.RunCluster(context.Background(), c.img, c.n)
		require.Error(t, err)
		assert.Contains(t, err.Error(), c.message)
	}
}

// BenchmarkRunCluster is what a 3-node cluster costs a test: RunCluster
// until every node sees every node active (removal is outside the timed
// part), for the image KALAMTEST_IMAGE names.
func BenchmarkRunCluster(b *testing.B) {
	img := os.Getenv("KALAMTEST_IMAGE")
	if img == "" {
		b.Skip("kalamcontainer: set KALAMTEST_IMAGE to a KalamDB image")
	}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		c, err := kalamcontainer.RunCluster(ctx, img, 3, kalamcontainer.WithStartTimeout(3*time.Minute))
		if errors.Is(err, kalamcontainer.ErrNoCluster) {
			b.Skip(err)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := c.Terminate(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

//go:build !js && !wasip1

package kalamtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/kalamstack/kalam-go/kalamtest/kalamcontainer"
)

// containerClusterTimeout bounds a container cluster's start, and each
// node's restart: a debug build of the real server on a loaded machine
// takes far longer than the emulator.
const containerClusterTimeout = 3 * time.Minute

// startContainerCluster runs n containers of image as one cluster
// (kalamcontainer.RunCluster), each behind its own fault proxy. It skips
// the test when no Docker engine answers or when image cannot form a
// cluster (the emulator image: each container is its own engine, which
// kalamcontainer.EmulatorLabel tells); any other failure fails the test.
func startContainerCluster(t testing.TB, image string, n int) *Cluster {
	t.Helper()
	kc, err := kalamcontainer.RunCluster(context.Background(), image, n,
		testcontainers.WithLogger(tclog.TestLogger(t)), kalamcontainer.WithStartTimeout(containerClusterTimeout))
	switch {
	case errors.Is(err, kalamcontainer.ErrNoEngine), errors.Is(err, kalamcontainer.ErrNoCluster):
		t.Skipf("kalamtest: %s=%s: no cluster of containers: %v", EnvImage, image, err)
	case err != nil:
		t.Fatalf("kalamtest: %s=%s: %v", EnvImage, image, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := kc.Terminate(ctx); err != nil {
			t.Errorf("kalamtest: remove the cluster's containers: %v", err)
		}
	})
	c := &Cluster{RootUser: kc.RootUser, RootPassword: kc.RootPassword, Target: TargetContainer}
	for _, kn := range kc.Nodes {
		p := NewProxy(t, kn.URL)
		c.Nodes = append(c.Nodes, &Node{ID: kn.ID, URL: p.URL, proxy: p, process: &containerNode{node: kn, cluster: kc}})
	}
	return c
}

// containerNode is a cluster node's container as a nodeProcess.
type containerNode struct {
	node    *kalamcontainer.ClusterNode
	cluster *kalamcontainer.Cluster
}

// leads asks the cluster by SQL: the health endpoint answers only the
// container's own loopback.
func (c *containerNode) leads(ctx context.Context) (bool, error) {
	leader, err := c.cluster.Leader(ctx)
	if err != nil {
		return false, err
	}
	return leader.ID == c.node.ID, nil
}

func (c *containerNode) kill() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.node.Kill(ctx)
}

func (c *containerNode) restart(ctx context.Context, empty bool) error { return c.start(ctx, empty) }

// start starts the container on its data, or replaces it on empty data,
// and returns once the cluster counts the node again.
func (c *containerNode) start(ctx context.Context, empty bool) error {
	ctx, cancel := context.WithTimeout(ctx, containerClusterTimeout)
	defer cancel()
	var err error
	if empty {
		err = c.node.StartEmpty(ctx)
	} else {
		err = c.node.Start(ctx)
	}
	if err != nil {
		return err
	}
	return c.cluster.WaitFormed(ctx)
}

func (c *containerNode) freeze(on bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if on {
		return c.node.Pause(ctx)
	}
	return c.node.Unpause(ctx)
}

func (c *containerNode) logTail(n int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := c.node.Logs(ctx)
	if err != nil {
		return fmt.Sprintf("(logs unavailable: %v)", err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// partition cuts the node off its peers, or heals it and waits until the
// cluster counts it again.
func (c *containerNode) partition(ctx context.Context, on bool) error {
	if on {
		return c.node.Partition(ctx)
	}
	if err := c.node.Heal(ctx); err != nil {
		return err
	}
	return c.cluster.WaitFormed(ctx)
}

// partitioner is a node process that can be cut off from its peers.
type partitioner interface {
	partition(ctx context.Context, on bool) error
}

// Partition cuts the node off from its peers while clients can still
// reach it, as a network partition between servers does: the majority
// goes on without it, and on it whatever needs the cluster's leader fails
// (HTTP 503 FORWARD_FAILED from KalamDB 0.4.2). Only a container cluster
// (KALAMTEST_IMAGE) has a network to partition; other nodes return an
// error matching errors.ErrUnsupported. To cut clients off instead, use
// Stop, Cut or Freeze.
func (n *Node) Partition(ctx context.Context) error {
	p, ok := n.process.(partitioner)
	if !ok {
		return fmt.Errorf("partition node %d: %w: only a container cluster (%s) has a network between its nodes", n.ID, errors.ErrUnsupported, EnvImage)
	}
	if err := p.partition(ctx, true); err != nil {
		return fmt.Errorf("partition node %d: %w", n.ID, err)
	}
	return nil
}

// Heal ends the node's partition and returns once the cluster counts it
// again (every node sees every node active).
func (n *Node) Heal(ctx context.Context) error {
	p, ok := n.process.(partitioner)
	if !ok {
		return fmt.Errorf("heal node %d: %w: only a container cluster (%s) has a network between its nodes", n.ID, errors.ErrUnsupported, EnvImage)
	}
	if err := p.partition(ctx, false); err != nil {
		return fmt.Errorf("heal node %d: %w", n.ID, err)
	}
	return nil
}

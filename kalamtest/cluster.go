//go:build !js && !wasip1

package kalamtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest/emulator"
)

// Cluster is several KalamDB nodes one client can fail over between. Every
// node is reached through its own fault proxy, so a test can stop, cut or
// freeze the node a client uses, which is all a client sees of a node.
type Cluster struct {
	// Nodes in node-id order (Nodes[0].ID == 1).
	Nodes []*Node
	// RootUser and RootPassword log in as root on any node.
	RootUser     string
	RootPassword string
	// Emulator is the one engine behind every node of an emulator cluster
	// (its clock and faults apply to all nodes); nil for real servers.
	Emulator *emulator.Server
	// Target is the kind of KalamDB: TargetEmulator, TargetBinary, ...
	Target string
}

// Node is one member of a Cluster.
type Node struct {
	// ID is the node id, 1-based.
	ID int
	// URL is the node's client URL (through its fault proxy).
	URL string

	proxy *Proxy
	// process is the real server behind the proxy; nil for emulator nodes,
	// which share one engine and so are stopped at their listener.
	process nodeProcess
}

// nodeProcess is a real node's process, as a cluster starter runs it.
type nodeProcess interface {
	// kill ends the process abruptly (SIGKILL): its clients see resets.
	kill() error
	// restart starts it again on its ports and config, on its data
	// directory or (empty) on a new empty one, and returns once it answers
	// and has rejoined the cluster.
	restart(ctx context.Context, empty bool) error
	// freeze suspends (SIGSTOP) or resumes (SIGCONT) the process.
	freeze(on bool) error
	// logTail returns the last n lines of its output, for failures.
	logTail(n int) string
	// leads reports whether the node leads the cluster's Meta Raft group.
	leads(ctx context.Context) (bool, error)
}

// URLs returns every node's URL, in node order: what sdk.WithEndpoints takes.
func (c *Cluster) URLs() []string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.URL
	}
	return urls
}

// NodeAt returns the node whose URL is url (as a client reports the node it
// uses), or nil.
func (c *Cluster) NodeAt(url string) *Node {
	for _, n := range c.Nodes {
		if n.URL == url {
			return n
		}
	}
	return nil
}

// Leader returns the node that leads the cluster's Meta Raft group: where
// followers forward writes and DDL, and the only node that takes FILE
// uploads. It asks each real node's /v1/api/cluster/health (loopback, no
// auth) and waits, until ctx ends, for a node that reports itself leader:
// after the leader dies the others still name it until a new one is
// elected (about 2 s). An emulator cluster is one engine, so its first
// node that is not stopped leads.
func (c *Cluster) Leader(ctx context.Context) (*Node, error) {
	for {
		var why []string
		for _, n := range c.Nodes {
			ok, err := n.leads(ctx)
			if ok {
				return n, nil
			}
			if err != nil {
				why = append(why, fmt.Sprintf("node %d: %v", n.ID, err))
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no cluster leader (%s): %w", strings.Join(why, "; "), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// leads reports whether the node is up and leads the Meta group.
func (n *Node) leads(ctx context.Context) (bool, error) {
	if n.proxy.refusing() {
		return false, errors.New("stopped")
	}
	if n.process == nil {
		return true, nil // emulator: every node is the one engine
	}
	return n.process.leads(ctx)
}

// Stop takes the node down the way a crash does: its open connections are
// reset and new ones refused by the operating system. A real node's process is killed.
func (n *Node) Stop() error {
	n.proxy.Kill()
	if n.process != nil {
		if err := n.process.kill(); err != nil {
			return fmt.Errorf("stop node %d: %w", n.ID, err)
		}
	}
	return nil
}

// Start brings a stopped node back (a real one on its own data) and
// returns once it accepts connections again and, for a real node, has
// rejoined: it knows a leader in every Raft group and has caught up. A
// real KalamDB 0.4.2 node usually cannot rejoin on its old data (a Raft
// group panics); Start then fails, leaves the node stopped, and
// StartEmpty can bring it back.
func (n *Node) Start(ctx context.Context) error { return n.start(ctx, false) }

// StartEmpty brings a stopped node back with an empty data directory (same
// id, ports and config), as an operator replaces a failed node: it rejoins
// and the leader copies it the replicated data. An emulator node starts as
// with Start.
func (n *Node) StartEmpty(ctx context.Context) error { return n.start(ctx, true) }

func (n *Node) start(ctx context.Context, empty bool) error {
	if n.process != nil {
		if err := n.process.restart(ctx, empty); err != nil {
			return fmt.Errorf("start node %d: %w", n.ID, err)
		}
	}
	return n.proxy.Revive()
}

// Cut resets the node's open connections; the node stays up. It returns
// how many were cut.
func (n *Node) Cut() int { return n.proxy.CutAll() }

// Freeze makes the node stop answering while its connections stay open, as
// a hung process or a partition does; Freeze(false) lets it go on. A real
// node's process is suspended.
func (n *Node) Freeze(on bool) error {
	if n.process != nil {
		if err := n.process.freeze(on); err != nil {
			return fmt.Errorf("freeze node %d: %w", n.ID, err)
		}
		return nil
	}
	n.proxy.Blackhole(on)
	return nil
}

// Proxy returns the node's fault proxy, for finer faults (latency, stalls).
func (n *Node) Proxy() *Proxy { return n.proxy }

// LogTail returns the last lines of a real node's output ("" for emulator
// nodes), for test failure messages.
func (n *Node) LogTail(lines int) string {
	if n.process == nil {
		return ""
	}
	return n.process.logTail(lines)
}

// StartCluster returns a cluster of n nodes of the KalamDB the environment
// names (see Start), stopped when the test ends:
//
//   - the emulator: n listeners over one engine;
//   - KALAMTEST_SERVER_BIN: n real servers on loopback ports, configured as
//     one Raft cluster;
//   - KALAMTEST_IMAGE: n containers on a private network;
//   - KALAMDB_URL names one node, so the test is skipped.
func StartCluster(t testing.TB, n int, opts ...ServerOption) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("kalamtest: a cluster needs at least one node, got %d", n)
	}
	target, err := targetFromEnv()
	if err != nil {
		t.Fatalf("kalamtest: %v", err)
	}
	if target == TargetEmulator {
		return startEmulatorCluster(t, n, opts...)
	}
	// Emulator options do not apply to real servers; NeedsSetup would.
	var sc serverConfig
	for _, o := range opts {
		o(&sc)
	}
	switch {
	case target == TargetURL:
		t.Skipf("kalamtest: needs a cluster it can stop nodes of; %s names one external server", EnvURL)
	case sc.needsSetup:
		t.Skipf("kalamtest: a %s cluster starts with root's password set; NeedsSetup applies to one server", target)
	case target == TargetBinary:
		return startBinaryCluster(t, os.Getenv(EnvServerBin), n)
	}
	return startContainerCluster(t, os.Getenv(EnvImage), n)
}

// startEmulatorCluster puts n fault proxies in front of one emulator: each
// is a node a client can lose, while the data is shared as a cluster's is.
func startEmulatorCluster(t testing.TB, n int, opts ...ServerOption) *Cluster {
	t.Helper()
	srv := NewServer(t, opts...)
	c := &Cluster{RootUser: srv.RootUser, RootPassword: srv.RootPassword, Emulator: srv.Emulator, Target: TargetEmulator}
	for i := 1; i <= n; i++ {
		p := NewProxy(t, srv.URL)
		c.Nodes = append(c.Nodes, &Node{ID: i, URL: p.URL, proxy: p})
	}
	return c
}

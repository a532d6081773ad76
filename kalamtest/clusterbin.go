//go:build !js && !wasip1

package kalamtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// How a KalamDB cluster routes client requests (KalamDB 0.4.2, read from
// the server's source and checked against a 3-node cluster of the real
// binary; the sdk package documentation, Clusters, says what the client
// does about each point):
//
//   - Every node takes every request. A node that does not lead the Meta
//     Raft group forwards SQL with a write or DDL to the Meta leader over
//     gRPC, and a read of a table whose shard it does not lead to that
//     shard's leader, so the client sees the leader's answer. Nothing
//     redirects the client and no answer names the leader.
//   - While there is no leader (about 2 s after the leader dies, with the
//     server's default timings) or it cannot be reached, a forwarded
//     request fails with 503 FORWARD_FAILED: send it again to another node
//     or a little later. After a failover the shards may be led by another
//     node than Meta; then a write sent to a follower fails with 400
//     SQL_EXECUTION_ERROR "Statement N failed: Not leader for shard …"
//     while the Meta leader takes it: also worth sending to another node.
//     FILE uploads are never forwarded: a follower answers 503 NOT_LEADER.
//   - A subscription lives on the node whose WebSocket it uses and sees the
//     changes that node applies; when the node dies the socket drops and
//     the client resubscribes elsewhere. _seq is stamped by each node as it
//     applies a change, so the same row has a different _seq on each node
//     (time ordered, a few ms apart): resuming FromSeq on another node is
//     approximate, and rows should be matched by primary key.
//   - Autocommit INSERT/UPDATE/DELETE are applied by the shard leader only;
//     explicit transactions (BEGIN … COMMIT in one request), DDL and users
//     are replicated to every node. Topics and consumer-group offsets stay
//     on the node that created or acknowledged them.
//   - Tokens from one node work on all (one JWT secret) and users are
//     replicated, so log in once (root's login costs bcrypt 12) and reuse
//     the token. /v1/api/healthcheck answers "healthy" on any node that is
//     up, even one without a leader; /v1/api/cluster/health (loopback
//     only) says whether the node knows a leader and which node it is.
//   - A node restarted on its old data does not rejoin in 0.4.2 (its Raft
//     groups panic); restarted empty it rejoins and copies the data.

// clusterNodeTOML is the [cluster] section of one node. The Raft timings
// are slower than the server's defaults (heartbeat 250 ms, election
// timeout 500-1000 ms, which is also its vote RPC timeout): on a loaded
// test machine those time out every vote and the cluster never forms.
// An election here takes 3-9 s instead of about 2 s.
const clusterNodeTOML = `
[cluster]
cluster_id = "kalamtest"
node_id = %d
rpc_addr = "127.0.0.1:%d"
api_addr = "http://127.0.0.1:%d"
heartbeat_interval_ms = 300
election_timeout_ms = [1500, 3000]
`

const clusterPeerTOML = `
[[cluster.peers]]
node_id = %d
rpc_addr = "127.0.0.1:%d"
api_addr = "http://127.0.0.1:%d"
`

// clusterStartTimeout bounds a node's start and a cluster's wait for a
// leader; a 3-node debug cluster is ready in about 5 s on an idle machine.
const clusterStartTimeout = 90 * time.Second

// rejoinTimeout bounds the wait for a restarted node to know the leader.
const rejoinTimeout = 30 * time.Second

// startBinaryCluster runs n real servers on loopback as one Raft cluster,
// each with its own directory, HTTP and RPC ports and the same JWT secret
// and root password, sharing one cold/FILE storage directory as KalamDB's
// docker-compose cluster does, behind one fault proxy each. It returns once every
// node lets root log in and reports the same Meta leader in
// /v1/api/cluster/health.
func startBinaryCluster(t testing.TB, bin string, n int) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()
	started := time.Now()
	servers, err := startBinaryNodes(ctx, bin, t.TempDir(), n)
	if err != nil {
		t.Fatalf("kalamtest: %v", err)
	}
	t.Cleanup(func() { stopBinaryNodes(servers) })
	leader, err := waitClusterLeader(ctx, servers)
	if err != nil {
		t.Fatalf("kalamtest: %v%s", err, nodeLogs(servers, 2048))
	}
	t.Logf("kalamtest: %d-node cluster ready in %s, node %d leads", n, time.Since(started).Round(time.Millisecond), leader)
	c := &Cluster{RootUser: servers[0].RootUser, RootPassword: servers[0].RootPassword, Target: TargetBinary}
	for i, s := range servers {
		p := NewProxy(t, s.URL)
		c.Nodes = append(c.Nodes, &Node{ID: i + 1, URL: p.URL, proxy: p, process: &binaryNode{srv: s}})
	}
	return c
}

// startBinaryNodes starts all n servers at once: the first one forms the
// cluster only when its peers answer, so they cannot start one by one.
func startBinaryNodes(ctx context.Context, bin, dir string, n int) ([]*BinaryServer, error) {
	httpPorts, rpcPorts := make([]int, n), make([]int, n)
	for i := range n {
		var err error
		if httpPorts[i], err = freeLoopbackPort(); err == nil {
			rpcPorts[i], err = freeLoopbackPort()
		}
		if err != nil {
			return nil, fmt.Errorf("start cluster: %w", err)
		}
	}
	servers := make([]*BinaryServer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		var toml strings.Builder
		fmt.Fprintf(&toml, clusterNodeTOML, i+1, rpcPorts[i], httpPorts[i])
		for j := range n {
			if j != i {
				fmt.Fprintf(&toml, clusterPeerTOML, j+1, rpcPorts[j], httpPorts[j])
			}
		}
		nodeDir := filepath.Join(dir, "node"+strconv.Itoa(i+1))
		if err := os.Mkdir(nodeDir, 0o700); err != nil {
			return nil, fmt.Errorf("start cluster: %w", err)
		}
		wg.Go(func() {
			servers[i], errs[i] = StartBinary(ctx, BinaryConfig{
				Bin: bin, Dir: nodeDir, Port: httpPorts[i], SharedStorage: filepath.Join(dir, "storage"),
				ExtraTOML: toml.String(), StartTimeout: clusterStartTimeout,
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, s := range servers {
			if s != nil {
				s.Kill()
			}
		}
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	return servers, nil
}

// stopBinaryNodes kills every node at the end of a test: their data is
// thrown away, and a clean stop waits for peers that may be gone already
// (one took over 20 s).
func stopBinaryNodes(servers []*BinaryServer) {
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(s.Kill)
	}
	wg.Wait()
}

// clusterHealth is the part of /v1/api/cluster/health kalamtest reads.
type clusterHealth struct {
	Status   string `json:"status"`
	NodeID   int    `json:"node_id"`
	IsLeader bool   `json:"is_leader"`
	Nodes    []struct {
		NodeID   int    `json:"node_id"`
		IsLeader bool   `json:"is_leader"`
		APIAddr  string `json:"api_addr"`
	} `json:"nodes"`
}

// leaderURL is the Meta leader's API address this node reports, "" if none.
func (h *clusterHealth) leaderURL() string {
	for _, n := range h.Nodes {
		if n.IsLeader {
			return n.APIAddr
		}
	}
	return ""
}

// leaderID is the Meta leader this node reports, 0 if none.
func (h *clusterHealth) leaderID() int {
	for _, n := range h.Nodes {
		if n.IsLeader {
			return n.NodeID
		}
	}
	return 0
}

var healthClient = &http.Client{Timeout: 2 * time.Second}

// getClusterHealth reads a node's /v1/api/cluster/health (loopback only,
// no auth).
func getClusterHealth(ctx context.Context, baseURL string) (*clusterHealth, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/v1/api/cluster/health", nil)
	if err != nil {
		return nil, err
	}
	resp, err := healthClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cluster health answered %d: %.200s", resp.StatusCode, body)
	}
	var h clusterHealth
	if err := json.Unmarshal(body, &h); err != nil {
		return nil, fmt.Errorf("cluster health: %w: %.200s", err, body)
	}
	return &h, nil
}

// waitClusterLeader polls every node's cluster health until all are
// "healthy" and name the same Meta leader, and returns its node id.
func waitClusterLeader(ctx context.Context, servers []*BinaryServer) (int, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		leader, why := agreedLeader(ctx, servers)
		if why == "" {
			return leader, nil
		}
		last = why
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("the cluster has no leader all nodes agree on (last: %s): %w", last, ctx.Err())
		case <-tick.C:
		}
	}
}

// agreedLeader returns the leader every node names, or why there is none.
func agreedLeader(ctx context.Context, servers []*BinaryServer) (int, string) {
	leader := 0
	for i, s := range servers {
		h, err := getClusterHealth(ctx, s.URL)
		switch {
		case err != nil:
			return 0, fmt.Sprintf("node %d: %v", i+1, err)
		case h.Status != "healthy":
			return 0, fmt.Sprintf("node %d is %s", i+1, h.Status)
		case leader != 0 && h.leaderID() != leader:
			return 0, fmt.Sprintf("node %d names leader %d, another node %d", i+1, h.leaderID(), leader)
		}
		leader = h.leaderID()
	}
	return leader, ""
}

// restartMarker is written to a server's output tail before a restart,
// so a rejoin check reads only what the new process printed.
const restartMarker = "--- kalamtest: restarted ---"

// waitRejoined polls a restarted node until it knows the Meta leader
// (cluster health "healthy") and, in every Raft group, a leader and has
// applied as far as the Meta leader had when the wait began: until then
// it answers reads of a shard with NOT_LEADER, and a group whose Raft core
// panicked (KalamDB 0.4.2 on old data) never gets there. A panic in the
// new process's output ends the wait at once.
func waitRejoined(ctx context.Context, s *BinaryServer, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var target map[string]int64 // group id -> the leader's last_applied
	var last string
	for {
		out := s.LogTail(64 << 10)
		if i := strings.LastIndex(out, restartMarker); i >= 0 && strings.Contains(out[i:], "panicked at") {
			return errors.New("it answers but a Raft group of it panicked, so it cannot catch up")
		}
		h, err := getClusterHealth(ctx, s.URL)
		switch {
		case err != nil:
			last = err.Error()
		case h.Status != "healthy" || h.leaderURL() == "":
			last = "status " + h.Status
		case target == nil:
			target, err = clusterGroups(ctx, s, h.leaderURL())
			if err != nil {
				last, target = "the leader's groups: "+err.Error(), nil
			} else {
				last = "read the leader's groups"
			}
		default:
			last = behindLeader(ctx, s, target)
			if last == "" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("it answers but did not rejoin the cluster within %s (last: %s)", timeout, last)
		case <-tick.C:
		}
	}
}

// groupRow is one row of system.cluster_groups as kalamtest reads it.
type groupRow struct {
	id, state   string
	hasLeader   bool
	lastApplied int64
}

// readClusterGroups reads system.cluster_groups on the server at baseURL
// (each node answers from its own Raft state) with s's root token.
func readClusterGroups(ctx context.Context, s *BinaryServer, baseURL string) ([]groupRow, error) {
	s.mu.Lock()
	token := s.token
	s.mu.Unlock()
	body := `{"sql":"SELECT group_id, state, current_leader, last_applied FROM system.cluster_groups"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/v1/api/sql", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := healthClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	var r struct {
		Results []struct {
			Rows [][]any `json:"rows"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &r); err != nil || resp.StatusCode != http.StatusOK || len(r.Results) != 1 || len(r.Results[0].Rows) == 0 {
		return nil, fmt.Errorf("system.cluster_groups answered %d: %.200s", resp.StatusCode, b)
	}
	rows := make([]groupRow, 0, len(r.Results[0].Rows))
	for _, row := range r.Results[0].Rows {
		if len(row) != 4 {
			return nil, fmt.Errorf("system.cluster_groups row %v has %d columns, want 4", row, len(row))
		}
		g := groupRow{id: fmt.Sprint(row[0]), state: fmt.Sprint(row[1]), hasLeader: row[2] != nil}
		if row[3] != nil {
			if g.lastApplied, err = strconv.ParseInt(fmt.Sprint(row[3]), 10, 64); err != nil {
				return nil, fmt.Errorf("system.cluster_groups last_applied %v: %w", row[3], err)
			}
		}
		rows = append(rows, g)
	}
	return rows, nil
}

// clusterGroups returns each group's last_applied on the server at baseURL.
func clusterGroups(ctx context.Context, s *BinaryServer, baseURL string) (map[string]int64, error) {
	rows, err := readClusterGroups(ctx, s, baseURL)
	if err != nil {
		return nil, err
	}
	m := make(map[string]int64, len(rows))
	for _, g := range rows {
		m[g.id] = g.lastApplied
	}
	return m, nil
}

// behindLeader says which of the node's groups have no leader, are not
// joined, or have not applied as far as target; "" when none.
func behindLeader(ctx context.Context, s *BinaryServer, target map[string]int64) string {
	rows, err := readClusterGroups(ctx, s, s.URL)
	if err != nil {
		return err.Error()
	}
	var behind []string
	for _, g := range rows {
		if !g.hasLeader || (g.state != "Leader" && g.state != "Follower") || g.lastApplied < target[g.id] {
			behind = append(behind, fmt.Sprintf("group %s %s applied %d of %d", g.id, g.state, g.lastApplied, target[g.id]))
		}
	}
	if len(behind) > 0 {
		return "not caught up: " + strings.Join(behind, ", ")
	}
	return ""
}

func nodeLogs(servers []*BinaryServer, n int) string {
	var b strings.Builder
	for i, s := range servers {
		fmt.Fprintf(&b, "\n--- node %d output (last %d bytes) ---\n%s", i+1, n, s.LogTail(n))
	}
	return b.String()
}

// binaryNode is a real node's process for Node.
type binaryNode struct {
	srv *BinaryServer
}

func (b *binaryNode) leads(ctx context.Context) (bool, error) {
	h, err := getClusterHealth(ctx, b.srv.URL)
	if err != nil {
		return false, err
	}
	return h.IsLeader, nil
}

func (b *binaryNode) kill() error {
	b.srv.kill()
	return nil
}

func (b *binaryNode) restart(ctx context.Context, empty bool) error {
	if b.srv.running() {
		return nil
	}
	_, _ = b.srv.log.Write([]byte("\n" + restartMarker + "\n"))
	if err := b.srv.Restart(ctx, empty, clusterStartTimeout); err != nil {
		return err
	}
	if err := waitRejoined(ctx, b.srv, rejoinTimeout); err != nil {
		// Left running it would stay half joined; stopped, StartEmpty can
		// bring it back.
		b.srv.kill()
		hint := ""
		if !empty {
			hint = "; KalamDB 0.4.2 often cannot rejoin on its old data (a Raft group panics on the leader's first append), StartEmpty can"
		}
		return fmt.Errorf("%w%s\n--- node output (last 2 KiB) ---\n%s", err, hint, b.srv.LogTail(2048))
	}
	return nil
}

func (b *binaryNode) freeze(on bool) error {
	sig := syscall.SIGCONT
	if on {
		sig = syscall.SIGSTOP
	}
	return b.srv.signal(sig)
}

func (b *binaryNode) logTail(n int) string {
	lines := strings.Split(strings.TrimRight(b.srv.LogTail(64<<10), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

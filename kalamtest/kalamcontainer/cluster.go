//go:build !js && !wasip1

package kalamcontainer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// EmulatorLabel marks an image as the kalamdb-emulator (Dockerfile.test's
// emulator stage sets it). Each emulator container is its own engine, so
// RunCluster refuses such an image with ErrNoCluster before starting any.
const EmulatorLabel = "org.kalamstack.kalamdb.emulator"

// ErrNoCluster is RunCluster's error for an image whose containers cannot
// form one cluster (the emulator).
var ErrNoCluster = errors.New("image cannot form a cluster")

// MaxClusterNodes bounds RunCluster's n (each node takes two loopback ports
// in every container: 8100+id and 9100+id).
const MaxClusterNodes = 99

// Ports inside every node's container: the server's HTTP port is Port
// (8080); node id's RPC port is rpcBase+id; every node reaches node id's
// HTTP at 127.0.0.1:apiBase+id and its RPC at 127.0.0.1:rpcBase+id, which
// the relays carry to node id's inbound relays on relayHTTP and relayRPC.
const (
	apiBase   = 8100
	rpcBase   = 9100
	relayHTTP = 18080
	relayRPC  = 19080
	clusterID = "kalamcontainer"
)

// clusterTOML is the [cluster] section the relay adds to a node's config
// file (unless it has one), for settings no environment variable reaches,
// chosen for test machines: one user shard, so 3 Raft groups instead of 14
// (faster to form, less CPU), and Raft timings that a loaded machine does
// not turn into spurious elections or failed joins. A failover takes a
// few seconds more than with KalamDB's defaults (250 ms heartbeats,
// 0.5-1 s election timeout, 5 s replication timeout). The environment's
// KALAMDB_CLUSTER_* settings apply over it.
const clusterTOML = `[cluster]
cluster_id = %q
node_id = %d
user_shards = 1
heartbeat_interval_ms = 300
election_timeout_ms = [1500, 3000]
replication_timeout_ms = 30000`

// Cluster is n KalamDB containers forming one Raft cluster over a private
// Docker network. Each node's HTTP port is published on the host at a port
// chosen once, so a node's URL stays the same across Stop, Start,
// Partition and Heal.
type Cluster struct {
	// Nodes in node-id order (Nodes[0].ID == 1).
	Nodes []*ClusterNode
	// Network is the private network the nodes talk over (internal: it
	// has no route out; clients reach nodes through published ports).
	Network *testcontainers.DockerNetwork
	// RootUser and RootPassword log in as root on any node.
	RootUser, RootPassword string

	cli *testcontainers.DockerClient

	mu    sync.Mutex
	token string // root's access token, valid on every node (one JWT secret)
}

// ClusterNode is one node of a Cluster: its container (URL is where the
// host reaches it), its node id, and its name on the private network.
type ClusterNode struct {
	*Container
	// ID is the KalamDB node id, 1-based.
	ID int
	// Alias is the node's host name on the private network ("node1", ...).
	Alias string

	cluster *Cluster
	timeout time.Duration
	// image and opts make the node's container again (StartEmpty).
	image string
	opts  []testcontainers.ContainerCustomizer
}

// RunCluster starts n containers of img as one KalamDB cluster and returns
// once root can log in on every node and every node sees all n nodes
// active. Options are Run's (they apply to every node; an Option's start
// timeout bounds the whole cluster's start). On error nothing is left
// behind: containers and network are removed, and the error says which
// node and step failed (errors.Is with Run's errors, ErrNoCluster for the
// emulator image). Stop it with Terminate.
//
// The nodes are configured as a loopback cluster and relayed over the
// private network (see the package documentation): the image needs perl,
// which Debian- and Ubuntu-based images (KalamDB's) have.
func RunCluster(ctx context.Context, img string, n int, opts ...testcontainers.ContainerCustomizer) (*Cluster, error) {
	ryukOffUnlessChosen()
	if n < 1 || n > MaxClusterNodes {
		return nil, fmt.Errorf("kalamcontainer: a cluster of %d nodes; RunCluster starts 1 to %d", n, MaxClusterNodes)
	}
	if img == "" {
		return nil, errors.New("kalamcontainer: RunCluster: no image named")
	}
	st, err := readSettings(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, st.startTimeout)
	defer cancel()

	cli, err := NewDockerClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("kalamcontainer: %w", err)
	}
	command, err := clusterCommand(ctx, cli, img)
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("kalamcontainer: %w", err)
	}
	nw, err := tcnetwork.New(ctx, tcnetwork.WithInternal())
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("kalamcontainer: create the cluster's network: %w", err)
	}
	c := &Cluster{Network: nw, cli: cli, Nodes: make([]*ClusterNode, n)}

	ports, err := freePorts(n)
	if err != nil {
		return nil, c.abort(fmt.Errorf("kalamcontainer: %w", err))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := i + 1
			nodeOpts := append([]testcontainers.ContainerCustomizer{nodeRequest(id, n, nw.Name, ports[i], command)}, opts...)
			ctr, err := Run(ctx, img, nodeOpts...)
			if err != nil {
				errs[i] = fmt.Errorf("node %d: %w", id, err)
				return
			}
			c.Nodes[i] = &ClusterNode{Container: ctr, ID: id, Alias: alias(id), cluster: c,
				timeout: st.startTimeout, image: img, opts: nodeOpts}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, c.abort(err)
	}
	c.RootUser, c.RootPassword = c.Nodes[0].RootUser, c.Nodes[0].RootPassword
	if err := c.WaitFormed(ctx); err != nil {
		return nil, c.abort(fmt.Errorf("kalamcontainer: %w", err))
	}
	return c, nil
}

func alias(id int) string { return "node" + strconv.Itoa(id) }

// clusterCommand checks img can form a cluster and returns the command its
// containers run (entrypoint and command), which the relay then execs.
func clusterCommand(ctx context.Context, cli *testcontainers.DockerClient, img string) ([]string, error) {
	if err := ensureImage(ctx, cli, img); err != nil {
		return nil, err
	}
	res, err := cli.ImageInspect(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("inspect image %s: %w", img, err)
	}
	if res.Config == nil {
		return nil, fmt.Errorf("image %s has no configuration (no command to run)", img)
	}
	command := append(append([]string{}, res.Config.Entrypoint...), res.Config.Cmd...)
	if len(command) == 0 {
		return nil, fmt.Errorf("image %s has neither entrypoint nor command", img)
	}
	// The label, or for an emulator image built before the label its
	// entrypoint.
	if res.Config.Labels[EmulatorLabel] != "" || path.Base(command[0]) == "kalamdb-emulator" {
		return nil, fmt.Errorf("%w: %s is the kalamdb-emulator (its label %s or entrypoint says so): each container is its own engine; use a KalamDB image", ErrNoCluster, img, EmulatorLabel)
	}
	return command, nil
}

// nodeRequest configures node id of n: the cluster's environment, the
// relays in front of command, the private network under its alias (the
// default bridge network stays first, so published ports do not depend on
// the private network and survive a partition), and its host port.
func nodeRequest(id, n int, netName, hostPort string, command []string) testcontainers.CustomizeRequestOption {
	return func(req *testcontainers.GenericContainerRequest) error {
		var peers []string
		relays := []string{
			fmt.Sprintf("0.0.0.0:%d=127.0.0.1:8080", relayHTTP),
			fmt.Sprintf("0.0.0.0:%d=127.0.0.1:%d", relayRPC, rpcBase+id),
			fmt.Sprintf("127.0.0.1:%d=127.0.0.1:8080", apiBase+id), // its own advertised address
		}
		for j := 1; j <= n; j++ {
			if j == id {
				continue
			}
			peers = append(peers, fmt.Sprintf("%d@127.0.0.1:%d@http://127.0.0.1:%d", j, rpcBase+j, apiBase+j))
			relays = append(relays,
				fmt.Sprintf("127.0.0.1:%d=%s:%d", apiBase+j, alias(j), relayHTTP),
				fmt.Sprintf("127.0.0.1:%d=%s:%d", rpcBase+j, alias(j), relayRPC))
		}
		if err := testcontainers.WithEnv(map[string]string{
			"KALAMCONTAINER_CLUSTER_TOML": fmt.Sprintf(clusterTOML, clusterID, id),
			"KALAMDB_CLUSTER_ID":          clusterID,
			"KALAMDB_NODE_ID":             strconv.Itoa(id),
			"KALAMDB_CLUSTER_RPC_ADDR":    fmt.Sprintf("127.0.0.1:%d", rpcBase+id),
			"KALAMDB_CLUSTER_API_ADDR":    fmt.Sprintf("http://127.0.0.1:%d", apiBase+id),
			"KALAMDB_CLUSTER_PEERS":       strings.Join(peers, ";"),
		})(req); err != nil {
			return err
		}
		req.Entrypoint = append([]string{"perl", "-e", relayScript}, append(relays, "--")...)
		req.Cmd = command
		req.Networks = []string{"bridge", netName}
		if req.NetworkAliases == nil {
			req.NetworkAliases = map[string][]string{}
		}
		req.NetworkAliases[netName] = []string{alias(id)}
		return testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			if hc.PortBindings == nil {
				hc.PortBindings = network.PortMap{}
			}
			hc.PortBindings[network.MustParsePort(Port)] = []network.PortBinding{{HostPort: hostPort}}
		})(req)
	}
}

// freePorts picks n free host ports. Docker only takes an ephemeral host
// port for a container's life: a restarted or reconnected container gets a
// new one, so each node's port is chosen once here and kept.
func freePorts(n int) ([]string, error) {
	ports := make([]string, n)
	lns := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := range ports {
		ln, err := net.Listen("tcp", ":0")
		if err != nil {
			return nil, fmt.Errorf("pick a free host port: %w", err)
		}
		lns = append(lns, ln)
		ports[i] = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// abort removes whatever a failed RunCluster started and returns err.
func (c *Cluster) abort(err error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if terr := c.Terminate(ctx); terr != nil {
		err = errors.Join(err, fmt.Errorf("clean up: %w", terr))
	}
	return err
}

// Terminate removes every node's container and the network.
func (c *Cluster) Terminate(ctx context.Context) error {
	if c == nil {
		return nil
	}
	var errs []error
	for _, n := range c.Nodes {
		if n != nil {
			// Killed: a test's data is not kept, and KalamDB's graceful
			// shutdown (flushes) can take longer than a cleanup should.
			if err := testcontainers.TerminateContainer(n.DockerContainer, testcontainers.StopContext(ctx), testcontainers.StopTimeout(0)); err != nil {
				errs = append(errs, fmt.Errorf("node %d: %w", n.ID, err))
			}
		}
	}
	if c.Network != nil {
		if err := c.Network.Remove(ctx); err != nil {
			errs = append(errs, fmt.Errorf("network: %w", err))
		}
		c.Network = nil
	}
	if c.cli != nil {
		c.cli.Close()
		c.cli = nil
	}
	return errors.Join(errs...)
}

// URLs returns every node's URL in node order.
func (c *Cluster) URLs() []string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.URL
	}
	return urls
}

// WaitFormed returns once every running, connected node reports all nodes
// of the cluster active (system.cluster), or ctx ends: after Start or Heal,
// it is when the cluster is whole again. Paused nodes are not asked.
func (c *Cluster) WaitFormed(ctx context.Context) error {
	hc := &http.Client{Timeout: 20 * time.Second}
	defer hc.CloseIdleConnections()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		last = c.formed(ctx, hc)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: the cluster did not form: %v", ErrNotReady, last)
		case <-tick.C:
		}
	}
}

func (c *Cluster) formed(ctx context.Context, hc *http.Client) error {
	for _, n := range c.Nodes {
		state, err := n.State(ctx)
		if err != nil {
			return fmt.Errorf("node %d: %w", n.ID, err)
		}
		if state.Paused {
			continue
		}
		if !state.Running {
			return fmt.Errorf("node %d is %s", n.ID, state.Status)
		}
		rows, err := c.sqlRows(ctx, hc, n.URL, "SELECT node_id, status FROM system.cluster")
		if err != nil {
			return fmt.Errorf("node %d: %w", n.ID, err)
		}
		active := 0
		for _, r := range rows {
			if len(r) == 2 && r[1] == "active" {
				active++
			}
		}
		if active != len(c.Nodes) {
			return fmt.Errorf("node %d sees %d of %d nodes active: %v", n.ID, active, len(c.Nodes), rows)
		}
	}
	return nil
}

// sqlRows runs one statement on the node at baseURL as root and returns
// its rows as text. It logs in once for all nodes and again only when the
// token is refused: a login hashes the password, which is slow on a
// debug build, and polling must not keep the nodes busy with it.
func (c *Cluster) sqlRows(ctx context.Context, hc *http.Client, baseURL, sql string) ([][]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var res sqlResponse
	for attempt := 0; ; attempt++ {
		if c.token == "" {
			var login struct {
				AccessToken string `json:"access_token"`
			}
			body, _ := json.Marshal(map[string]string{"user": c.RootUser, "password": c.RootPassword})
			if _, err := postJSON(ctx, hc, baseURL+"/v1/api/auth/login", "", body, &login); err != nil {
				return nil, fmt.Errorf("login: %w", err)
			}
			if login.AccessToken == "" {
				return nil, errors.New("login: no access token in the answer")
			}
			c.token = login.AccessToken
		}
		body, _ := json.Marshal(map[string]string{"sql": sql})
		status, err := postJSON(ctx, hc, baseURL+"/v1/api/sql", c.token, body, &res)
		if status == http.StatusUnauthorized && attempt == 0 {
			c.token = ""
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	if res.Status != "success" || len(res.Results) == 0 {
		if res.Error != nil {
			return nil, fmt.Errorf("%s: %s: %s", sql, res.Error.Code, res.Error.Message)
		}
		return nil, fmt.Errorf("%s: status %q with %d results", sql, res.Status, len(res.Results))
	}
	var rows [][]string
	for _, r := range res.Results[0].Rows {
		row := make([]string, len(r))
		for i, v := range r {
			row[i] = fmt.Sprint(v)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

type sqlResponse struct {
	Status  string `json:"status"`
	Results []struct {
		Rows [][]any `json:"rows"`
	} `json:"results"`
	Error *struct {
		Code, Message string
	} `json:"error"`
}

// postJSON posts body and decodes the JSON answer into out, returning the
// status code.
func postJSON(ctx context.Context, hc *http.Client, u, token string, body []byte, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return resp.StatusCode, fmt.Errorf("%d %s: %.200s", resp.StatusCode, http.StatusText(resp.StatusCode), b)
	}
	return resp.StatusCode, nil
}

// Leader returns the node that leads the cluster's Meta Raft group (where
// followers forward writes and DDL, and the only node that takes FILE
// uploads), as system.cluster's is_leader tells on the first node that
// answers and knows one. KalamDB's /v1/api/cluster/health says the same
// but answers only localhost inside the container.
func (c *Cluster) Leader(ctx context.Context) (*ClusterNode, error) {
	hc := &http.Client{Timeout: 20 * time.Second}
	defer hc.CloseIdleConnections()
	var errs []error
	for _, n := range c.Nodes {
		rows, err := c.sqlRows(ctx, hc, n.URL, "SELECT node_id FROM system.cluster WHERE is_leader")
		if err != nil {
			errs = append(errs, fmt.Errorf("node %d: %w", n.ID, err))
			continue
		}
		for _, r := range rows {
			for _, m := range c.Nodes {
				if len(r) == 1 && r[0] == strconv.Itoa(m.ID) {
					return m, nil
				}
			}
		}
		errs = append(errs, fmt.Errorf("node %d knows no leader (%v)", n.ID, rows))
	}
	return nil, fmt.Errorf("kalamcontainer: no cluster leader: %w", errors.Join(errs...))
}

// Kill ends the node's server abruptly (SIGKILL), as a crash does; its
// data stays in the container for Start.
func (n *ClusterNode) Kill(ctx context.Context) error {
	if _, err := n.cluster.cli.ContainerKill(ctx, n.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		return fmt.Errorf("kill node %d: %w", n.ID, err)
	}
	return nil
}

// Start starts a stopped or killed node on its own data, at the same URL,
// and returns once root can log in on it. Whether it has caught up with
// the cluster is Cluster.WaitFormed's question, which cannot tell
// everything: KalamDB 0.4.2-rc.3 often cannot take a node back on its old
// data when the cluster wrote meanwhile (a Raft group of it panics, "panicked
// at" in its logs) while system.cluster still lists it active; StartEmpty
// replaces it instead.
func (n *ClusterNode) Start(ctx context.Context) error {
	if err := n.DockerContainer.Start(ctx); err != nil {
		return fmt.Errorf("start node %d: %w", n.ID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	if _, err := waitReady(ctx, n.cluster.cli, n.DockerContainer, n.RootPassword, n.timeout); err != nil {
		return fmt.Errorf("start node %d: %w", n.ID, err)
	}
	return nil
}

// StartEmpty replaces the node's container by a new one on empty data:
// same node id, alias, URL and configuration, as an operator replaces a
// failed node. The cluster adds it back and copies it the replicated data
// (Cluster.WaitFormed to wait for that); see Start for why KalamDB
// 0.4.2-rc.3 needs it. Node 1 is the bootstrap node, which initializes a
// cluster when it starts.
func (n *ClusterNode) StartEmpty(ctx context.Context) error {
	if err := testcontainers.TerminateContainer(n.DockerContainer, testcontainers.StopContext(ctx), testcontainers.StopTimeout(0)); err != nil {
		return fmt.Errorf("replace node %d: remove its container: %w", n.ID, err)
	}
	ctr, err := Run(ctx, n.image, n.opts...)
	if err != nil {
		return fmt.Errorf("replace node %d: %w", n.ID, err)
	}
	n.Container = ctr
	return nil
}

// Pause freezes the node's processes (docker pause): its connections stay
// open and nothing answers, as with a hung process. Unpause resumes it.
func (n *ClusterNode) Pause(ctx context.Context) error {
	if _, err := n.cluster.cli.ContainerPause(ctx, n.GetContainerID(), client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause node %d: %w", n.ID, err)
	}
	return nil
}

// Unpause resumes a paused node.
func (n *ClusterNode) Unpause(ctx context.Context) error {
	if _, err := n.cluster.cli.ContainerUnpause(ctx, n.GetContainerID(), client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("unpause node %d: %w", n.ID, err)
	}
	return nil
}

// Partition cuts the node off from its peers: it leaves the private
// network, so it neither reaches them nor is reached by them (relayed
// connections end within seconds). Clients on the host still reach it:
// its port is published through Docker's default bridge, not the private
// network, so its open connections stay open too. It answers what it can
// alone (a login, SELECT 1); what needs the leader fails: with KalamDB
// 0.4.2-rc.3, writes and table reads get HTTP 503 FORWARD_FAILED (the
// first after about 5 s, then at once). Its open subscriptions get no
// changes until Heal, then the ones they missed.
func (n *ClusterNode) Partition(ctx context.Context) error {
	if _, err := n.cluster.cli.NetworkDisconnect(ctx, n.cluster.Network.ID, client.NetworkDisconnectOptions{Container: n.GetContainerID()}); err != nil {
		return fmt.Errorf("partition node %d: %w", n.ID, err)
	}
	return nil
}

// Heal joins a partitioned node back to the private network under its
// alias; the cluster takes it back by itself (WaitFormed to wait for it).
func (n *ClusterNode) Heal(ctx context.Context) error {
	if _, err := n.cluster.cli.NetworkConnect(ctx, n.cluster.Network.ID, client.NetworkConnectOptions{
		Container:      n.GetContainerID(),
		EndpointConfig: &network.EndpointSettings{Aliases: []string{n.Alias}},
	}); err != nil {
		return fmt.Errorf("heal node %d: %w", n.ID, err)
	}
	return nil
}

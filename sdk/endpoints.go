package sdk

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/kalamstack/kalam-go/sdk/internal/realtime"
)

// WithEndpoints names the nodes of a KalamDB cluster the client may use
// besides (or, with New(""), instead of) the base URL. The client uses one
// node at a time, the base URL first; when that node fails (the connection
// is refused, reset or times out, or it answers that it cannot serve the
// call) it moves to the next, in order, and stays there while it works.
// The shared WebSocket follows, and its subscriptions resume there; see
// the package documentation's Clusters section for what is resent and
// what KalamDB guarantees.
func WithEndpoints(urls ...string) Option {
	return func(c *Client) error {
		if len(urls) == 0 {
			return errors.New("sdk: WithEndpoints: no URLs given")
		}
		for i, u := range urls {
			base, err := normalizeBaseURL(u)
			if err != nil {
				return fmt.Errorf("sdk: WithEndpoints: URL %d: %w", i+1, err)
			}
			c.extraEndpoints = append(c.extraEndpoints, base)
		}
		c.cluster = clusterSupport{}
		return nil
	}
}

// clusterHooks is the part of the client only several endpoints need. It
// is set by WithEndpoints, behind an interface, so that programs with one
// URL (browser bundles especially) do not link it.
type clusterHooks interface {
	// nodeTrouble reads a node's error answer (see clusterSupport).
	nodeTrouble(c *Client, node string, err error, idempotent bool) resend
	// realtime lets the WebSocket follow the endpoints.
	realtime(c *Client, cfg *realtime.Config, compressOff, msgpack bool)
}

type clusterSupport struct{}

func (clusterSupport) realtime(c *Client, cfg *realtime.Config, compressOff, msgpack bool) {
	cfg.Nodes = wsNodes{eps: c.eps, compressOff: compressOff, msgpack: msgpack}
	cfg.Moves = realtime.NewMover(0)
}

// endpointSet is the client's nodes and the one in use. One URL is the
// common case; everything here then costs an atomic load.
type endpointSet struct {
	urls []string
	cur  atomic.Int32
	// onSwitch, when set, is told each move from one node to another.
	onSwitch func(from, to string)
}

// newEndpointSet dedupes urls, keeping the first occurrence's place.
func newEndpointSet(urls []string) *endpointSet {
	e := &endpointSet{}
	seen := make(map[string]bool, len(urls))
	for _, u := range urls {
		if !seen[u] {
			seen[u] = true
			e.urls = append(e.urls, u)
		}
	}
	return e
}

// current returns the base URL of the node in use.
func (e *endpointSet) current() string {
	return e.urls[e.cur.Load()]
}

// many reports whether there is another node to move to.
func (e *endpointSet) many() bool { return len(e.urls) > 1 }

// failed moves off node url if it is still the one in use (a concurrent
// call may have moved already) and reports whether the node in use is now
// another one.
func (e *endpointSet) failed(url string) bool {
	if len(e.urls) < 2 {
		return false
	}
	for {
		i := e.cur.Load()
		if e.urls[i] != url {
			return true
		}
		next := (i + 1) % int32(len(e.urls))
		if e.cur.CompareAndSwap(i, next) {
			if e.onSwitch != nil {
				e.onSwitch(url, e.urls[next])
			}
			return true
		}
	}
}

// Endpoints returns every node the client may use, in order; BaseURL says
// which one is in use.
func (c *Client) Endpoints() []string {
	return append([]string(nil), c.eps.urls...)
}

// wsNodes adapts the endpoint set to the realtime manager.
type wsNodes struct {
	eps                  *endpointSet
	compressOff, msgpack bool
}

func (n wsNodes) Current() (string, string) {
	base := n.eps.current()
	return base, wsURL(base, n.compressOff, n.msgpack)
}

func (n wsNodes) Failed(name string) { n.eps.failed(name) }
func (n wsNodes) Count() int         { return len(n.eps.urls) }

// What to do with a call a cluster node answered with an error.
type resend int

const (
	dontResend  resend = iota
	resendNow          // on the next node, at once
	resendLater        // after a backoff: the cluster is electing a leader
)

// nodeTrouble reads the errors by which a KalamDB node says the trouble is
// the cluster's, not the statement's (kalamdb-api http/sql/forward.rs,
// execute.rs), moves the client off node where another may do better, and
// says whether the call may be sent again.
func (clusterSupport) nodeTrouble(c *Client, node string, err error, idempotent bool) resend {
	var se *ServerError
	if !errors.As(err, &se) {
		return dontResend
	}
	code := strings.ToUpper(se.Code)
	if code == "SQL_EXECUTION_ERROR" && strings.Contains(se.Message, shardLeaderHint) {
		// After a failover a node may lead a table's shard without leading
		// the cluster; a write forwarded the wrong way fails before it runs
		// (kalamdb-core error.rs NotLeader), naming the shard's leader.
		if !c.eps.moveTo(leaderHint(se.Message)) {
			c.eps.failed(node)
		}
		return resendNow
	}
	switch code {
	case "NOT_LEADER":
		// Sent before anything ran: file uploads must reach the leader,
		// so try the next node.
		c.eps.failed(node)
		return resendNow
	case "LEADER_NOT_AVAILABLE", "CLUSTER_UNAVAILABLE":
		// Nothing ran: there is no leader to forward to yet.
		c.eps.failed(node)
		return resendLater
	case "FORWARD_FAILED":
		// The node lost the leader mid-forward: the leader may have run a
		// write, so only a read-only statement goes again.
		c.eps.failed(node)
		if idempotent {
			return resendNow
		}
	}
	return dontResend
}

// shardLeaderHint starts KalamDB's text for a statement sent to a node that
// does not lead the table's shard: `Not leader for shard. Leader:
// Some("http://host:port")` (or None).
const shardLeaderHint = "Not leader for shard. Leader: "

// leaderHint returns the leader URL in such a message, or "".
func leaderHint(msg string) string {
	i := strings.Index(msg, shardLeaderHint+`Some(`)
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(msg[i+len(shardLeaderHint)+len("Some("):], `\"`)
	if j := strings.IndexAny(rest, `\")`); j >= 0 {
		rest = rest[:j]
	}
	return strings.TrimRight(rest, "/")
}

// moveTo makes url the node in use if it is one of the client's; false
// when it is not.
func (e *endpointSet) moveTo(url string) bool {
	if url == "" {
		return false
	}
	for i, u := range e.urls {
		if u == url {
			old := e.urls[e.cur.Swap(int32(i))]
			if old != url && e.onSwitch != nil {
				e.onSwitch(old, url)
			}
			return true
		}
	}
	return false
}

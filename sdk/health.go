package sdk

import (
	"context"
	"fmt"
)

// Health is the reply of the health endpoint.
type Health struct {
	// Status is "healthy" when the server is up.
	Status     string `json:"status"`
	Version    string `json:"version"`
	APIVersion string `json:"api_version"`
	BuildDate  string `json:"build_date"`
}

// Health asks GET /v1/api/healthcheck. KalamDB answers only localhost
// callers; from elsewhere it returns 403 (ErrPermissionDenied), which still
// proves the server is up.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var h Health
	if err := c.doJSON(ctx, &request{method: "GET", path: "/v1/api/healthcheck", idempotent: true}, &h); err != nil {
		return nil, fmt.Errorf("sdk: health: %w", err)
	}
	if h.Status == "" {
		return nil, fmt.Errorf("sdk: health: %w", &ResponseError{HTTPStatus: 200, Reason: "health reply has no status"})
	}
	return &h, nil
}

// ClusterHealth is the reply of GET /v1/api/cluster/health.
type ClusterHealth struct {
	// Status is "healthy", "degraded" or "unhealthy".
	Status        string `json:"status"`
	Version       string `json:"version"`
	BuildDate     string `json:"build_date"`
	IsClusterMode bool   `json:"is_cluster_mode"`
	// ClusterID is empty on a standalone server.
	ClusterID     string `json:"cluster_id"`
	NodeID        uint64 `json:"node_id"`
	IsLeader      bool   `json:"is_leader"`
	TotalGroups   uint32 `json:"total_groups"`
	GroupsLeading uint32 `json:"groups_leading"`
	CurrentTerm   uint64 `json:"current_term"`
	// LastApplied and MillisSinceQuorumAck are nil when unknown.
	LastApplied          *uint64       `json:"last_applied"`
	MillisSinceQuorumAck *uint64       `json:"millis_since_quorum_ack"`
	Nodes                []ClusterNode `json:"nodes"`
}

// ClusterNode is one member of the cluster.
type ClusterNode struct {
	NodeID   uint64 `json:"node_id"`
	APIAddr  string `json:"api_addr"`
	IsSelf   bool   `json:"is_self"`
	IsLeader bool   `json:"is_leader"`
	// Role is leader, follower, learner, candidate or shutdown.
	Role string `json:"role"`
	// Status is active, offline, joining, catching_up or unknown.
	Status string `json:"status"`
	// Nullable metrics.
	ReplicationLag     *uint64  `json:"replication_lag"`
	CatchupProgressPct *uint8   `json:"catchup_progress_pct"`
	Hostname           *string  `json:"hostname"`
	MemoryUsageMB      *uint64  `json:"memory_usage_mb"`
	CPUUsagePercent    *float32 `json:"cpu_usage_percent"`
	UptimeSeconds      *uint64  `json:"uptime_seconds"`
	UptimeHuman        *string  `json:"uptime_human"`
}

// ClusterHealth asks GET /v1/api/cluster/health (localhost only, like Health).
func (c *Client) ClusterHealth(ctx context.Context) (*ClusterHealth, error) {
	var h ClusterHealth
	if err := c.doJSON(ctx, &request{method: "GET", path: "/v1/api/cluster/health", idempotent: true}, &h); err != nil {
		return nil, fmt.Errorf("sdk: cluster health: %w", err)
	}
	if h.Status == "" {
		return nil, fmt.Errorf("sdk: cluster health: %w", &ResponseError{HTTPStatus: 200, Reason: "cluster health reply has no status"})
	}
	return &h, nil
}

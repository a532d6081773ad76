//go:build !js && !wasip1

package kalamsql_test

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/kalamtest"
)

// A *sql.DB over a cluster DSN goes on through another node when its node
// dies.
func TestClusterDSNFailsOver(t *testing.T) {
	cl := kalamtest.StartCluster(t, 3)
	u, err := url.Parse(cl.Nodes[0].URL)
	require.NoError(t, err)
	u.User = url.UserPassword(cl.RootUser, cl.RootPassword)
	u.RawQuery = "endpoints=" + strings.Join(cl.URLs()[1:], ",")
	db, err := sql.Open("kalamdb", u.String())
	require.NoError(t, err)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var one int64
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(&one))
	require.NoError(t, cl.Nodes[0].Stop())
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 2").Scan(&one), "node 1 is down; nodes 2 and 3 answer")
	require.EqualValues(t, 2, one)
}

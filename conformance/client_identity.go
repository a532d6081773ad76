package conformance

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/sdk"
)

// AsUser writes into another user's partition of a USER table through
// EXECUTE AS USER, with a user name that needs quoting.
func (s clientSuite) asUser(t *testing.T) {
	e := s.env(t)
	tbl := e.table("notes")
	e.exec("CREATE TABLE " + tbl + " (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE='USER')")
	user := "conf_o'" + randomSuffix(t)
	e.exec("CREATE USER '" + strings.ReplaceAll(user, "'", "''") + "' WITH PASSWORD 'ConfUser123!' ROLE user")

	res := e.exec("INSERT INTO "+tbl+" (id, body) VALUES ($1, $2)", sdk.Args(1, "written as the user"), sdk.AsUser(user))
	require.Equal(t, user, res.AsUser)
	own := must(e.newClient(user, "ConfUser123!").Query(e.ctx, "SELECT body FROM "+tbl))(t)
	rows := own.Rows()
	require.Len(t, rows, 1, "the row is in the user's partition")
	require.Equal(t, "written as the user", must(rows[0].String("body"))(t))
}

// The client lists its subscriptions; the server's system.live lists the
// same live query.
func (s clientSuite) introspection(t *testing.T) {
	e := s.env(t)
	tbl := e.table("watched")
	e.exec("CREATE TABLE " + tbl + " (id BIGINT PRIMARY KEY) WITH (TYPE='SHARED')")
	sql := "SELECT * FROM " + tbl
	sub := must(e.client.Subscribe(e.ctx, sql, sdk.LiveOnly()))(t)
	defer sub.Close()
	var mine []sdk.SubscriptionInfo
	for _, info := range e.client.Subscriptions() {
		if info.Query == sql {
			mine = append(mine, info)
		}
	}
	require.Len(t, mine, 1)
	require.Equal(t, sub.ID(), mine[0].ID)
	live := must(e.client.LiveQueries(e.ctx))(t)
	found := false
	for _, l := range live {
		if l.SubscriptionID == sub.ID() && l.Query == sql {
			found = true
			require.Equal(t, e.target.User, l.UserID)
		}
	}
	require.True(t, found, "system.live lists subscription %s: %+v", sub.ID(), live)
	require.NoError(t, sub.Close())
	for _, info := range e.client.Subscriptions() {
		require.NotEqual(t, sql, info.Query, "closed subscriptions are not listed")
	}
}

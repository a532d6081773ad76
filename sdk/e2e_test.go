package sdk_test

// End-to-end tests against the emulator over the native transport. The
// TestSeed* tests are the Go twins of the examples on the official Rust SDK
// page (kalamdb/rust-sdk-page.md); the realtime and consumer twins are in
// seed_realtime_e2e_test.go and consumer_e2e_test.go.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/kalamtest/emulator"
	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

// e2eServer is the KalamDB the environment names (kalamtest.Start): the
// emulator by default, a real server binary or a container when set. The
// tests use fixed names, so an external server they would share is skipped.
func e2eServer(t *testing.T, opts ...kalamtest.ServerOption) *kalamtest.Server {
	t.Helper()
	srv := kalamtest.Start(t, opts...)
	if srv.Target == kalamtest.TargetURL {
		t.Skip("the end-to-end tests need a fresh server per test; an external KALAMDB_URL runs the conformance suite only")
	}
	return srv
}

func e2eClient(t *testing.T, srv *kalamtest.Server, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	all := append([]sdk.Option{sdk.WithBasicAuth(srv.RootUser, srv.RootPassword)}, opts...)
	c, err := sdk.New(srv.URL, all...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func mustQuery(t *testing.T, c *sdk.Client, sql string, opts ...sdk.QueryOption) *sdk.Result {
	t.Helper()
	res, err := c.Query(context.Background(), sql, opts...)
	require.NoError(t, err, sql)
	return res
}

// Seed: "Connect And Run SQL".
func TestSeedConnectAndRunSQL(t *testing.T) {
	srv := e2eServer(t)
	c := e2eClient(t, srv)
	res := mustQuery(t, c, "SELECT 1 AS ok")
	maps, err := res.Maps()
	require.NoError(t, err)
	require.Len(t, maps, 1)
	require.EqualValues(t, 1, maps[0]["ok"])
}

// Seed: "Authenticate Explicitly".
func TestSeedAuthenticateExplicitly(t *testing.T) {
	srv := e2eServer(t)
	bootstrap, err := sdk.New(srv.URL)
	require.NoError(t, err)
	defer bootstrap.Close()
	login, err := bootstrap.Login(context.Background(), srv.RootUser, srv.RootPassword)
	require.NoError(t, err)
	require.Equal(t, "root", login.User.ID)
	require.Equal(t, "system", login.User.Role)
	require.True(t, login.RefreshToken != "")

	c, err := sdk.New(srv.URL, sdk.WithToken(login.AccessToken))
	require.NoError(t, err)
	defer c.Close()
	mustQuery(t, c, "SELECT 1 AS ok")
	me, err := c.Me(context.Background())
	require.NoError(t, err)
	require.Equal(t, "root", me.User.ID)
	require.True(t, me.AdminUIAccess)

	refreshed, err := bootstrap.Refresh(context.Background())
	require.NoError(t, err)
	require.True(t, refreshed.AccessToken != "")
	mustQuery(t, bootstrap, "SELECT 1 AS ok")
	require.NoError(t, bootstrap.Logout(context.Background()))
}

// Seed: "implement DynamicAuthProvider".
func TestSeedDynamicAuthProvider(t *testing.T) {
	srv := e2eServer(t)
	calls := 0
	provider := func(ctx context.Context) (sdk.Credentials, error) {
		calls++
		return sdk.Credentials{User: srv.RootUser, Password: srv.RootPassword}, nil
	}
	c, err := sdk.New(srv.URL, sdk.WithAuthProvider(provider))
	require.NoError(t, err)
	defer c.Close()
	mustQuery(t, c, "SELECT 1 AS ok")
	require.Equal(t, 1, calls)
}

func createMessages(t *testing.T, c *sdk.Client) {
	t.Helper()
	mustQuery(t, c, "CREATE NAMESPACE IF NOT EXISTS chat")
	mustQuery(t, c, `CREATE TABLE chat.messages (id BIGINT PRIMARY KEY, conversation_id TEXT NOT NULL, body TEXT, archived BOOLEAN, sent_at TIMESTAMP) WITH (TYPE='USER')`)
}

// Seed: "Parameterized Queries".
func TestSeedParameterizedQueries(t *testing.T) {
	srv := e2eServer(t)
	c := e2eClient(t, srv)
	createMessages(t, c)
	sent := time.Date(2025, 3, 4, 5, 6, 7, 891011000, time.UTC)
	const bigID = int64(9007199254740993) // 2^53 + 1
	for i, conv := range []string{"conv_42", "conv_42", "conv_7"} {
		res := mustQuery(t, c, "INSERT INTO chat.messages (id, conversation_id, body, archived, sent_at) VALUES ($1, $2, $3, $4, $5)",
			sdk.Args(bigID+int64(i), conv, fmt.Sprintf("hello %d", i), i == 1, sent))
		require.Equal(t, 1, res.RowCount)
	}
	res := mustQuery(t, c, "SELECT * FROM chat.messages WHERE conversation_id = $1 AND archived = $2",
		sdk.Args("conv_42", false))
	require.Equal(t, 1, res.RowCount)
	type msg struct {
		ID             int64 `kalam:"id"`
		ConversationID string
		Body           *string
		Archived       bool
		SentAt         time.Time `kalam:"sent_at"`
	}
	msgs, err := sdk.CollectRows[msg](res)
	require.NoError(t, err)
	require.Equal(t, bigID, msgs[0].ID)
	require.Equal(t, "hello 0", *msgs[0].Body)
	require.Equal(t, sent.Truncate(time.Microsecond), msgs[0].SentAt)
	idCol := res.Columns[res.ColumnIndex("id")]
	require.Equal(t, sdk.KindBigInt, idCol.Type.Kind)
	require.True(t, idCol.PrimaryKey)
}

// Seed: "Namespace-Scoped Queries".
func TestSeedNamespaceScopedQueries(t *testing.T) {
	srv := e2eServer(t)
	c := e2eClient(t, srv)
	createMessages(t, c)
	mustQuery(t, c, "INSERT INTO chat.messages (id, conversation_id) VALUES (1, 'c')")
	res := mustQuery(t, c, "SELECT * FROM messages LIMIT 20", sdk.Namespace("chat"))
	require.Equal(t, 1, res.RowCount)
}

// Seed: "FILE Uploads", plus the authenticated download the official SDKs
// lack (sdk-features §4 X1).
func TestSeedFileUploads(t *testing.T) {
	srv := e2eServer(t)
	c := e2eClient(t, srv)
	mustQuery(t, c, "CREATE NAMESPACE IF NOT EXISTS app")
	mustQuery(t, c, "CREATE TABLE app.users (name TEXT PRIMARY KEY, avatar FILE) WITH (TYPE='USER')")
	avatar := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 4096)
	var sent int64
	res := mustQuery(t, c, `INSERT INTO app.users (name, avatar) VALUES ($1, FILE("avatar"))`,
		sdk.Args("Alice"), sdk.File("avatar", "avatar.png", "image/png", bytes.NewReader(avatar)),
		sdk.OnUploadProgress(func(p sdk.UploadProgress) { sent = p.BytesSent }))
	require.Equal(t, 1, res.RowCount)
	require.EqualValues(t, len(avatar), sent)

	res = mustQuery(t, c, "SELECT avatar FROM app.users WHERE name = $1", sdk.Args("Alice"))
	ref, err := res.Rows()[0].File("avatar")
	require.NoError(t, err)
	require.Equal(t, "avatar.png", ref.Name)
	require.EqualValues(t, len(avatar), ref.Size)
	require.Equal(t, "image/png", ref.Mime)
	digest := sha256.Sum256(avatar)
	require.Equal(t, hex.EncodeToString(digest[:]), ref.SHA256)

	dl, err := c.Download(context.Background(), "app", "users", ref)
	require.NoError(t, err)
	defer dl.Close()
	got, err := io.ReadAll(dl)
	require.NoError(t, err)
	require.Equal(t, avatar, got)
	require.Equal(t, "image/png", dl.ContentType)
}

func TestE2EErrorsAndCaps(t *testing.T) {
	srv := e2eServer(t)
	c := e2eClient(t, srv)
	_, err := c.Query(context.Background(), "SELECT * FROM nope.missing")
	var se *sdk.ServerError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 400, se.HTTPStatus)

	_, err = c.Query(context.Background(), "SELEC 1")
	require.ErrorAs(t, err, &se)

	// The server's 50-row default cap is visible, not silently paged.
	mustQuery(t, c, "CREATE NAMESPACE IF NOT EXISTS app")
	mustQuery(t, c, "CREATE TABLE app.nums (n INT PRIMARY KEY) WITH (TYPE='SHARED')")
	for i := 0; i < 60; i += 20 {
		sql := "INSERT INTO app.nums (n) VALUES "
		for j := i; j < i+20; j++ {
			if j > i {
				sql += ", "
			}
			sql += fmt.Sprintf("(%d)", j)
		}
		mustQuery(t, c, sql)
	}
	res := mustQuery(t, c, "SELECT n FROM app.nums")
	require.Equal(t, 50, res.RowCount)
	require.Len(t, res.Rows(), 50)
	require.True(t, res.MayBeCapped())
	res = mustQuery(t, c, "SELECT n FROM app.nums LIMIT 100")
	require.Equal(t, 60, res.RowCount)
	require.False(t, res.MayBeCapped())
}

func TestE2ETokenExpiryRenews(t *testing.T) {
	srv := e2eServer(t, kalamtest.WithEmulatorOptions(func(o *emulator.Options) { o.TokenTTL, o.RefreshTTL = time.Minute, time.Hour }))
	c := e2eClient(t, srv)
	mustQuery(t, c, "SELECT 1 AS ok")
	srv.NeedEmulator(t, "clock").Advance(10 * time.Minute) // past the 60 s leeway; refresh token still valid
	mustQuery(t, c, "SELECT 1 AS ok")
	tr := srv.NeedEmulator(t, "traffic log").Traffic()
	require.EqualValues(t, 1, tr.ByRoute["POST /v1/api/auth/login"])
	require.EqualValues(t, 1, tr.ByRoute["POST /v1/api/auth/refresh"], "an expired access token is refreshed")
	require.EqualValues(t, 3, tr.ByRoute["POST /v1/api/sql"], "the rejected query is retried once")

	srv.NeedEmulator(t, "clock").Advance(30 * 24 * time.Hour) // the refresh token expired too: log in again
	mustQuery(t, c, "SELECT 1 AS ok")
	tr = srv.NeedEmulator(t, "traffic log").Traffic()
	require.EqualValues(t, 2, tr.ByRoute["POST /v1/api/auth/login"], "a failed refresh falls back to login")
	require.EqualValues(t, 2, tr.ByRoute["POST /v1/api/auth/refresh"])
}

func TestE2ESetupRequired(t *testing.T) {
	srv := e2eServer(t, kalamtest.NeedsSetup())
	c, err := sdk.New(srv.URL, sdk.WithBasicAuth("root", ""))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Query(context.Background(), "SELECT 1")
	require.ErrorIs(t, err, sdk.ErrSetupRequired)

	st, err := c.SetupStatus(context.Background())
	require.NoError(t, err)
	require.True(t, st.NeedsSetup)
	_, err = c.Setup(context.Background(), sdk.SetupRequest{User: "admin", Password: "AdminPass123!", RootPassword: "RootPass123!x"})
	require.NoError(t, err)
	_, err = c.Setup(context.Background(), sdk.SetupRequest{User: "admin2", Password: "AdminPass123!", RootPassword: "RootPass123!x"})
	require.ErrorIs(t, err, sdk.ErrAlreadyConfigured)
	admin, err := sdk.New(srv.URL, sdk.WithBasicAuth("admin", "AdminPass123!"))
	require.NoError(t, err)
	defer admin.Close()
	mustQuery(t, admin, "SELECT 1 AS ok")
}

func TestE2ERateLimitRetried(t *testing.T) {
	srv := e2eServer(t)
	c := e2eClient(t, srv, sdk.WithRetryBackoff(time.Millisecond, 5*time.Millisecond))
	mustQuery(t, c, "SELECT 1 AS ok") // logs in
	srv.NeedEmulator(t, "fault injection").FailNextPath("/v1/api/sql", 2, 429, `{"status":"error","results":[],"took":0.1,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"Too many queries per second. Please slow down."}}`)
	mustQuery(t, c, "SELECT 1 AS ok")
	require.EqualValues(t, 4, srv.NeedEmulator(t, "traffic log").Traffic().ByRoute["POST /v1/api/sql"], "1 + 2 rejected + 1 accepted")
}

func TestE2EHealth(t *testing.T) {
	srv := e2eServer(t)
	if srv.Target == kalamtest.TargetContainer {
		t.Skip("the health endpoints answer only localhost peers; a container is reached through the Docker gateway")
	}
	c := e2eClient(t, srv)
	h, err := c.Health(context.Background())
	require.NoError(t, err)
	require.Equal(t, "healthy", h.Status)
	require.Equal(t, "v1", h.APIVersion)
	ch, err := c.ClusterHealth(context.Background())
	require.NoError(t, err)
	require.Equal(t, "healthy", ch.Status)
}

func TestE2EPermissionDeniedAndSecretRedaction(t *testing.T) {
	srv := e2eServer(t)
	admin := e2eClient(t, srv)
	const create = "CREATE USER 'bob' WITH PASSWORD 'BobSecret123!' ROLE user"
	mustQuery(t, admin, create)
	_, err := admin.Query(context.Background(), create) // already exists
	require.Error(t, err)
	require.NotContains(t, err.Error(), "BobSecret123!", "the password must not reach error strings")
	var dup *sdk.ServerError
	require.ErrorAs(t, err, &dup)
	require.NotContains(t, fmt.Sprintf("%#v", dup), "BobSecret123!")

	bob, err := sdk.New(srv.URL, sdk.WithBasicAuth("bob", "BobSecret123!"))
	require.NoError(t, err)
	defer bob.Close()
	mustQuery(t, bob, "SELECT 1 AS ok")
	_, err = bob.Query(context.Background(), "CREATE NAMESPACE forbidden_ns")
	require.ErrorIs(t, err, sdk.ErrPermissionDenied)
	var se *sdk.ServerError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 403, se.HTTPStatus)
	require.Equal(t, "PERMISSION_DENIED", se.Code)
}

// Q8 of the official suites: concurrent inserts through one client.
func TestE2EConcurrentInserts(t *testing.T) {
	srv := e2eServer(t)
	c := e2eClient(t, srv)
	createMessages(t, c)
	fresh := e2eClient(t, srv) // not logged in yet: its first calls race to log in
	const n = 16
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := fresh.Query(context.Background(), "INSERT INTO chat.messages (id, conversation_id) VALUES ($1, $2)", sdk.Args(i, "c"))
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		require.NoError(t, <-errs)
	}
	res := mustQuery(t, c, "SELECT COUNT(*) AS n FROM chat.messages")
	count, err := res.Rows()[0].Int64("n")
	require.NoError(t, err)
	require.EqualValues(t, n, count)
	require.EqualValues(t, 2, srv.NeedEmulator(t, "traffic log").Traffic().ByRoute["POST /v1/api/auth/login"], "one login per client: concurrent first calls share it")
}

// Q11 of the official suites: a closed port is a transport error, not a hang
// or a panic, and a tiny timeout is reported as a timeout.
func TestE2EUnreachableServerAndTinyTimeout(t *testing.T) {
	c, err := sdk.New("http://127.0.0.1:1", sdk.WithToken("t"), sdk.WithMaxRetries(0))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Query(context.Background(), "SELECT 1")
	var te *sdk.TransportError
	require.ErrorAs(t, err, &te)
	require.True(t, sdk.IsRetryable(err))

	srv := e2eServer(t)
	srv.NeedEmulator(t, "fault injection").DelayNext(1, 300*time.Millisecond) // the login
	slow := e2eClient(t, srv, sdk.WithTimeout(20*time.Millisecond), sdk.WithMaxRetries(0))
	_, err = slow.Query(context.Background(), "SELECT 1")
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

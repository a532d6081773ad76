// Package kalamcontainer runs KalamDB in a Docker container for tests, with
// testcontainers-go, shaped like its modules (modules/postgres and friends):
//
//	ctr, err := kalamcontainer.Run(ctx, kalamcontainer.DefaultImage,
//		kalamcontainer.WithRootPassword("s3cret-Root!"),
//		kalamcontainer.WithCORS("http://localhost:5173"),
//	)
//	testcontainers.CleanupContainer(t, ctr)
//	require.NoError(t, err)
//	client, err := sdk.New(ctr.URL, sdk.WithBasicAuth(ctr.RootUser, ctr.RootPassword))
//
// Run configures the server through the real server's environment variables
// (KALAMDB_ROOT_PASSWORD, KALAMDB_JWT_SECRET, KALAMDB_SECURITY_CORS_ALLOWED_ORIGINS,
// ...), publishes port 8080 on a free host port, and returns only once root
// can log in from the host: KalamDB's health endpoints answer only localhost
// inside the container, so a login is the readiness check. Any option of
// testcontainers-go (testcontainers.WithEnv, WithFiles, WithCmdArgs, ...)
// can be passed too.
//
// Images: DefaultImage is the official KalamDB image at the version this SDK
// targets. Dockerfile.test at the repository root builds two more: `emulator`
// (the kalamdb-emulator from scratch, configured by the same variables; it
// needs no registry) and `server` (the official image with a test
// configuration). Run uses an image present locally as it is and pulls only
// an image that is missing.
//
// Ryuk, testcontainers' reaper, is off unless TESTCONTAINERS_RYUK_DISABLED
// is set: its image would have to be pulled, and callers remove their
// containers themselves (CleanupContainer). Set it to false to keep Ryuk.
//
// RunCluster starts n containers as one KalamDB cluster on a private Docker
// network, for failover tests: each node has a fixed URL on the host, and
// can be killed, stopped and started, paused, replaced on empty data, or
// partitioned from its peers (while clients still reach it) and healed.
// KalamDB refuses a cluster on non-loopback addresses without RPC TLS, which
// v0.4.2-rc.3 cannot set up, so the nodes are configured as a loopback
// cluster and a small relay in each container (perl, present in KalamDB's
// Debian and Ubuntu based images) carries the peers' ports over the
// network. The emulator image cannot form a cluster (each container is its
// own engine): RunCluster refuses it with ErrNoCluster.
//
// The package builds only where testcontainers-go does: not under js or wasip1.
package kalamcontainer

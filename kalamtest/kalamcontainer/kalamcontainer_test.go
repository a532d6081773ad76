//go:build !js && !wasip1

package kalamcontainer_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/kalamstack/kalam-go/conformance"
	"github.com/kalamstack/kalam-go/kalamtest/kalamcontainer"
)

const emulatorImage = kalamcontainer.EmulatorImage

// tagged labels the containers of one case, so the test can ask the engine
// afterwards whether any is left.
func tagged(t *testing.T) (testcontainers.CustomizeRequestOption, func() []string) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	tag := hex.EncodeToString(b[:])
	left := func() []string {
		cli, err := kalamcontainer.NewDockerClient(context.Background())
		require.NoError(t, err)
		defer cli.Close()
		res, err := cli.ContainerList(context.Background(), client.ContainerListOptions{
			All: true, Filters: make(client.Filters).Add("label", "kalamcontainer.test="+tag),
		})
		require.NoError(t, err)
		var ids []string
		for _, c := range res.Items {
			ids = append(ids, c.ID[:12]+" "+string(c.State))
		}
		return ids
	}
	return testcontainers.WithLabels(map[string]string{"kalamcontainer.test": tag}), left
}

func login(t *testing.T, baseURL, user, password string) *http.Response {
	t.Helper()
	resp, err := http.Post(baseURL+"/v1/api/auth/login", "application/json",
		strings.NewReader(`{"user":"`+user+`","password":"`+password+`"}`))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// Run returns a container root can log in to from the host, configured by
// the options, and Terminate removes it.
func TestRunConfiguresAndLogsIn(t *testing.T) {
	kalamcontainer.SkipIfNoImage(t, emulatorImage)
	ctx := context.Background()
	label, left := tagged(t)
	const password, origin = "Container-Root-Pw1!", "http://app.example"
	ctr, err := kalamcontainer.Run(ctx, emulatorImage, label,
		testcontainers.WithLogger(tclog.TestLogger(t)),
		kalamcontainer.WithRootPassword(password),
		kalamcontainer.WithJWTSecret(strings.Repeat("s", 40)),
		kalamcontainer.WithCORS(origin),
		kalamcontainer.WithStartTimeout(30*time.Second),
		testcontainers.WithEnv(map[string]string{"KALAMDB_JWT_EXPIRY_HOURS": "2"}),
	)
	testcontainers.CleanupContainer(t, ctr)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(ctr.URL, "http://"), ctr.URL)
	assert.Equal(t, "root", ctr.RootUser)
	assert.Equal(t, password, ctr.RootPassword)

	assert.Equal(t, http.StatusOK, login(t, ctr.URL, ctr.RootUser, ctr.RootPassword).StatusCode)
	assert.Equal(t, http.StatusUnauthorized, login(t, ctr.URL, "root", "not-it").StatusCode)

	// CORS reached the server: the origin is allowed, another is not.
	preflight := func(o string) string {
		req, err := http.NewRequest(http.MethodOptions, ctr.URL+"/v1/api/sql", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", o)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.Header.Get("Access-Control-Allow-Origin")
	}
	assert.Equal(t, origin, preflight(origin))
	assert.Empty(t, preflight("http://evil.example"))

	inspect, err := ctr.Inspect(ctx)
	require.NoError(t, err)
	assert.Contains(t, inspect.Config.Env, "KALAMDB_JWT_EXPIRY_HOURS=2")

	require.NoError(t, ctr.Terminate(ctx))
	assert.Empty(t, left(), "containers left after Terminate")
}

// WithConfigFile puts the file where the official image reads server.toml.
func TestRunConfigFile(t *testing.T) {
	kalamcontainer.SkipIfNoImage(t, emulatorImage)
	ctx := context.Background()
	ctr, err := kalamcontainer.Run(ctx, emulatorImage, testcontainers.WithLogger(tclog.TestLogger(t)),
		kalamcontainer.WithConfigFile("testdata/server.toml"))
	testcontainers.CleanupContainer(t, ctr)
	require.NoError(t, err)
	rc, err := ctr.CopyFileFromContainer(ctx, kalamcontainer.ConfigPath)
	require.NoError(t, err)
	got, err := io.ReadAll(rc)
	rc.Close()
	require.NoError(t, err)
	want, err := os.ReadFile("testdata/server.toml")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
}

// Bad input and faults: each start ends with an error naming what went
// wrong, with the container's logs once one existed, and leaves no
// container behind.
func TestRunFaults(t *testing.T) {
	kalamcontainer.SkipIfNoImage(t, emulatorImage)
	for _, c := range []struct {
		name    string
		image   string
		opts    []testcontainers.ContainerCustomizer
		is      error  // errors.Is, when not nil
		message string // in the error
		logs    string // in StartError.Logs, when not empty
	}{
		{name: "ContainerExits", image: emulatorImage,
			opts: []testcontainers.ContainerCustomizer{testcontainers.WithCmdArgs("-no-such-flag")},
			is:   kalamcontainer.ErrExited, message: "exit code 2", logs: "flag provided but not defined"},
		{name: "PortNeverAnswers", image: emulatorImage,
			opts: []testcontainers.ContainerCustomizer{
				testcontainers.WithEnv(map[string]string{"KALAMDB_SERVER_PORT": "9999"}),
				kalamcontainer.WithStartTimeout(8 * time.Second)},
			is: kalamcontainer.ErrNotReady, message: "within 8s", logs: "kalamdb-emulator listening"},
		{name: "WrongPassword", image: emulatorImage,
			opts: []testcontainers.ContainerCustomizer{
				kalamcontainer.WithRootPassword("The-Options-Pw1!"),
				testcontainers.WithCmdArgs("-root-password=The-Servers-Pw1!")},
			is: kalamcontainer.ErrLoginRejected, message: "401", logs: "status=401"},
		{name: "MissingImage", image: "kalamtest.invalid/missing:0",
			is: kalamcontainer.ErrImageNotFound, message: "kalamtest.invalid/missing:0"},
		{name: "ShortJWTSecret", image: emulatorImage,
			opts:    []testcontainers.ContainerCustomizer{kalamcontainer.WithJWTSecret("too-short")},
			message: "WithJWTSecret: 9 characters"},
		{name: "EmptyRootPassword", image: emulatorImage,
			opts:    []testcontainers.ContainerCustomizer{kalamcontainer.WithRootPassword("")},
			message: "WithRootPassword: empty password"},
		{name: "NoCORSOrigin", image: emulatorImage,
			opts:    []testcontainers.ContainerCustomizer{kalamcontainer.WithCORS()},
			message: "WithCORS: no origins"},
		{name: "MissingConfigFile", image: emulatorImage,
			opts:    []testcontainers.ContainerCustomizer{kalamcontainer.WithConfigFile("testdata/nope.toml")},
			message: "WithConfigFile: stat testdata/nope.toml"},
		{name: "NoImage", image: "",
			message: "no image named"},
		{name: "ZeroStartTimeout", image: emulatorImage,
			opts:    []testcontainers.ContainerCustomizer{kalamcontainer.WithStartTimeout(0)},
			message: "start timeout 0s is not positive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			label, left := tagged(t)
			opts := append([]testcontainers.ContainerCustomizer{label, testcontainers.WithLogger(tclog.TestLogger(t))}, c.opts...)
			ctr, err := kalamcontainer.Run(context.Background(), c.image, opts...)
			testcontainers.CleanupContainer(t, ctr)
			require.Error(t, err)
			t.Log(err) // what a user reads
			assert.Nil(t, ctr)
			if c.is != nil {
				assert.ErrorIs(t, err, c.is)
			}
			assert.Contains(t, err.Error(), c.message)
			var se *kalamcontainer.StartError
			if c.logs != "" && assert.ErrorAs(t, err, &se) {
				assert.Contains(t, se.Logs, c.logs)
				assert.Contains(t, err.Error(), "--- container logs ---")
			}
			assert.Empty(t, left(), "containers left after a failed start")
		})
	}
}

// The client conformance suite through testcontainers: against the image
// KALAMTEST_IMAGE names, else the emulator image. One container serves the
// whole suite; each subtest works in its own namespace.
func TestClientConformance(t *testing.T) {
	img := os.Getenv("KALAMTEST_IMAGE")
	if img == "" {
		img = emulatorImage
		kalamcontainer.SkipIfNoImage(t, img)
	} else {
		kalamcontainer.SkipIfNoEngine(t) // a named image may be pulled
	}
	ctr, err := kalamcontainer.Run(context.Background(), img, testcontainers.WithLogger(tclog.TestLogger(t)))
	testcontainers.CleanupContainer(t, ctr)
	require.NoError(t, err)
	conformance.Client(t, func(*testing.T) conformance.Target {
		return conformance.Target{URL: ctr.URL, User: ctr.RootUser, Password: ctr.RootPassword}
	})
}

// BenchmarkRun is what a container costs a test: Run from image check to
// the first successful login (removal is outside the timed part), for the
// image KALAMTEST_IMAGE names or the emulator image. Compare kalamtest's
// BenchmarkNewServer.
func BenchmarkRun(b *testing.B) {
	img := os.Getenv("KALAMTEST_IMAGE") // else the emulator image
	if img == "" {
		img = emulatorImage
	}
	kalamcontainer.SkipIfNoImage(b, img)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		ctr, err := kalamcontainer.Run(ctx, img, testcontainers.WithLogger(tclog.TestLogger(b)))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := ctr.Terminate(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// Dockerfile.test's emulator stage builds where no registry is reachable
// (the binary comes from the host; nothing is pulled) and runs through Run.
func TestDockerfileEmulatorStage(t *testing.T) {
	kalamcontainer.SkipIfNoEngine(t)
	dir := t.TempDir()
	df, err := os.ReadFile("../../Dockerfile.test")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile.test"), df, 0o644))
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "kalamdb-emulator"), "../../cmd/kalamdb-emulator")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	ctr, err := kalamcontainer.Run(context.Background(), "", testcontainers.WithLogger(tclog.TestLogger(t)),
		testcontainers.WithDockerfile(testcontainers.FromDockerfile{
			Context: dir, Dockerfile: "Dockerfile.test",
			BuildOptionsModifier: func(o *client.ImageBuildOptions) { o.Target = "emulator" },
		}))
	testcontainers.CleanupContainer(t, ctr)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, login(t, ctr.URL, ctr.RootUser, ctr.RootPassword).StatusCode)
}

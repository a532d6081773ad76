//go:build !js && !wasip1

package kalamtest

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/kalamtest/kalamcontainer"
)

// Without KALAMTEST_IMAGE there is no container target.
func TestStartContainerFromEnvUnset(t *testing.T) {
	t.Setenv(EnvImage, "")
	url, user, password, ok := StartContainerFromEnv(t)
	assert.False(t, ok)
	assert.Empty(t, url+user+password)
}

// KALAMTEST_IMAGE starts a container of that image whose root logs in.
func TestStartContainerFromEnv(t *testing.T) {
	kalamcontainer.SkipIfNoImage(t, kalamcontainer.EmulatorImage)
	t.Setenv(EnvImage, kalamcontainer.EmulatorImage)
	url, user, password, ok := StartContainerFromEnv(t)
	require.True(t, ok)
	resp, err := http.Post(url+"/v1/api/auth/login", "application/json",
		strings.NewReader(`{"user":"`+user+`","password":"`+password+`"}`))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "root", user)
	assert.Equal(t, DefaultRootPassword, password)
}

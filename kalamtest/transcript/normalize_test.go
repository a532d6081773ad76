//go:build !js && !wasip1

package transcript

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The generated values of FILE cells, download paths, job ids and binary
// bodies are recorded in a form that is the same on every run.
func TestNormalizeFilesTopicsVolatiles(t *testing.T) {
	ref := `{"id":"387849840572235776","sub":"f0001","name":"a.txt","size":1,"mime":"text/plain","sha256":"ab"}`
	assert.Equal(t, `{"id":"<id>","sub":"f0001","name":"a.txt","size":1,"mime":"text/plain","sha256":"ab"}`,
		Normalize([]any{ref}).([]any)[0])
	assert.Equal(t, `{"id":"12","sub":"f0001"}`, Normalize(`{"id":"12","sub":"f0001"}`), "a short id is not a Snowflake")
	assert.Equal(t, "/v1/files/docs/files/f0001/<id>", normalizePath("/v1/files/docs/files/f0001/387849840572235776"))
	assert.Equal(t, "/v1/files/docs/files/f0001/<id>-contract.txt", normalizePath("/v1/files/docs/files/f0001/387849840572235776-contract.txt"))
	assert.Equal(t, "/v1/api/sql", normalizePath("/v1/api/sql"))
	assert.Equal(t, "Dropped topic 'a.b' and scheduled cleanup job [<job-id>]",
		normalizeString("Dropped topic 'a.b' and scheduled cleanup job [TC-e56ff2da3300]", "message"))
	assert.Equal(t, "TC-e56ff2da3300", normalizeString("TC-e56ff2da3300", "name"), "only messages hold job ids")
	assert.Equal(t, "\uFFFDPNG\uFFFD\uFFFD", decodeBody([]byte("\x89PNG\xff\xfe")))
}

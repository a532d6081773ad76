package sdk

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLeaderHint(t *testing.T) {
	for msg, want := range map[string]string{
		`Statement 1 failed: Not leader for shard. Leader: Some("http://127.0.0.1:18082")`:   "http://127.0.0.1:18082",
		`Statement 1 failed: Not leader for shard. Leader: Some(\"http://node2:8080/\")`:     "http://node2:8080",
		`Statement 1 failed: Not leader for shard. Leader: None`:                             "",
		`Statement 1 failed: Not leader for shard. Leader: Some("http://a:1") and more text`: "http://a:1",
	} {
		assert.Equal(t, want, leaderHint(msg), msg)
	}
}

func TestEndpointSetMoves(t *testing.T) {
	e := newEndpointSet([]string{"http://a:1", "http://b:2", "http://c:3", "http://a:1"})
	assert.Equal(t, []string{"http://a:1", "http://b:2", "http://c:3"}, e.urls)
	assert.True(t, e.failed("http://a:1"))
	assert.Equal(t, "http://b:2", e.current())
	assert.True(t, e.failed("http://a:1"), "a stale failure moves nothing")
	assert.Equal(t, "http://b:2", e.current())
	assert.True(t, e.moveTo("http://c:3"))
	assert.Equal(t, "http://c:3", e.current())
	assert.False(t, e.moveTo("http://elsewhere:9"))
	assert.True(t, e.failed("http://c:3"))
	assert.Equal(t, "http://a:1", e.current(), "after the last node comes the first")

	one := newEndpointSet([]string{"http://a:1"})
	assert.False(t, one.failed("http://a:1"), "one URL never moves")
}

package realtime

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeMessageAgrees checks the direct frame decoder against
// json.Unmarshal: same message, or both fail.
func FuzzDecodeMessageAgrees(f *testing.F) {
	f.Add([]byte(`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"id":"42","b":[1,2],"_seq":"307012399999000001"}],"old_values":null}`))
	f.Add([]byte(`{"type":"initial_data_batch","subscription_id":"s","rows":[],"batch_control":{"batch_num":1,"has_more":true,"status":"loading_batch","last_seq_id":9007199254740993}}`))
	f.Add([]byte(`{"type":"subscription_ack","subscription_id":"s","schema":[{"name":"id","data_type":{"Decimal":{"precision":1,"scale":0}},"index":0,"flags":["pk"]}]}`))
	f.Add([]byte(`{"TYPE":"change","type":"x","rows":[{"a\u0062":1,"ab":2}]}`))
	f.Add([]byte(`{"type":"error","code":"X","message":"m\n","rows":[null]}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		var slow, fast ServerMessage
		errSlow := json.Unmarshal(p, &slow)
		errFast := decodeMessage(p, &fast)
		if errSlow != nil {
			require.Error(t, errFast)
			return
		}
		require.NoError(t, errFast)
		assert.Equal(t, slow, fast)
	})
}

func TestDecodeMessageFastPathAliasesNothingOutsideDecode(t *testing.T) {
	frame := []byte(`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"id":"42"}]}`)
	m, err := Decode(false, frame, 0)
	require.NoError(t, err)
	copy(frame, make([]byte, len(frame))) // the transport may reuse its buffer
	v, ok := m.Rows[0].Get("id")
	require.True(t, ok)
	assert.Equal(t, `"42"`, string(v))
	assert.Equal(t, "id", m.Rows[0][0].Name)
}

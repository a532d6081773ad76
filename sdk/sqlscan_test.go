package sdk_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/sdk"
)

func TestSQLScanners(t *testing.T) {
	var d sdk.Decimal
	require.NoError(t, d.Scan("123456789012345678.25"))
	assert.Equal(t, "123456789012345678.25", d.String())
	require.NoError(t, d.Scan(int64(-7)))
	assert.Equal(t, "-7", d.String())
	assert.ErrorContains(t, d.Scan(1.5), "exactly")
	assert.ErrorIs(t, d.Scan(nil), sdk.ErrNull)

	var u sdk.UUID
	require.NoError(t, u.Scan([]byte("0190f6a8-5c3e-7b4a-9f1e-2d3c4b5a6978")))
	assert.Equal(t, "0190f6a8-5c3e-7b4a-9f1e-2d3c4b5a6978", u.String())
	assert.Error(t, u.Scan("nope"))

	var f sdk.FileRef
	require.NoError(t, f.Scan(`{"id":"1","sub":"f0001","name":"a.txt","size":3,"mime":"text/plain","sha256":"ab"}`))
	assert.Equal(t, "a.txt", f.Name)
	assert.Error(t, f.Scan(int64(1)))
}

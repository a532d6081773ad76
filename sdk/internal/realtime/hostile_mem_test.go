package realtime

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Issue 9 item 12: a gzip bomb is stopped while inflating, and inflating
// allocates within a small constant of the limit (it peaked near 450 MiB
// for the 64 MiB limit).
func TestGzipBombIsStoppedWhileInflating(t *testing.T) {
	const limit = 4 << 20
	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
	zw.Write([]byte(`{"type":"change","rows":[{"x":"`))
	zw.Write(make([]byte, 8*limit))
	zw.Close()
	bomb := zb.Bytes()
	var err error
	n := allocatedDuring(func() { _, err = Decode(true, bomb, limit) })
	require.ErrorIs(t, err, ErrMessageTooLarge)
	assert.LessOrEqual(t, n, uint64(3*limit), "%d bytes allocated for a limit of %d", n, limit)

	// A trailer lying about the size cannot make a small frame allocate much.
	var small bytes.Buffer
	zw = gzip.NewWriter(&small)
	zw.Write([]byte(`{"type":"change","subscription_id":"s","change_type":"insert","rows":[]}`))
	zw.Close()
	liar := small.Bytes()
	binary.LittleEndian.PutUint32(liar[len(liar)-4:], 1<<31)
	n = allocatedDuring(func() { Decode(true, liar, 64<<20) })
	assert.Less(t, n, uint64(1<<20), "%d bytes allocated for a %d-byte frame", n, len(liar))
}

// Issue 9 item 12: a 16 MiB MessagePack binary value allocated 369 MiB on
// its way to JSON (measured here at 4 MiB); its text is now reserved once.
func TestMsgpackLargeBinaryTranscodesWithinAConstant(t *testing.T) {
	const size = 4 << 20
	bin := make([]byte, size)
	for i := range bin {
		bin[i] = byte(i)
	}
	frame := []byte{0x83, 0xa4, 't', 'y', 'p', 'e', 0xa6, 'c', 'h', 'a', 'n', 'g', 'e',
		0xaf, 's', 'u', 'b', 's', 'c', 'r', 'i', 'p', 't', 'i', 'o', 'n', '_', 'i', 'd', 0xa1, 's',
		0xa4, 'r', 'o', 'w', 's', 0x91, 0x81, 0xa1, 'b', 0xc6}
	frame = binary.BigEndian.AppendUint32(frame, size)
	frame = append(frame, bin...)
	var m *ServerMessage
	var err error
	n := allocatedDuring(func() { m, err = Decode(true, frame, 0) })
	require.NoError(t, err)
	text, _ := m.Rows[0].Get("b")
	assert.Equal(t, "[0,1,2,3", string(text[:8]))
	// The JSON text of the bytes is about 3.6 bytes a byte; it is written
	// once (after a frame-sized first buffer) and copied once into the row.
	// Doubling its way there cost 369 MiB for 16 MiB (23 times the value).
	assert.LessOrEqual(t, n, uint64(len(text))*3+uint64(len(frame))*2, "%d bytes allocated (%d MiB) for a %d MiB value", n, n>>20, size>>20)
}

// Issue 9 item 12: messages naming unknown subscriptions grew the
// unsubscribe queue without bound.
func TestUnknownSubscriptionIdsDoNotGrowTheQueueWithoutBound(t *testing.T) {
	lc := newLiveConn(nil, "json", Config{SendRate: 1e6, SendBurst: 1e6})
	sent := 0
	for i := range 100_000 {
		if lc.unsubscribeStale(fmt.Sprintf("sub-%d-1", i)) {
			sent++
		}
	}
	assert.Equal(t, maxStaleUnsubscribes, sent)
	assert.Len(t, lc.out, maxStaleUnsubscribes)
	assert.Len(t, lc.forgot, maxStaleUnsubscribes)
	// An id already unsubscribed is still recognised (not sent again).
	assert.True(t, lc.unsubscribeStale("sub-0-1"))
	assert.Len(t, lc.out, maxStaleUnsubscribes)
}

package realtime

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSubscriptionIDOf(t *testing.T) {
	broken := []byte(`{"type":"change","subscription_id" : "sub-1-2","rows":[{"id":!}]}`)
	mp := append([]byte{0x82, 0xa4}, "type"...)
	mp = append(mp, 0xa6)
	mp = append(mp, "change"...)
	mp = append(mp, 0xaf)
	mp = append(mp, "subscription_id"...)
	mp = append(mp, 0xd9, 7)
	mp = append(mp, "sub-9-1"...)
	mp = append(mp, 0xc1) // never used: not MessagePack
	for _, tc := range []struct {
		name   string
		binary bool
		p      []byte
		want   string
	}{
		{"json", false, broken, "sub-1-2"},
		{"gzip json", true, gz(t, broken), "sub-1-2"},
		{"msgpack", true, mp, "sub-9-1"},
		{"gzip msgpack", true, gz(t, mp), "sub-9-1"},
		{"no id", false, []byte(`{"type":`), ""},
		{"id not a string", false, []byte(`{"subscription_id":7}`), ""},
		{"unterminated", false, []byte(`{"subscription_id":"abc`), ""},
		{"corrupt gzip", true, append([]byte{0x1f, 0x8b}, "junk"...), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, subscriptionIDOf(tc.binary, tc.p))
		})
	}
}

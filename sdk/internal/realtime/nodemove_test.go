//go:build !js

package realtime

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/sdk/internal/realtime/fakews"
	"github.com/kalamstack/kalam-go/transport/mock"
)

// twoNodes routes ws://a.test to one server and ws://b.test to the other,
// and moves to b once told a failed.
type twoNodes struct {
	mu     sync.Mutex
	onB    bool
	failed []string
}

func (n *twoNodes) Current() (string, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.onB {
		return "b", "ws://b.test/v1/ws"
	}
	return "a", "ws://a.test/v1/ws"
}

func (n *twoNodes) Failed(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failed = append(n.failed, name)
	n.onB = true
}

func (n *twoNodes) Count() int { return 2 }

// A subscription moves from node a to node b, whose _seq values for the
// same rows are lower than a's (b applied them 3 ms earlier by its clock).
// Resumed from a's checkpoint as is, b would send nothing; the rewound
// resume gets the row a never delivered, and the rows a did deliver are
// not delivered again.
func TestMovedSubscriptionResumesWithoutLossOrRepeat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := fakews.NewFromSeq(387871950313099265)
	b := fakews.NewFromSeq(387871950313099265 - 3<<seqMillisShift)
	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Host, "b.") {
			b.ServeHTTP(w, r)
			return
		}
		a.ServeHTTP(w, r)
	})
	nodes := &twoNodes{}
	var evMu sync.Mutex
	var events []ConnEvent
	connectedTwice := make(chan struct{})
	m := New(Config{Transport: mock.New(route), Nodes: nodes, Moves: NewMover(0), HeaderAuth: true,
		Token:        func(context.Context, bool, bool) (string, error) { return "tok", nil },
		ReconnectMin: time.Millisecond, ReconnectMax: time.Millisecond,
		OnEvent: func(ev ConnEvent) {
			evMu.Lock()
			events = append(events, ev)
			if ev.Kind == EventConnected && ev.Node == "b" && len(events) > 0 {
				select {
				case <-connectedTwice:
				default:
					close(connectedTwice)
				}
			}
			evMu.Unlock()
		}})
	defer m.Close()

	for _, id := range []string{"r1", "r2", "r3"} {
		a.Insert("app.t", id, map[string]any{"body": id})
		b.Insert("app.t", id, map[string]any{"body": id})
	}
	sub, err := m.Subscribe(ctx, "SELECT * FROM app.t", SubOptions{})
	require.NoError(t, err)
	got := map[string]int{}
	read := func(until func() bool) {
		for !until() {
			d, err := sub.Next(ctx)
			require.NoError(t, err)
			require.NoError(t, d.Err)
			for _, r := range d.Msg.Rows {
				id, _ := r.Get("id")
				got[strings.Trim(string(id), `"`)]++
			}
		}
	}
	read(func() bool { return got["r3"] == 1 })
	a.Insert("app.t", "r4", map[string]any{"body": "r4"}) // delivered from a
	read(func() bool { return got["r4"] == 1 })

	// b applies r5; a dies before sending it.
	b.Insert("app.t", "r4", map[string]any{"body": "r4"})
	b.Insert("app.t", "r5", map[string]any{"body": "r5"})
	require.Equal(t, 1, a.CutAll())
	read(func() bool { return got["r5"] == 1 })
	b.Insert("app.t", "r6", map[string]any{"body": "r6"})
	read(func() bool { return got["r6"] == 1 })

	assert.Equal(t, map[string]int{"r1": 1, "r2": 1, "r3": 1, "r4": 1, "r5": 1, "r6": 1}, got, "each row exactly once")
	assert.Equal(t, []string{"a"}, nodes.failed)
	// Events reach OnEvent from their own goroutine, possibly after the
	// rows they preceded.
	select {
	case <-connectedTwice:
	case <-ctx.Done():
		t.Fatal("no connected event for node b")
	}
	evMu.Lock()
	defer evMu.Unlock()
	var connected []string
	for _, ev := range events {
		if ev.Kind == EventConnected {
			connected = append(connected, ev.Node)
		}
	}
	assert.Equal(t, []string{"a", "b"}, connected, "events name the node")
}

// The rewind keeps a subscription's memory of delivered rows to the rows
// within MoveRewind of its checkpoint.
func TestDeliveredRowsStayWithinTheRewind(t *testing.T) {
	var d deliveredRows
	for i := int64(1); i <= 5; i++ {
		d.add(i<<seqMillisShift*1000, uint64(i))
	}
	d.trim(rewound(5<<seqMillisShift*1000, 2*time.Second))
	assert.Equal(t, []uint64{4, 5}, d.prints, "rows older than the rewind are forgotten")
	assert.Equal(t, int64(0), rewound(5, time.Second), "a rewind never goes below zero")
}

func TestFingerprint(t *testing.T) {
	cell := func(name, value string) RawCell { return RawCell{Name: name, Value: []byte(value)} }
	change := RawRow{cell("id", `"r1"`), cell("body", `"r1"`), cell("_seq", `"10"`), cell("_commit_seq", `"3"`), cell("_deleted", "false")}
	snapshot := RawRow{cell("_seq", `"99"`), cell("_deleted", "false"), cell("body", `"r1"`), cell("id", `"r1"`)}
	assert.Equal(t, fingerprint(change, false), fingerprint(snapshot, false), "same content, other node, other column order")
	assert.NotEqual(t, fingerprint(change, false), fingerprint(change, true), "a delete is not the row")
	seen := map[uint64]string{}
	for i := range 10000 {
		v := `"r` + strconv.Itoa(i) + `"`
		p := fingerprint(RawRow{cell("id", v), cell("body", v)}, false)
		if other, ok := seen[p]; ok {
			t.Fatalf("rows %s and %s collide", v, other)
		}
		seen[p] = v
	}
	swapped := fingerprint(RawRow{cell("id", `"a"`), cell("body", `"b"`)}, false)
	assert.NotEqual(t, swapped, fingerprint(RawRow{cell("id", `"b"`), cell("body", `"a"`)}, false), "values belong to their column")
}

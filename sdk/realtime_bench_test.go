//go:build !js

package sdk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"testing"

	"github.com/coder/websocket"
	"github.com/kalamstack/kalam-go/kalamtest/emulator"
	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/sdk/internal/realtime/fakews"
	"github.com/kalamstack/kalam-go/transport/mock"
)

// blastServer acks every subscribe live-only and, for the first one, then
// writes n pre-encoded small change frames as fast as the socket takes them.
type blastServer struct {
	n int
}

func (s *blastServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ctx := r.Context()
	ws.Write(ctx, websocket.MessageText, []byte(`{"type":"auth_success","user":"u","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`))
	first := true
	for {
		_, p, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var m struct {
			Type         string `json:"type"`
			Subscription struct {
				ID string `json:"id"`
			} `json:"subscription"`
		}
		if json.Unmarshal(p, &m) != nil || m.Type != "subscribe" {
			continue
		}
		id := m.Subscription.ID
		ws.Write(ctx, websocket.MessageText, []byte(`{"type":"subscription_ack","subscription_id":"`+id+`","total_rows":0,"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null,"snapshot_end_seq":null},"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},{"name":"body","data_type":"Text","index":1}]}`))
		if !first {
			continue
		}
		first = false
		go func() {
			frame := []byte(`{"type":"change","subscription_id":"` + id + `","change_type":"insert","rows":[{"id":"42","body":"hello world","_seq":"307012399999000001","_commit_seq":"0","_deleted":false}]}`)
			for range s.n {
				if ws.Write(ctx, websocket.MessageText, frame) != nil {
					return
				}
			}
		}()
	}
}

// BenchmarkChangeEventsOneConnection: small-row change events decoded and
// delivered to the application through one WebSocket (in-memory transport,
// so the socket costs little and the SDK's own work dominates).
func BenchmarkChangeEventsOneConnection(b *testing.B) {
	srv := &blastServer{n: b.N}
	c, err := sdk.New("http://kalam.bench", sdk.WithTransport(mock.New(srv)), sdk.WithToken("t"),
		sdk.WithSubscriptionBuffer(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, "SELECT * FROM app.t", sdk.LiveOnly())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sub.Next(ctx); err != nil { // the ack
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0, haveCPU := sdk.ProcessCPU()
	b.ResetTimer()
	for range b.N {
		ev, err := sub.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := ev.(*sdk.Insert); !ok {
			b.Fatalf("event %T", ev)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// Process CPU per event, the in-process server's writes included (so
	// an upper bound on the client's own cost).
	if cpu1, ok := sdk.ProcessCPU(); ok && haveCPU {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N)/1000, "cpu-µs/event")
	}
}

// BenchmarkIdleSubscriptionHeap: client heap held per idle subscription
// (the scripted server keeps no per-subscription state).
func BenchmarkIdleSubscriptionHeap(b *testing.B) {
	// 100 is the real server's per-connection cap; 10,000 shows the cost
	// stays flat far beyond it.
	for _, subs := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				c, err := sdk.New("http://kalam.bench", sdk.WithTransport(mock.New(&blastServer{})), sdk.WithToken("t"),
					sdk.WithSendRate(1e6, 1e6))
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(idleSubscriptionHeap(b, c, subs), "B/subscription")
				c.Close()
			}
		})
	}
}

// BenchmarkIdleSubscriptionHeapEmulator is the same against the emulator
// (its WebSocket limits lifted) through the in-memory transport; the
// figure includes the emulator's own per-subscription state, since both
// live in this process.
func BenchmarkIdleSubscriptionHeapEmulator(b *testing.B) {
	for _, subs := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				emu, err := emulator.New(emulator.Options{RootPassword: "BenchRoot1!", SQLRateLimit: -1,
					WebSocket: emulator.WebSocketLimits{MaxSubscriptionsPerConnection: -1, MaxSubscriptionsPerUser: -1, MaxMessagesPerSecond: -1}})
				if err != nil {
					b.Fatal(err)
				}
				c, err := sdk.New("http://kalam.bench", sdk.WithTransport(mock.New(emu)),
					sdk.WithBasicAuth("root", "BenchRoot1!"), sdk.WithSendRate(1e6, 1e6), sdk.WithSubscriptionBuffer(16))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Query(context.Background(), "CREATE NAMESPACE app; CREATE TABLE app.t (id BIGINT PRIMARY KEY) WITH (TYPE='SHARED')"); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(idleSubscriptionHeap(b, c, subs), "B/subscription")
				c.Close()
				emu.Close()
			}
		})
	}
}

// idleSubscriptionHeap opens subs live-only subscriptions on c, drains
// their acks, and returns the live heap they added, per subscription.
func idleSubscriptionHeap(b *testing.B, c *sdk.Client, subs int) float64 {
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	hold := make([]*sdk.Subscription, 0, subs)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.StartTimer()
	for range subs {
		s, err := c.Subscribe(ctx, "SELECT * FROM app.t", sdk.LiveOnly())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Next(ctx); err != nil { // drain the ack: idle means nothing queued
			b.Fatal(err)
		}
		hold = append(hold, s)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(hold)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(subs)
}

// BenchmarkLiveRowsInsert: one change folded into a 1000-row LiveRows set
// and the new version handed out (the official reducer cloned every row
// per change: sdk-features §4 B4; here a version is a slice of row handles).
func BenchmarkLiveRowsInsert(b *testing.B) {
	srv := fakews.New()
	for i := range 1000 {
		srv.Insert("app.t", fmt.Sprintf("r%04d", i), map[string]any{"body": "x"})
	}
	c, err := sdk.New("http://kalam.bench", sdk.WithTransport(mock.New(srv)), sdk.WithToken("t"),
		sdk.WithSubscriptionBuffer(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	live, err := c.LiveRows(ctx, "SELECT * FROM app.t")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := live.Next(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		srv.Update("app.t", fmt.Sprintf("r%04d", i%1000), map[string]any{"body": "y"})
		b.StartTimer()
		rows, err := live.Next(ctx)
		if err != nil || len(rows) != 1000 {
			b.Fatalf("%d rows, %v", len(rows), err)
		}
	}
}

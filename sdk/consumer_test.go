package sdk_test

// Unit tests of the topic consumer against scripted handlers on the mock
// transport: wire shapes, offset bookkeeping and every error path.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

// topicFake serves /v1/api/topics/* behind fakeServer's login, checking
// the bearer token as the real auth extractor does (shape B on failure).
type topicFake struct {
	*fakeServer
	mu       sync.Mutex
	consumes []map[string]any
	probes   []map[string]any // consumes of 0 records
	acks     []map[string]any
	// consume and ack answer call n (0-based) with a status and a body.
	consume func(n int, req map[string]any) (int, string)
	ack     func(n int, req map[string]any) (int, string)
	// probe answers a consume of 0 records, by default with the start the
	// request names (0 for Latest and Earliest): a group with no commit.
	probe func(n int, req map[string]any) (int, string)
}

func newTopicFake(t *testing.T) *topicFake {
	f := &topicFake{fakeServer: newFake(t)}
	f.consume = func(int, map[string]any) (int, string) {
		return 200, `{"messages":[],"next_offset":0,"has_more":false}`
	}
	f.ack = func(n int, req map[string]any) (int, string) {
		return 200, fmt.Sprintf(`{"success":true,"acknowledged_offset":%v}`, req["upto_offset"])
	}
	f.probe = func(_ int, req map[string]any) (int, string) {
		next := "0"
		if m, ok := req["start"].(map[string]any); ok {
			next = fmt.Sprint(m["Offset"])
		}
		return 200, `{"messages":[],"next_offset":` + next + `,"has_more":true}`
	}
	f.other = f.serveTopics
	return f
}

// probeAt makes probes answer as a server whose group starts at next.
func probeAt(next uint64) func(int, map[string]any) (int, string) {
	return func(int, map[string]any) (int, string) {
		return 200, fmt.Sprintf(`{"messages":[],"next_offset":%d,"has_more":true}`, next)
	}
}

func (f *topicFake) serveTopics(w http.ResponseWriter, r *http.Request) {
	reqs := f.captured()
	var req map[string]any
	dec := json.NewDecoder(strings.NewReader(string(reqs[len(reqs)-1].Body)))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		f.t.Errorf("topic request body: %v", err)
	}
	f.fakeServer.mu.Lock()
	valid := f.validToken
	f.fakeServer.mu.Unlock()
	if auth := r.Header.Get("Authorization"); valid != "" && auth != "Bearer "+valid {
		writeJSON(w, 401, `{"status":"error","error":{"code":"TOKEN_EXPIRED","message":"Invalid credentials"},"results":[],"took":0.4}`)
		return
	}
	f.mu.Lock()
	var answer func(int, map[string]any) (int, string)
	var n int
	switch r.URL.Path {
	case "/v1/api/topics/consume":
		if req["limit"] == json.Number("0") {
			n, answer = len(f.probes), f.probe
			f.probes = append(f.probes, req)
			break
		}
		n, answer = len(f.consumes), f.consume
		f.consumes = append(f.consumes, req)
	case "/v1/api/topics/ack":
		n, answer = len(f.acks), f.ack
		f.acks = append(f.acks, req)
	default:
		f.mu.Unlock()
		w.WriteHeader(404)
		return
	}
	f.mu.Unlock()
	status, body := answer(n, req)
	if status == 200 && body == "" {
		w.WriteHeader(200)
		return
	}
	writeJSON(w, status, body)
}

func (f *topicFake) consumeCalls() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.consumes...)
}

func (f *topicFake) probeCalls() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.probes...)
}

func (f *topicFake) ackCalls() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.acks...)
}

// batch is a consume reply holding offsets from..to-1.
func batch(from, to uint64) string {
	var msgs []string
	for o := from; o < to; o++ {
		payload := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, `{"id":"%d","n":"9007199254740993","_table":"shop:orders"}`, o))
		msgs = append(msgs, fmt.Sprintf(`{"topic_id":"shop.events","partition_id":0,"offset":%d,"payload":%q,"key":"%d","timestamp_ms":1700000000123,"user":"u1","op":"Insert"}`, o, payload, o))
	}
	return fmt.Sprintf(`{"messages":[%s],"next_offset":%d,"has_more":false}`, strings.Join(msgs, ","), to)
}

func mockConsumer(t *testing.T, f *topicFake, cfg sdk.ConsumerConfig) *sdk.Consumer {
	t.Helper()
	c, _ := newClient(t, f, basic())
	if cfg.Group == "" {
		cfg.Group = "g"
	}
	cfg.Topic = "shop.events"
	k, err := c.Consumer(cfg)
	require.NoError(t, err)
	sdk.SetConsumerPacing(k, time.Millisecond, time.Millisecond)
	t.Cleanup(func() { k.Close(context.Background()) })
	return k
}

func TestConsumerConfigValidation(t *testing.T) {
	c, _ := newClient(t, newTopicFake(t), basic())
	for field, cfg := range map[string]sdk.ConsumerConfig{
		"Group":                 {Topic: "a.b"},
		"Topic":                 {Group: "g"},
		"Group ":                {Group: " g", Topic: "a.b"},
		"Topic\"":               {Group: "g", Topic: "a.b\n"},
		"MaxPollRecords":        {Group: "g", Topic: "a.b", MaxPollRecords: -1},
		"PollTimeout":           {Group: "g", Topic: "a.b", PollTimeout: -time.Second},
		"AutoCommitInterval":    {Group: "g", Topic: "a.b", AutoCommitInterval: -time.Second},
		"AutoCommitInterval is": {Group: "g", Topic: "a.b", ManualCommit: true, AutoCommitInterval: time.Second},
		"OnCommit":              {Group: "g", Topic: "a.b", ManualCommit: true, OnCommit: func(sdk.CommitResult, error) {}},
		"RequestTimeout":        {Group: "g", Topic: "a.b", RequestTimeout: -time.Second},
	} {
		_, err := c.Consumer(cfg)
		require.Error(t, err, field)
		require.Contains(t, err.Error(), "ConsumerConfig."+strings.Fields(strings.Trim(field, " \""))[0], field)
	}
	k, err := c.Consumer(sdk.ConsumerConfig{Group: "g", Topic: "a.b"})
	require.NoError(t, err)
	got := k.Config()
	require.Equal(t, sdk.DefaultMaxPollRecords, got.MaxPollRecords)
	require.Equal(t, sdk.DefaultPollTimeout, got.PollTimeout)
	require.Equal(t, sdk.DefaultAutoCommitInterval, got.AutoCommitInterval)
	require.Equal(t, sdk.DefaultRequestTimeout, got.RequestTimeout)
	require.Equal(t, sdk.Latest, got.AutoOffsetReset)
	require.False(t, got.ManualCommit, "auto commit is on by default")
	require.NoError(t, k.Close(context.Background()))

	c.Close()
	_, err = c.Consumer(sdk.ConsumerConfig{Group: "g", Topic: "a.b"})
	require.ErrorIs(t, err, sdk.ErrClosed)
}

// The wire: the first request carries the reset position, later ones the
// consumer's own position; the ack is inclusive.
func TestConsumerWireRequests(t *testing.T) {
	f := newTopicFake(t)
	f.consume = func(n int, _ map[string]any) (int, string) {
		switch n {
		case 0:
			return 200, batch(5, 8)
		case 1:
			return 200, batch(8, 9)
		}
		return 200, `{"messages":[],"next_offset":9,"has_more":false}`
	}
	k := mockConsumer(t, f, sdk.ConsumerConfig{AutoOffsetReset: sdk.AtOffset(5), MaxPollRecords: 3, PollTimeout: 1500 * time.Millisecond, ManualCommit: true, Partition: 0})
	recs, err := k.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 3)
	r := recs[0]
	require.Equal(t, uint64(5), r.Offset)
	require.Equal(t, "shop.events", r.Topic)
	require.True(t, r.Key != nil && *r.Key == "5", "key")
	require.Equal(t, "u1", r.User)
	require.Equal(t, sdk.OpInsert, r.Op)
	require.True(t, r.Timestamp.Equal(time.UnixMilli(1700000000123)), "timestamp ", r.Timestamp)
	require.Equal(t, `{"id":"5","n":"9007199254740993","_table":"shop:orders"}`, string(r.Payload))
	require.Equal(t, sdk.TableName{Namespace: "shop", Name: "orders"}, r.Table)
	row, err := r.Row()
	require.NoError(t, err)
	n, err := row.Int64("n")
	require.NoError(t, err)
	require.Equal(t, int64(9007199254740993), n)
	require.Equal(t, 2, row.Len())

	next, err := k.Poll(context.Background())
	require.NoError(t, err)
	require.Equal(t, []uint64{8}, offsetsOf(next))
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err = k.Poll(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, k.MarkProcessed(recs[0]))
	require.NoError(t, k.MarkProcessed(recs[2])) // 6 is not processed
	res, err := k.Commit(context.Background())
	require.NoError(t, err)
	require.True(t, res.Sent && res.Offset == 5, "commit stops before the unprocessed offset 6: ", res)
	res, err = k.Commit(context.Background())
	require.NoError(t, err)
	require.False(t, res.Sent, "nothing new to commit")
	require.True(t, res.HasOffset && res.Offset == 5, "still reports the committed offset")
	require.NoError(t, k.MarkProcessed(recs[1]))
	res, err = k.Commit(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(7), res.Offset)

	calls := f.consumeCalls()
	require.JSONEq(t, `{"topic_id":"shop.events","group_id":"g","start":{"Offset":5},"limit":3,"partition_id":0,"timeout_seconds":2}`, mustJSON(t, calls[0]))
	require.JSONEq(t, `{"topic_id":"shop.events","group_id":"g","start":{"Offset":8},"limit":3,"partition_id":0,"timeout_seconds":2}`, mustJSON(t, calls[1]))
	acks := f.ackCalls()
	require.Len(t, acks, 2)
	require.JSONEq(t, `{"topic_id":"shop.events","group_id":"g","partition_id":0,"upto_offset":5}`, mustJSON(t, acks[0]))
	require.JSONEq(t, `{"topic_id":"shop.events","group_id":"g","partition_id":0,"upto_offset":7}`, mustJSON(t, acks[1]))
	for _, req := range f.captured() {
		if strings.HasPrefix(req.Path, "/v1/api/topics/") {
			require.True(t, strings.HasPrefix(req.Auth, "Bearer "), "topics are called with a bearer token")
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestConsumerStartPositions(t *testing.T) {
	for reset, want := range map[sdk.OffsetReset]string{sdk.Latest: `"Latest"`, sdk.Earliest: `"Earliest"`, sdk.AtOffset(42): `{"Offset":42}`} {
		f := newTopicFake(t)
		k := mockConsumer(t, f, sdk.ConsumerConfig{AutoOffsetReset: reset, PollTimeout: time.Millisecond})
		f.probe = probeAt(7)
		_, err := k.Poll(context.Background())
		require.NoError(t, err)
		// The start is resolved by a consume of 0 records, which claims
		// nothing; reading then continues from the offset it answered.
		require.Equal(t, want, mustJSON(t, f.probeCalls()[0]["start"]), reset.String())
		require.Equal(t, `{"Offset":7}`, mustJSON(t, f.consumeCalls()[0]["start"]), reset.String())
		pos, ok := k.Position()
		require.True(t, ok)
		require.Equal(t, uint64(7), pos)
	}
}

func TestConsumerMarkProcessedChecksTheRecord(t *testing.T) {
	f := newTopicFake(t)
	f.consume = func(int, map[string]any) (int, string) { return 200, batch(0, 2) }
	k := mockConsumer(t, f, sdk.ConsumerConfig{ManualCommit: true})
	recs, err := k.Poll(context.Background())
	require.NoError(t, err)
	foreign := recs[0]
	foreign.Topic = "other.topic"
	require.ErrorContains(t, k.MarkProcessed(foreign), "not from this consumer")
	never := recs[1]
	never.Offset = 99
	require.ErrorContains(t, k.MarkProcessed(never), "offset 99")
	require.NoError(t, k.MarkProcessed(recs[0]))
	require.NoError(t, k.MarkProcessed(recs[0]), "marking twice is harmless")
	_, err = k.Commit(context.Background())
	require.NoError(t, err)
	require.NoError(t, k.MarkProcessed(recs[0]), "marking a committed record is harmless")
}

func TestConsumerErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		target error
		text   string
	}{
		{"forbidden", 403, `{"error":"Topic consumption requires service, dba, or system role","code":"FORBIDDEN"}`, sdk.ErrPermissionDenied, "FORBIDDEN"},
		{"unknown topic", 404, `{"error":"Topic 'shop.events' does not exist","code":"NOT_FOUND"}`, sdk.ErrNotFound, "does not exist"},
		{"malformed body", 200, `{"messages":[{"offset":"x"}]`, sdk.ErrUnexpectedResponse, "truncated"},
		{"wrong shape", 200, `{"messages":{}}`, sdk.ErrUnexpectedResponse, "unexpected shape"},
		{"no offset", 200, `{"messages":[{"topic_id":"shop.events","payload":""}],"next_offset":1}`, sdk.ErrUnexpectedResponse, "no offset"},
		{"bad base64", 200, `{"messages":[{"topic_id":"shop.events","offset":0,"payload":"%%%"}],"next_offset":1}`, sdk.ErrUnexpectedResponse, "not standard base64"},
		{"other partition", 200, `{"messages":[{"topic_id":"shop.events","partition_id":3,"offset":0,"payload":""}],"next_offset":1}`, sdk.ErrUnexpectedResponse, "not the requested"},
		{"bad group (400)", 400, `Json deserialize error: missing field`, nil, "missing field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newTopicFake(t)
			f.consume = func(int, map[string]any) (int, string) { return tc.status, tc.body }
			k := mockConsumer(t, f, sdk.ConsumerConfig{PollTimeout: time.Minute})
			_, err := k.Poll(context.Background())
			require.Error(t, err)
			if tc.target != nil {
				require.ErrorIs(t, err, tc.target)
			}
			require.Contains(t, err.Error(), tc.text)
			require.Len(t, f.consumeCalls(), 1, "a permanent error is not retried")
		})
	}
}

func TestConsumerRetriesTransientFailures(t *testing.T) {
	t.Run("5xx", func(t *testing.T) {
		f := newTopicFake(t)
		f.consume = func(n int, _ map[string]any) (int, string) {
			if n < 2 {
				return 500 + n*3, `{"error":"Failed to consume messages: busy","code":"INTERNAL_ERROR"}`
			}
			return 200, batch(0, 1)
		}
		k := mockConsumer(t, f, sdk.ConsumerConfig{})
		recs, err := k.Poll(context.Background())
		require.NoError(t, err)
		require.Len(t, recs, 1)
		require.Len(t, f.consumeCalls(), 3)
	})
	t.Run("connection refused", func(t *testing.T) {
		f := newTopicFake(t)
		f.consume = func(int, map[string]any) (int, string) { return 200, batch(0, 1) }
		c, tr := newClient(t, f, basic(), sdk.WithMaxRetries(0))
		k, err := c.Consumer(sdk.ConsumerConfig{Group: "g", Topic: "shop.events", ManualCommit: true})
		require.NoError(t, err)
		defer k.Close(context.Background())
		sdk.SetConsumerPacing(k, time.Millisecond, time.Millisecond)
		_, err = c.Login(context.Background(), "root", "s3cret-pw")
		require.NoError(t, err)
		tr.FailNext(2)
		recs, err := k.Poll(context.Background())
		require.NoError(t, err)
		require.Len(t, recs, 1)
		require.NoError(t, k.MarkProcessed(recs[0]))
		tr.FailNext(1)
		res, err := k.Commit(context.Background())
		require.NoError(t, err)
		require.Equal(t, uint64(0), res.Offset)
	})
	t.Run("gives up at the poll timeout", func(t *testing.T) {
		f := newTopicFake(t)
		f.consume = func(int, map[string]any) (int, string) {
			return 503, `{"error":"unavailable","code":"INTERNAL_ERROR"}`
		}
		k := mockConsumer(t, f, sdk.ConsumerConfig{PollTimeout: 50 * time.Millisecond})
		_, err := k.Poll(context.Background())
		require.Error(t, err)
		require.Contains(t, err.Error(), "503")
		require.Contains(t, err.Error(), "time limit")
	})
	t.Run("ack 5xx", func(t *testing.T) {
		f := newTopicFake(t)
		f.consume = func(int, map[string]any) (int, string) { return 200, batch(0, 1) }
		f.ack = func(n int, req map[string]any) (int, string) {
			if n == 0 {
				return 502, `<html>bad gateway</html>`
			}
			return 200, `{"success":true,"acknowledged_offset":0}`
		}
		k := mockConsumer(t, f, sdk.ConsumerConfig{ManualCommit: true})
		recs, err := k.Poll(context.Background())
		require.NoError(t, err)
		require.NoError(t, k.MarkProcessed(recs[0]))
		res, err := k.Commit(context.Background())
		require.NoError(t, err)
		require.True(t, res.Sent, "committed after a retry")
		require.Len(t, f.ackCalls(), 2)
	})
}

func TestConsumerRenewsExpiredToken(t *testing.T) {
	f := newTopicFake(t)
	f.consume = func(int, map[string]any) (int, string) { return 200, batch(0, 1) }
	k := mockConsumer(t, f, sdk.ConsumerConfig{ManualCommit: true})
	recs, err := k.Poll(context.Background())
	require.NoError(t, err)
	f.expire()
	require.NoError(t, k.MarkProcessed(recs[0]))
	_, err = k.Commit(context.Background())
	require.NoError(t, err)
	require.Equal(t, int32(1), f.refreshes.Load(), "the token was renewed once")
	require.Len(t, f.ackCalls(), 1, "the rejected ack never reached the topic handler")
}

// An empty 200 body is an empty batch and does not move the position
// (the official client resets it to 0); nor does a next_offset behind it.
func TestConsumerEmptyBodyKeepsPosition(t *testing.T) {
	f := newTopicFake(t)
	f.consume = func(n int, _ map[string]any) (int, string) {
		switch n {
		case 0:
			return 200, batch(3, 5)
		case 1:
			return 200, ""
		case 2:
			return 200, `{"messages":[],"next_offset":1,"has_more":false}`
		}
		return 200, `{"messages":[],"next_offset":5,"has_more":false}`
	}
	f.probe = probeAt(3) // the group committed offset 2
	k := mockConsumer(t, f, sdk.ConsumerConfig{AutoOffsetReset: sdk.Earliest, PollTimeout: time.Millisecond})
	_, err := k.Poll(context.Background())
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		recs, err := k.Poll(context.Background())
		require.NoError(t, err)
		require.Len(t, recs, 0)
	}
	calls := f.consumeCalls()
	require.True(t, len(calls) >= 4, "consume calls ", len(calls))
	for _, c := range calls[1:] {
		require.Equal(t, `{"Offset":5}`, mustJSON(t, c["start"]))
	}
}

// Records the server redelivers to a consumer that already delivered them
// are not handed out twice.
func TestConsumerSkipsRedeliveries(t *testing.T) {
	f := newTopicFake(t)
	f.consume = func(n int, _ map[string]any) (int, string) {
		switch n {
		case 0:
			return 200, batch(0, 3)
		case 1:
			return 200, batch(1, 3)
		}
		return 200, batch(3, 4)
	}
	k := mockConsumer(t, f, sdk.ConsumerConfig{PollTimeout: time.Minute})
	recs, err := k.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 3)
	recs, err = k.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, uint64(3), recs[0].Offset)
}

// A payload that is not a JSON object is still delivered; Row says why it
// cannot be read as a row.
func TestConsumerUndecodablePayload(t *testing.T) {
	f := newTopicFake(t)
	payload := base64.StdEncoding.EncodeToString([]byte("\x00binary"))
	f.consume = func(int, map[string]any) (int, string) {
		return 200, fmt.Sprintf(`{"messages":[{"topic_id":"shop.events","partition_id":0,"offset":0,"payload":%q,"key":null,"timestamp_ms":1,"op":"Upsert"}],"next_offset":1,"has_more":false}`, payload)
	}
	k := mockConsumer(t, f, sdk.ConsumerConfig{})
	recs, err := k.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, "\x00binary", string(recs[0].Payload))
	require.Equal(t, sdk.Op("Upsert"), recs[0].Op, "an unknown op is passed through")
	require.True(t, recs[0].Key == nil, "null key")
	_, err = recs[0].Row()
	require.ErrorContains(t, err, "offset 0")
}

// An idle Poll paces its requests: with the first wait of at least half of
// idleFirst, doubling to half of idleMax, only a bounded number fit in the
// poll timeout.
func TestConsumerIdlePollIsBounded(t *testing.T) {
	f := newTopicFake(t)
	c, _ := newClient(t, f, basic())
	timeout := 500 * time.Millisecond
	k, err := c.Consumer(sdk.ConsumerConfig{Group: "g", Topic: "shop.events", PollTimeout: timeout})
	require.NoError(t, err)
	defer k.Close(context.Background())
	recs, err := k.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 0)

	bound := idleBound(timeout)
	got := len(f.consumeCalls())
	require.True(t, got >= 2 && got <= bound, fmt.Sprintf("idle Poll made %d requests, want 2..%d", got, bound))
}

// idleBound is the most consume requests an idle Poll can make in timeout:
// each wait is at least half its nominal value; the last one may be cut
// short by the timeout and is followed by one final request.
func idleBound(timeout time.Duration) int {
	first, maxWait := sdk.ConsumerIdleWaits()
	bound, elapsed := 1, time.Duration(0)
	for w := first; ; w = min(w*2, maxWait) {
		elapsed += w / 2
		bound++
		if elapsed >= timeout {
			return bound
		}
	}
}

// Issue 9 item 11: a server that keeps answering with records the consumer
// already delivered is paced like an empty poll, not asked again at once.
func TestConsumerRepeatedRecordsArePaced(t *testing.T) {
	f := newTopicFake(t)
	f.consume = func(int, map[string]any) (int, string) { return 200, batch(0, 3) }
	c, _ := newClient(t, f, basic())
	timeout := 500 * time.Millisecond
	k, err := c.Consumer(sdk.ConsumerConfig{Group: "g", Topic: "shop.events", AutoOffsetReset: sdk.Earliest, PollTimeout: timeout})
	require.NoError(t, err)
	defer k.Close(context.Background())
	recs, err := k.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 3)

	recs, err = k.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 0, "0..2 are not handed out twice")
	got := len(f.consumeCalls()) - 1
	bound := idleBound(timeout) + sdk.ConsumerMaxDupRun()
	require.True(t, got >= 2 && got <= bound, fmt.Sprintf("a Poll answered only with redeliveries made %d requests, want 2..%d", got, bound))
}

// Redeliveries whose offsets climb (a server working through an expired
// claim) are followed at once by the next request, and the new record
// after them is returned.
func TestConsumerClimbingRedeliveriesAreFollowed(t *testing.T) {
	f := newTopicFake(t)
	f.consume = func(n int, _ map[string]any) (int, string) {
		if n == 0 {
			return 200, batch(0, 6)
		}
		if n <= 3 {
			return 200, batch(uint64(n-1)*2, uint64(n)*2) // 0-1, 2-3, 4-5 again
		}
		return 200, batch(6, 7)
	}
	k := mockConsumer(t, f, sdk.ConsumerConfig{AutoOffsetReset: sdk.Earliest, PollTimeout: time.Minute})
	sdk.SetConsumerPacing(k, time.Hour, time.Hour) // a pause would outlast the test
	recs, err := k.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 6)
	recs, err = k.Poll(context.Background())
	require.NoError(t, err)
	require.Equal(t, []uint64{6}, offsetsOf(recs))
}

func TestConsumerCommitAsync(t *testing.T) {
	f := newTopicFake(t)
	f.consume = func(int, map[string]any) (int, string) { return 200, batch(0, 2) }
	k := mockConsumer(t, f, sdk.ConsumerConfig{ManualCommit: true})
	recs, err := k.Poll(context.Background())
	require.NoError(t, err)
	require.NoError(t, k.MarkProcessed(recs[0]))
	done := make(chan sdk.CommitResult, 1)
	k.CommitAsync(context.Background(), func(r sdk.CommitResult, err error) {
		if err != nil {
			t.Errorf("CommitAsync: %v", err)
		}
		done <- r
	})
	select {
	case r := <-done:
		require.True(t, r.Sent && r.Offset == 0, "async commit ", r)
	case <-time.After(30 * time.Second):
		t.Fatal("CommitAsync did not report within 30 s")
	}
	require.NoError(t, k.Close(context.Background()))
	errc := make(chan error, 1)
	k.CommitAsync(context.Background(), func(_ sdk.CommitResult, err error) { errc <- err })
	require.ErrorIs(t, <-errc, sdk.ErrClosed)
}

// Close stops a Poll in progress, waits for background commits, commits,
// and leaves no goroutine behind.
func TestConsumerCloseLeavesNoGoroutines(t *testing.T) {
	f := newTopicFake(t)
	f.consume = func(n int, _ map[string]any) (int, string) {
		if n == 0 {
			return 200, batch(0, 3)
		}
		return 200, `{"messages":[],"next_offset":3,"has_more":false}`
	}
	c, _ := newClient(t, f, basic())
	before := runtime.NumGoroutine()

	commits := make(chan sdk.CommitResult, 8)
	k, err := c.Consumer(sdk.ConsumerConfig{Group: "g", Topic: "shop.events", AutoCommitInterval: time.Millisecond,
		OnCommit: func(r sdk.CommitResult, err error) {
			if err != nil {
				t.Errorf("auto commit: %v", err)
			}
			commits <- r
		}})
	require.NoError(t, err)
	recs, err := k.Poll(context.Background())
	require.NoError(t, err)
	require.NoError(t, k.MarkProcessed(recs[0]))
	waitCommit(t, commits, 0) // the auto-commit timer ran
	require.NoError(t, k.MarkProcessed(recs[1]))
	k.CommitAsync(context.Background(), nil)

	polling := make(chan error, 1)
	go func() {
		_, err := k.Poll(context.Background()) // idle: waits for records
		polling <- err
	}()
	require.NoError(t, k.MarkProcessed(recs[2]))
	require.NoError(t, k.Close(context.Background()))
	select {
	case err := <-polling:
		require.ErrorIs(t, err, sdk.ErrClosed)
	case <-time.After(30 * time.Second):
		t.Fatal("Poll did not return within 30 s of Close")
	}
	acks := f.ackCalls()
	require.Equal(t, json.Number("2"), acks[len(acks)-1]["upto_offset"], "Close commits the last processed record")

	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before the consumer, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}

// The start is read with a consume of 0 records; a reply to it holding
// records, or no next_offset, is refused rather than trusted.
func TestConsumerStartProbeIsChecked(t *testing.T) {
	for name, body := range map[string]string{
		"records":        batch(0, 2),
		"no next_offset": `{"messages":[],"has_more":true}`,
		"empty body":     "",
	} {
		f := newTopicFake(t)
		f.probe = func(int, map[string]any) (int, string) { return 200, body }
		k := mockConsumer(t, f, sdk.ConsumerConfig{AutoOffsetReset: sdk.Earliest, PollTimeout: time.Second})
		_, err := k.Poll(context.Background())
		require.ErrorIs(t, err, sdk.ErrUnexpectedResponse, name)
		require.Empty(t, f.consumeCalls(), name)
		_, _, err = k.Committed(context.Background())
		require.ErrorIs(t, err, sdk.ErrUnexpectedResponse, name)
	}
}

// Seek waits for a Poll in progress, but no longer than its context.
func TestConsumerSeekWaitsForPollWithinContext(t *testing.T) {
	f := newTopicFake(t)
	k := mockConsumer(t, f, sdk.ConsumerConfig{AutoOffsetReset: sdk.Earliest, PollTimeout: time.Minute})
	sdk.SetConsumerPacing(k, time.Hour, time.Millisecond)
	pollCtx, stopPoll := context.WithCancel(context.Background())
	polled := make(chan error, 1)
	go func() {
		_, err := k.Poll(pollCtx)
		polled <- err
	}()
	require.Eventually(t, func() bool { return len(f.consumeCalls()) > 0 }, 10*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, k.Seek(ctx, 5), context.DeadlineExceeded)
	stopPoll()
	require.ErrorIs(t, <-polled, context.Canceled)
	require.NoError(t, k.Seek(context.Background(), 5))
	pos, ok := k.Position()
	require.True(t, ok)
	require.EqualValues(t, 5, pos)
}

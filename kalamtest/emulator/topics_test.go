package emulator

import (
	"net/http"
	"testing"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
	"github.com/stretchr/testify/require"
)

// http-api.md §8.1: request decoding and defaults, the message encoding.
func TestConsume(t *testing.T) {
	e := rootEnv(t)
	var got engine.ConsumeRequest
	key := "k1"
	e.db.consume = func(id engine.Identity, req engine.ConsumeRequest) (engine.ConsumeResult, *engine.Error) {
		got = req
		if req.TopicID != "app.events" {
			return engine.ConsumeResult{}, &engine.Error{Code: "NOT_FOUND", HTTPStatus: 404, Message: "Topic '" + req.TopicID + "' does not exist"}
		}
		return engine.ConsumeResult{Messages: []engine.TopicMessage{
			{TopicID: "app.events", Offset: 4, Payload: []byte(`{"id":"1","_table":"app:t"}`), TimestampMS: 1700000000123, User: "alice", Op: "Insert"},
			{TopicID: "app.events", Offset: 5, Payload: []byte(`{}`), Key: &key, TimestampMS: 1700000000124, Op: "Delete"},
		}, NextOffset: 6, HasMore: true}, nil
	}
	svc := e.token("svc", "SvcPass123!")
	consume := func(body string) response {
		return e.postJSON("/v1/api/topics/consume", body, "Authorization", "Bearer "+svc)
	}

	r := consume(`{"topic_id":"app.events","group_id":"g"}`)
	wantStatus(t, r, http.StatusOK)
	wantJSON(t, r.body, `{"messages":[
		{"topic_id":"app.events","partition_id":0,"offset":4,"payload":"eyJpZCI6IjEiLCJfdGFibGUiOiJhcHA6dCJ9","key":null,"timestamp_ms":1700000000123,"user":"alice","op":"Insert"},
		{"topic_id":"app.events","partition_id":0,"offset":5,"payload":"e30=","key":"k1","timestamp_ms":1700000000124,"op":"Delete"}],
		"next_offset":6,"has_more":true}`)
	require.Equal(t, engine.ConsumeRequest{TopicID: "app.events", GroupID: "g", Start: "latest", Limit: 100}, got, "defaults %+v", got)

	for body, want := range map[string]engine.ConsumeRequest{
		`{"topic_id":"app.events","group_id":"g","start":"EARLIEST","limit":5,"partition_id":2,"timeout_seconds":30}`: {TopicID: "app.events", GroupID: "g", Start: "earliest", Limit: 5, PartitionID: 2},
		`{"topic_id":"app.events","group_id":"g","start":"Latest","timeout_seconds":null}`:                            {TopicID: "app.events", GroupID: "g", Start: "latest", Limit: 100},
		`{"topic_id":"app.events","group_id":"g","start":{"Offset":18446744073709551615}}`:                            {TopicID: "app.events", GroupID: "g", Start: "offset", StartOffset: 18446744073709551615, Limit: 100},
		`{"topic_id":"app.events","group_id":"g","start":{"offset":7},"limit":0}`:                                     {TopicID: "app.events", GroupID: "g", Start: "offset", StartOffset: 7},
	} {
		wantStatus(t, consume(body), http.StatusOK)
		require.Equal(t, want, got, "%s decoded as %+v, want %+v", body, got, want)
	}

	r = consume(`{"topic_id":"app.nope","group_id":"g"}`)
	wantStatus(t, r, http.StatusNotFound)
	wantJSON(t, r.body, `{"error":"Topic 'app.nope' does not exist","code":"NOT_FOUND"}`)

	for body, prefix := range map[string]string{
		`{"topic_id":"app.events"}`:                                          "Json deserialize error: missing field `group_id`",
		`{"topic_id":"app.events","group_id":"g","start":"middle"}`:          "Json deserialize error: Invalid start position: middle",
		`{"topic_id":"app.events","group_id":"g","start":{"Offset":-1}}`:     "Json deserialize error: Offset must be a positive integer",
		`{"topic_id":"app.events","group_id":"g","start":{"At":1}}`:          "Json deserialize error: Expected 'Offset' key with numeric value",
		`{"topic_id":"app.events","group_id":"g","start":null}`:              "Json deserialize error: Expected string ('Latest', 'Earliest') or object {'Offset': n}",
		`{"topic_id":"app.events","group_id":"g","limit":-1}`:                "Json deserialize error: invalid value",
		`{"topic_id":"app.events","group_id":"g","partition_id":4294967296}`: "Json deserialize error: invalid value",
		`{"topic_id":`: "Json deserialize error: ",
	} {
		wantPlainText(t, consume(body), http.StatusBadRequest, prefix)
	}
	wantPlainText(t, e.do(http.MethodPost, "/v1/api/topics/consume", "text/plain", []byte(`{}`), "Authorization", "Bearer "+svc), 400, "Content type error")
	wantStatus(t, consume(`{"topic_id":"app.events","group_id":"g"}`), http.StatusOK)

	// The role gate: user is refused after the body parsed.
	alice := e.token("alice", "AlicePass123!")
	r = e.postJSON("/v1/api/topics/consume", `{"topic_id":"app.events","group_id":"g"}`, "Authorization", "Bearer "+alice)
	wantStatus(t, r, http.StatusForbidden)
	wantJSON(t, r.body, `{"error":"Topic consumption requires service, dba, or system role","code":"FORBIDDEN"}`)
	for _, user := range [][2]string{{"admin", "AdminPass123!"}, {"root", testRootPassword}} {
		r := e.postJSON("/v1/api/topics/consume", `{"topic_id":"app.events","group_id":"g"}`, "Authorization", "Bearer "+e.token(user[0], user[1]))
		wantStatus(t, r, http.StatusOK)
	}
	// Wrong method on a macro route: 404.
	wantStatus(t, e.do(http.MethodGet, "/v1/api/topics/consume", "", nil, "Authorization", "Bearer "+svc), http.StatusNotFound)
}

// http-api.md §8.2.
func TestAck(t *testing.T) {
	e := rootEnv(t)
	svc := e.token("svc", "SvcPass123!")
	ack := func(token, body string) response {
		return e.postJSON("/v1/api/topics/ack", body, "Authorization", "Bearer "+token)
	}
	r := ack(svc, `{"topic_id":"app.events","group_id":"g","upto_offset":41}`)
	wantStatus(t, r, http.StatusOK)
	wantJSON(t, r.body, `{"success":true,"acknowledged_offset":41}`)
	require.Len(t, e.db.acks, 1)
	require.Equal(t, ackRequest{"app.events", "g", 0, 41}, e.db.acks[0], "acks %+v", e.db.acks)
	wantPlainText(t, ack(svc, `{"topic_id":"app.events","group_id":"g"}`), 400, "Json deserialize error: missing field `upto_offset`")

	r = ack(e.token("alice", "AlicePass123!"), `{"topic_id":"app.events","group_id":"g","upto_offset":1}`)
	wantStatus(t, r, http.StatusForbidden)
	wantJSON(t, r.body, `{"error":"Topic acknowledgment requires service, dba, or system role","code":"FORBIDDEN"}`)

	e.db.ackErr = &engine.Error{Code: "NOT_FOUND", HTTPStatus: 404, Message: "Topic 'x' does not exist"}
	r = ack(svc, `{"topic_id":"x","group_id":"g","partition_id":3,"upto_offset":1}`)
	wantStatus(t, r, http.StatusNotFound)
	wantJSON(t, r.body, `{"error":"Topic 'x' does not exist","code":"NOT_FOUND"}`)
	require.Equal(t, ackRequest{"x", "g", 3, 1}, e.db.acks[1], "ack %+v", e.db.acks[1])
}

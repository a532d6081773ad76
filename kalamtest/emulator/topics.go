package emulator

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
)

// topicMessage is TopicMessage on the wire (http-api.md §8.1): key always
// present (null when none), user omitted when unknown.
type topicMessage struct {
	TopicID     string  `json:"topic_id"`
	PartitionID uint32  `json:"partition_id"`
	Offset      uint64  `json:"offset"`
	Payload     string  `json:"payload"`
	Key         *string `json:"key"`
	TimestampMS int64   `json:"timestamp_ms"`
	User        string  `json:"user,omitempty"`
	Op          string  `json:"op"`
}

// handleConsume is POST /v1/api/topics/consume. As in actix, the auth
// extractor runs first, then the body extractor (malformed → 400 plain
// text), then the role gate.
func (s *Server) handleConsume(w http.ResponseWriter, r *http.Request) {
	id, ok := s.authenticateBearer(w, r, time.Now())
	if !ok {
		return
	}
	req, ok := readTopicBody(w, r, decodeConsumeRequest)
	if !ok {
		return
	}
	if !topicRole(id.Role) {
		writeJSON(w, http.StatusForbidden, topicErrorBody{Error: "Topic consumption requires service, dba, or system role", Code: "FORBIDDEN"})
		return
	}
	res, err := s.db.Consume(id, req)
	if err != nil {
		writeTopicError(w, err)
		return
	}
	msgs := make([]topicMessage, len(res.Messages))
	for i, m := range res.Messages {
		msgs[i] = topicMessage{
			TopicID: m.TopicID, PartitionID: m.PartitionID, Offset: m.Offset,
			Payload: base64.StdEncoding.EncodeToString(m.Payload), Key: m.Key,
			TimestampMS: m.TimestampMS, User: m.User, Op: m.Op,
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Messages   []topicMessage `json:"messages"`
		NextOffset uint64         `json:"next_offset"`
		HasMore    bool           `json:"has_more"`
	}{msgs, res.NextOffset, res.HasMore})
}

// handleAck is POST /v1/api/topics/ack (http-api.md §8.2).
func (s *Server) handleAck(w http.ResponseWriter, r *http.Request) {
	id, ok := s.authenticateBearer(w, r, time.Now())
	if !ok {
		return
	}
	req, ok := readTopicBody(w, r, decodeAckRequest)
	if !ok {
		return
	}
	if !topicRole(id.Role) {
		writeJSON(w, http.StatusForbidden, topicErrorBody{Error: "Topic acknowledgment requires service, dba, or system role", Code: "FORBIDDEN"})
		return
	}
	if err := s.db.Ack(id, req.topic, req.group, req.partition, req.upto); err != nil {
		writeTopicError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Success            bool   `json:"success"`
		AcknowledgedOffset uint64 `json:"acknowledged_offset"`
	}{true, req.upto})
}

func topicRole(r engine.Role) bool {
	return r == engine.RoleService || r == engine.RoleDBA || r == engine.RoleSystem
}

// writeTopicError is shape D: NOT_FOUND (404) for an unknown topic, the
// engine's status otherwise (500 INTERNAL_ERROR for storage failures).
func writeTopicError(w http.ResponseWriter, e *engine.Error) {
	status := e.HTTPStatus
	switch {
	case e.Code == "NOT_FOUND":
		status = http.StatusNotFound
	case status < 400 || status > 599:
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, topicErrorBody{Error: e.Message, Code: e.Code})
}

// readTopicBody runs web::Json<T>: errors are actix's plain-text 400/413.
func readTopicBody[T any](w http.ResponseWriter, r *http.Request, decode func([]byte) (T, error)) (T, bool) {
	var zero T
	body, jerr := readJSONBody(r)
	if jerr != nil {
		writeActixError(w, jerr.status, jerr.text)
		return zero, false
	}
	v, err := decode(body)
	if err != nil {
		writeActixError(w, http.StatusBadRequest, "Json deserialize error: "+err.Error())
		return zero, false
	}
	return v, true
}

// decodeConsumeRequest decodes ConsumeRequest: topic_id and group_id
// required; start "Latest" by default, a case-insensitive "latest" or
// "earliest", or {"Offset":n} / {"offset":n}; limit 100; partition_id 0;
// timeout_seconds accepted and ignored. Unknown fields are ignored.
func decodeConsumeRequest(body []byte) (engine.ConsumeRequest, error) {
	req := engine.ConsumeRequest{Start: "latest", Limit: 100}
	fields, err := decodeObject(body, "struct ConsumeRequest")
	if err != nil {
		return req, err
	}
	seen := map[string]bool{}
	for _, f := range fields {
		if seen[f.key] {
			return req, serdeError(body, int64(len(body)), fmt.Sprintf("duplicate field `%s`", f.key))
		}
		seen[f.key] = true
		switch f.key {
		case "topic_id":
			req.TopicID, err = stringField(body, f)
		case "group_id":
			req.GroupID, err = stringField(body, f)
		case "start":
			req.Start, req.StartOffset, err = decodeStart(body, f)
		case "limit":
			req.Limit, err = uintField(body, f, math.MaxUint64)
		case "partition_id":
			var p uint64
			p, err = uintField(body, f, math.MaxUint32)
			req.PartitionID = uint32(p)
		case "timeout_seconds":
			if !isJSONNull(f.raw) {
				_, err = uintField(body, f, math.MaxUint64)
			}
		}
		if err != nil {
			return req, err
		}
	}
	for _, name := range []string{"topic_id", "group_id"} {
		if !seen[name] {
			return req, serdeError(body, int64(len(body)), fmt.Sprintf("missing field `%s`", name))
		}
	}
	return req, nil
}

// decodeStart is StartPosition's custom Deserialize.
func decodeStart(body []byte, f jsonField) (string, uint64, error) {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(f.raw)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", 0, serdeSyntaxError(body, int64(len(body)), err)
	}
	at := f.valEnd
	switch t := v.(type) {
	case string:
		switch strings.ToLower(t) {
		case "latest":
			return "latest", 0, nil
		case "earliest":
			return "earliest", 0, nil
		}
		return "", 0, serdeError(body, at, "Invalid start position: "+t)
	case map[string]any:
		n, ok := t["Offset"]
		if !ok {
			n = t["offset"]
		}
		num, ok := n.(json.Number)
		if !ok {
			return "", 0, serdeError(body, at, "Expected 'Offset' key with numeric value")
		}
		off, err := parseUint(num, math.MaxUint64)
		if err != nil {
			return "", 0, serdeError(body, at, "Offset must be a positive integer")
		}
		return "offset", off, nil
	}
	return "", 0, serdeError(body, at, "Expected string ('Latest', 'Earliest') or object {'Offset': n}")
}

type ackRequest struct {
	topic, group string
	partition    uint32
	upto         uint64
}

// decodeAckRequest decodes AckRequest: topic_id, group_id and upto_offset
// required, partition_id 0 by default.
func decodeAckRequest(body []byte) (ackRequest, error) {
	var req ackRequest
	fields, err := decodeObject(body, "struct AckRequest")
	if err != nil {
		return req, err
	}
	seen := map[string]bool{}
	for _, f := range fields {
		if seen[f.key] {
			return req, serdeError(body, int64(len(body)), fmt.Sprintf("duplicate field `%s`", f.key))
		}
		seen[f.key] = true
		switch f.key {
		case "topic_id":
			req.topic, err = stringField(body, f)
		case "group_id":
			req.group, err = stringField(body, f)
		case "partition_id":
			var p uint64
			p, err = uintField(body, f, math.MaxUint32)
			req.partition = uint32(p)
		case "upto_offset":
			req.upto, err = uintField(body, f, math.MaxUint64)
		}
		if err != nil {
			return req, err
		}
	}
	for _, name := range []string{"topic_id", "group_id", "upto_offset"} {
		if !seen[name] {
			return req, serdeError(body, int64(len(body)), fmt.Sprintf("missing field `%s`", name))
		}
	}
	return req, nil
}

var errNotUint = errors.New("not an unsigned integer in range")

// uintField decodes an unsigned integer no larger than maxVal.
func uintField(body []byte, f jsonField, maxVal uint64) (uint64, error) {
	var n json.Number
	dec := json.NewDecoder(strings.NewReader(string(f.raw)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err == nil {
		n, _ = v.(json.Number)
	}
	if n == "" {
		return 0, serdeError(body, int64(len(body)), fmt.Sprintf("invalid type: %s, expected u64", rawKind(f.raw)))
	}
	u, err := parseUint(n, maxVal)
	if err != nil {
		return 0, serdeError(body, int64(len(body)), fmt.Sprintf("invalid value: %s, expected an unsigned integer", rawKind(f.raw)))
	}
	return u, nil
}

func parseUint(n json.Number, maxVal uint64) (uint64, error) {
	var u uint64
	if _, err := fmt.Sscan(string(n), &u); err != nil || fmt.Sprint(u) != string(n) || u > maxVal {
		return 0, errNotUint
	}
	return u, nil
}

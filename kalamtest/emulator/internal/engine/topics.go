package engine

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

type claimKey struct {
	topic, group string
	part         uint32
}

type claim struct {
	first, last uint64
	at          time.Time
}

// claimState is the in-memory delivery cursor of a group on a partition
// (http-api §8.1 step 3).
type claimState struct {
	cursor uint64
	claims []claim
}

func topicNotFound(id string) *Error {
	return &Error{Code: "NOT_FOUND", HTTPStatus: 404, Message: fmt.Sprintf("Topic '%s' does not exist", id)}
}

// Consume reads messages for a consumer group (http-api §8.1).
func (e *Engine) Consume(id Identity, req ConsumeRequest) (ConsumeResult, *Error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ConsumeResult{}, &Error{Code: "INTERNAL_ERROR", HTTPStatus: 500, Message: "engine is closed"}
	}
	if e.cat.Topics[req.TopicID] == nil {
		return ConsumeResult{}, topicNotFound(req.TopicID)
	}
	res, err := e.consume(req, true)
	if err != nil {
		return ConsumeResult{}, &Error{Code: "INTERNAL_ERROR", HTTPStatus: 500, Message: "Failed to consume messages: " + err.Error()}
	}
	return res, nil
}

func (e *Engine) consume(req ConsumeRequest, claims bool) (ConsumeResult, error) {
	start, err := e.startOffset(req)
	if err != nil {
		return ConsumeResult{}, err
	}
	from := start
	var cs *claimState
	now := e.opts.Now()
	if claims {
		key := claimKey{req.TopicID, req.GroupID, req.PartitionID}
		cs = e.claims[key]
		if cs == nil {
			// As the server's ClaimState::new(start_offset): the first
			// consume of a group sets its cursor, even when it returns
			// nothing, so a later consume cannot start below it.
			cs = &claimState{cursor: start}
			e.claims[key] = cs
		}
		// Claims older than the visibility timeout (strictly) expire and
		// rewind the cursor for redelivery.
		kept := cs.claims[:0]
		for _, c := range cs.claims {
			if now.Sub(c.at) > e.opts.VisibilityTimeout {
				cs.cursor = min(cs.cursor, c.first)
				continue
			}
			kept = append(kept, c)
		}
		cs.claims = kept
		from = max(cs.cursor, start)
	}
	res := ConsumeResult{NextOffset: start, Messages: []TopicMessage{}}
	if req.Limit > 0 {
		rows, err := e.queryRows(`SELECT off, msg_key, payload, ts_ms, user_id, op FROM _kv_msgs
			WHERE topic = ? AND part = ? AND off >= ? ORDER BY off LIMIT ?`,
			req.TopicID, int64(req.PartitionID), int64(from), int64(min(req.Limit, 1<<62)))
		if err != nil {
			return ConsumeResult{}, err
		}
		for _, r := range rows {
			m := TopicMessage{TopicID: req.TopicID, PartitionID: req.PartitionID, Offset: uint64(r[0].(int64))}
			if k, ok := r[1].(string); ok {
				m.Key = &k
			}
			switch p := r[2].(type) {
			case []byte:
				m.Payload = p
			case string:
				m.Payload = []byte(p)
			}
			m.TimestampMS, _ = r[3].(int64)
			m.User, _ = r[4].(string)
			m.Op, _ = r[5].(string)
			res.Messages = append(res.Messages, m)
		}
	}
	if n := len(res.Messages); n > 0 {
		last := res.Messages[n-1].Offset
		res.NextOffset = last + 1
		if cs != nil {
			// The claim starts at the effective start, as the server's.
			cs.claims = append(cs.claims, claim{first: from, last: last, at: now})
			cs.cursor = last + 1
		}
	}
	res.HasMore = uint64(len(res.Messages)) == req.Limit
	return res, nil
}

// startOffset is steps 1-2 of http-api §8.1: a committed offset wins.
func (e *Engine) startOffset(req ConsumeRequest) (uint64, error) {
	rows, err := e.queryRows(`SELECT off FROM _kv_offsets WHERE topic = ? AND grp = ? AND part = ?`, req.TopicID, req.GroupID, int64(req.PartitionID))
	if err != nil {
		return 0, err
	}
	if len(rows) > 0 && req.GroupID != "" {
		return uint64(rows[0][0].(int64)) + 1, nil
	}
	switch strings.ToLower(req.Start) {
	case "earliest":
		return 0, nil
	case "offset":
		return req.StartOffset, nil
	}
	hw, err := e.queryRows(`SELECT COALESCE(MAX(off) + 1, 0) FROM _kv_msgs WHERE topic = ? AND part = ?`, req.TopicID, int64(req.PartitionID))
	if err != nil {
		return 0, err
	}
	return uint64(hw[0][0].(int64)), nil
}

// Ack commits a group's offset through upto inclusive (http-api §8.2). As
// the server's TopicOffset::ack, the committed offset never goes down: a
// lower ack is accepted and changes nothing.
func (e *Engine) Ack(id Identity, topic, group string, partition uint32, upto uint64) *Error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return &Error{Code: "INTERNAL_ERROR", HTTPStatus: 500, Message: "engine is closed"}
	}
	if e.cat.Topics[topic] == nil {
		return topicNotFound(topic)
	}
	if err := e.ack(topic, group, partition, upto); err != nil {
		return &Error{Code: "INTERNAL_ERROR", HTTPStatus: 500, Message: "Failed to acknowledge offset: " + err.Error()}
	}
	return nil
}

func (e *Engine) ack(topic, group string, partition uint32, upto uint64) error {
	if err := e.exec(`INSERT INTO _kv_offsets (topic, grp, part, off, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (topic, grp, part) DO UPDATE SET off = excluded.off, updated_at = excluded.updated_at WHERE excluded.off > off`,
		topic, group, int64(partition), int64(upto), e.opts.Now().UnixMilli()); err != nil {
		return err
	}
	key := claimKey{topic, group, partition}
	if cs := e.claims[key]; cs == nil {
		// No claim state yet: the server seeds one from the acked offset.
		e.claims[key] = &claimState{cursor: upto + 1}
	} else {
		kept := cs.claims[:0]
		for _, c := range cs.claims {
			if c.last > upto {
				kept = append(kept, c)
			}
		}
		cs.claims = kept
		cs.cursor = max(cs.cursor, upto+1)
	}
	return nil
}

func consumeDenied(s *session, what string) *stmtErr {
	if s.role == RoleService || s.role.IsAdmin() {
		return nil
	}
	return permErr("Permission denied: Only service, dba, or system roles can %s", what)
}

// execConsume is CONSUME FROM t [GROUP 'g'] [FROM EARLIEST|LATEST|n] [LIMIT n]
// (sql-model §7): partition 0, default LATEST and LIMIT 100, groups auto-ack.
func (e *Engine) execConsume(st *stmt, s *session) (Result, *stmtErr) {
	if se := consumeDenied(s, "consume from topics"); se != nil {
		return Result{}, se
	}
	c := &tokCursor{t: st.sig}
	c.accept("CONSUME")
	c.accept("FROM")
	ns, name, ok := c.qualifiedName()
	if !ok {
		return Result{}, invalidSQL("Invalid CONSUME statement. Expected: CONSUME FROM <topic> [GROUP '<id>'] [FROM EARLIEST|LATEST|<offset>] [LIMIT n]")
	}
	id := name
	if ns != "" {
		id = ns + "." + name
	}
	req := ConsumeRequest{TopicID: id, Start: "latest", Limit: 100}
	for !c.done() {
		switch {
		case c.accept("GROUP"):
			g := c.next()
			req.GroupID = strings.Trim(g.text, `'"`)
		case c.accept("FROM"):
			p := c.next()
			switch p.upper() {
			case "EARLIEST", "LATEST":
				req.Start = strings.ToLower(p.text)
			default:
				n, err := strconv.ParseUint(p.text, 10, 64)
				if err != nil {
					return Result{}, invalidSQL("Invalid CONSUME position '%s'", p.text)
				}
				req.Start, req.StartOffset = "offset", n
			}
		case c.accept("LIMIT"):
			n, err := strconv.ParseUint(c.next().text, 10, 64)
			if err != nil {
				return Result{}, invalidSQL("Invalid CONSUME LIMIT")
			}
			req.Limit = n
		default:
			c.next() // e.g. START EARLIEST: ignored like the server (sql-model §7)
		}
	}
	if e.cat.Topics[id] == nil {
		return Result{}, execErr("Not found: Topic '%s' does not exist", id)
	}
	res, err := e.consume(req, req.GroupID != "")
	if err != nil {
		return Result{}, execErr("Execution error: %v", err)
	}
	if req.GroupID != "" && len(res.Messages) > 0 {
		if err := e.ack(id, req.GroupID, 0, res.Messages[len(res.Messages)-1].Offset); err != nil {
			return Result{}, execErr("Execution error: %v", err)
		}
	}
	cols := []column{sysCol("topic_id", tText), sysCol("partition_id", tInt), sysCol("offset", tBigInt), sysCol("key", tText),
		sysCol("payload", tBytes), sysCol("timestamp_ms", tBigInt), sysCol("user_id", tText), sysCol("op", tText)}
	var rows [][]any
	for _, m := range res.Messages {
		var key, user any
		if m.Key != nil {
			key = *m.Key
		}
		if m.User != "" {
			user = m.User
		}
		rows = append(rows, []any{m.TopicID, int64(m.PartitionID), int64(m.Offset), key, m.Payload, m.TimestampMS, user, strings.ToLower(m.Op)})
	}
	return encodeResult(knownCols(cols), rows, s.role)
}

// execAck is ACK t GROUP 'g' [PARTITION n] UPTO OFFSET n.
func (e *Engine) execAck(st *stmt, s *session) (Result, *stmtErr) {
	if se := consumeDenied(s, "acknowledge topic offsets"); se != nil {
		return Result{}, se
	}
	c := &tokCursor{t: st.sig}
	c.accept("ACK")
	ns, name, ok := c.qualifiedName()
	bad := invalidSQL("Invalid ACK statement. Expected: ACK <topic> GROUP '<id>' [PARTITION n] UPTO OFFSET <offset>")
	if !ok || !c.accept("GROUP") {
		return Result{}, bad
	}
	id := name
	if ns != "" {
		id = ns + "." + name
	}
	group := strings.Trim(c.next().text, `'"`)
	part := uint64(0)
	if c.accept("PARTITION") {
		n, err := strconv.ParseUint(c.next().text, 10, 32)
		if err != nil {
			return Result{}, bad
		}
		part = n
	}
	if !c.accept("UPTO", "OFFSET") {
		return Result{}, bad
	}
	upto, err := strconv.ParseUint(c.next().text, 10, 64)
	if err != nil || !c.done() {
		return Result{}, bad
	}
	if e.cat.Topics[id] == nil {
		return Result{}, execErr("Not found: Topic '%s' does not exist", id)
	}
	if err := e.ack(id, group, uint32(part), upto); err != nil {
		return Result{}, execErr("Execution error: %v", err)
	}
	cols := []column{sysCol("topic", tText), sysCol("group_id", tText), sysCol("partition", tInt), sysCol("committed_offset", tBigInt)}
	return encodeResult(knownCols(cols), [][]any{{id, group, int64(part), int64(upto)}}, s.role)
}

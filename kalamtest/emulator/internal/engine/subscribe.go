package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// execSubscribe answers SUBSCRIBE TO over HTTP the way the server does: it
// subscribes nothing and describes the WebSocket to use (sql-model §9).
func (e *Engine) execSubscribe(st *stmt, s *session) (Result, *stmtErr) {
	c := &tokCursor{t: st.sig}
	c.accept("SUBSCRIBE", "TO")
	var ns, name, query string
	if c.peek().upper() == "SELECT" {
		query = strings.Trim(join(st.toks[allIndexOfSig(st.toks, c.i):]), asciiSpace)
		for !c.done() && c.peek().upper() != "FROM" {
			c.next()
		}
		c.accept("FROM")
		var ok bool
		if ns, name, ok = c.qualifiedName(); !ok {
			return Result{}, invalidSQL("Invalid SUBSCRIBE statement: expected FROM <table>")
		}
	} else {
		start := c.i
		var ok bool
		if ns, name, ok = c.qualifiedName(); !ok {
			return Result{}, invalidSQL("Invalid SUBSCRIBE statement. Expected: SUBSCRIBE TO [namespace.]table [WHERE ...] [OPTIONS (...)]")
		}
		query = "SELECT * FROM " + strings.Trim(join(st.toks[allIndexOfSig(st.toks, start):allIndexOfSig(st.toks, c.i)]), asciiSpace)
		if c.accept("WHERE") {
			w := c.i
			for !c.done() && c.peek().upper() != "OPTIONS" {
				c.next()
			}
			query += " WHERE " + strings.Trim(join(st.toks[allIndexOfSig(st.toks, w):allIndexOfSig(st.toks, c.i)]), asciiSpace)
		}
	}
	if ns == "" {
		ns = s.ns
		query = strings.Replace(query, "FROM "+name, "FROM "+ns+"."+name, 1)
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	sub, err := marshalJSON(map[string]string{"id": "sub-" + ns + "-" + name + "-" + hex.EncodeToString(id[:]), "sql": query})
	if err != nil {
		return Result{}, execErr("Execution error: %v", err)
	}
	res := Result{ReturnsRows: true, RowCount: 1, Schema: []Column{
		{Name: "status", DataType: tText.dataTypeJSON(), Index: 0},
		{Name: "ws_url", DataType: tText.dataTypeJSON(), Index: 1},
		{Name: "subscription", DataType: tJSON.dataTypeJSON(), Index: 2},
		{Name: "message", DataType: tText.dataTypeJSON(), Index: 3},
	}}
	// The subscription cell is a JSON object here, not JSON text (sql_response.rs).
	res.Rows = [][]json.RawMessage{{jsonString("active"), jsonString("ws://localhost:8080/ws"), sub,
		jsonString("WebSocket subscription created. Connect to ws_url to receive updates.")}}
	return res, nil
}

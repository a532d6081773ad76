//go:build !js && !wasip1

// Package transcript records what a real KalamDB says and holds the
// emulator to it.
//
// A scenario is a script of raw HTTP requests and WebSocket frames (no SDK:
// what is recorded is the server, not our client). Recording runs every
// scenario against a real server (kalamtest.Start with KALAMTEST_SERVER_BIN,
// KALAMDB_URL or KALAMTEST_IMAGE) and writes each exchange to
// testdata/<scenario>.json with volatile values (tokens, times, _seq ids)
// replaced by placeholders that still check the value's shape. Replaying runs
// the same scenarios against a fresh emulator and fails on any difference.
//
//	KALAMTEST_SERVER_BIN=/path/to/kalamdb-server KALAMTEST_RECORD=1 go test ./kalamtest/transcript -run TestRecord
//	go test ./kalamtest/transcript              # replay against the emulator (CI)
//
// The differences the emulator keeps on purpose are listed, each with its
// reason, in KnownDifferences.
package transcript

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Transcript is one scenario as a server answered it.
type Transcript struct {
	Scenario  string     `json:"scenario"`
	Server    string     `json:"server"`
	Exchanges []Exchange `json:"exchanges"`
}

// Exchange is one HTTP round trip or one WebSocket event.
type Exchange struct {
	Step string `json:"step"`

	// HTTP: the request and the answer.
	Request *Request `json:"request,omitempty"`
	Status  int      `json:"status,omitempty"`
	Headers Headers  `json:"headers,omitempty"`
	Body    any      `json:"body,omitempty"`

	// WebSocket: "open" (Status 101, or the refused upgrade's status and
	// body), "send", "recv", "closed" (Code, Reason).
	WS     string `json:"ws,omitempty"`
	Frame  any    `json:"frame,omitempty"`
	Gzip   bool   `json:"gzip,omitempty"`
	Binary bool   `json:"binary,omitempty"`
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`

	// Aborted says why the scenario stopped early (an answer it needed to
	// go on was not there).
	Aborted string `json:"aborted,omitempty"`
}

// Request is the recorded half of an HTTP exchange.
type Request struct {
	Method  string  `json:"method"`
	Path    string  `json:"path"`
	Headers Headers `json:"headers,omitempty"`
	Body    any     `json:"body,omitempty"`
}

// Headers keeps only the headers a client reads; names are lower case.
type Headers map[string]string

// recordedHeaders are the response headers worth holding the emulator to.
var recordedHeaders = []string{
	"content-type", "www-authenticate", "retry-after", "content-disposition",
	"access-control-allow-origin", "access-control-allow-credentials",
	"access-control-allow-methods", "access-control-allow-headers",
	"access-control-expose-headers", "access-control-max-age", "set-cookie",
	"content-encoding", "sec-websocket-protocol",
}

var (
	jwtRE     = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)
	rfc3339RE = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2}| UTC)?`)
	httpDate  = regexp.MustCompile(`[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT`)
	digitsRE  = regexp.MustCompile(`^-?\d+$`)
	// A Snowflake id or _seq inside a message (16 digits and more).
	longNumRE = regexp.MustCompile(`\b\d{16,20}\b`)
	// A job id in a message: a type prefix and 12 hex digits of a random
	// UUID ("TC-e56ff2da3300").
	jobIDRE = regexp.MustCompile(`\b[A-Z]{2}-[0-9a-f]{12}\b`)
	// The Snowflake id leading a FILE cell's FileRef JSON.
	fileRefIDRE = regexp.MustCompile(`^\{"id":"\d{16,20}","sub":"`)
	// The file id in a download path /v1/files/{ns}/{table}/{sub}/{id}[-{name}].
	filePathIDRE = regexp.MustCompile(`^(/v1/files/[^/]+/[^/]+/[^/]+/)\d{16,20}([-.][^/]*)?$`)
)

// seqKeys hold Snowflake ids (the server's _seq and batch cursors).
var seqKeys = map[string]bool{
	"_seq": true, "last_seq_id": true, "snapshot_end_seq": true, "from": true, "from_seq_id": true,
	"seq": true, "_commit_seq": true,
}

// timeKeys hold wall-clock values that change per run.
var timeKeys = map[string]bool{
	"took": true, "expires_at": true, "refresh_expires_at": true, "created_at": true, "updated_at": true,
	"last_seen": true, "last_login_at": true, "timestamp_ms": true, "uptime_seconds": true,
	"started_at": true, "build_date": true, "last_update": true, "locked_until": true, "last_activity": true,
}

// messageKeys hold human text that may quote an id.
var messageKeys = map[string]bool{
	"message": true, "error": true, "reason": true, "details": true,
	"content-disposition": true, // a download names the stored file "{id}-{name}"
}

// Normalize replaces volatile values in a decoded JSON value with shape-
// checked placeholders: <jwt:claims>, <seq>, <time>, <took>.
func Normalize(v any) any { return normalize(v, "") }

func normalize(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e, k)
		}
		maskSeqColumns(out)
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e, key)
		}
		return out
	case json.Number:
		if seqKeys[key] {
			return "<seq>"
		}
		if timeKeys[key] {
			return "<time>"
		}
		return x
	case string:
		return normalizeString(x, key)
	}
	return v
}

func normalizeString(s, key string) string {
	if len(s) > 4096 {
		return fmt.Sprintf("%s…(%d bytes)", s[:64], len(s))
	}
	if seqKeys[key] && digitsRE.MatchString(s) {
		return "<seq>"
	}
	if timeKeys[key] && s != "" {
		return "<time>"
	}
	s = jwtRE.ReplaceAllStringFunc(s, jwtPlaceholder)
	s = httpDate.ReplaceAllString(s, "<http-date>")
	s = rfc3339RE.ReplaceAllString(s, "<time>")
	if messageKeys[key] {
		s = longNumRE.ReplaceAllString(s, "<id>")
		s = jobIDRE.ReplaceAllString(s, "<job-id>")
	}
	return fileRefIDRE.ReplaceAllString(s, `{"id":"<id>","sub":"`)
}

// normalizePath hides the file id of a download path.
func normalizePath(p string) string { return filePathIDRE.ReplaceAllString(p, "${1}<id>${2}") }

// validUTF8 replaces each invalid byte with U+FFFD as encoding/json does,
// so a binary body reads the same recorded and replayed.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// maskSeqColumns hides the _seq cells of a SQL result, whose rows are
// positional: the schema says which column holds them.
func maskSeqColumns(res map[string]any) {
	schema, ok1 := res["schema"].([]any)
	rows, ok2 := res["rows"].([]any)
	if !ok1 || !ok2 {
		return
	}
	for i, f := range schema {
		field, _ := f.(map[string]any)
		name, _ := field["name"].(string)
		if !seqKeys[name] {
			continue
		}
		for _, r := range rows {
			if row, ok := r.([]any); ok && i < len(row) && row[i] != nil {
				row[i] = "<seq>"
			}
		}
	}
}

// jwtPlaceholder keeps what a client relies on in a token: the claim names
// and the role and token type, never the signature or times.
func jwtPlaceholder(tok string) string {
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "<jwt:undecodable>"
	}
	var claims map[string]any
	if json.Unmarshal(raw, &claims) != nil {
		return "<jwt:undecodable>"
	}
	names := make([]string, 0, len(claims))
	for k := range claims {
		names = append(names, k)
	}
	sort.Strings(names)
	return fmt.Sprintf("<jwt %s role=%v type=%v>", strings.Join(names, ","), claims["role"], claims["token_type"])
}

// decodeBody turns a body into the value recorded for it: JSON (numbers
// kept exact) when it parses, else text.
func decodeBody(b []byte) any {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err == nil && !d.More() {
		return Normalize(v)
	}
	s := validUTF8(string(b))
	if len(s) > 2048 {
		s = s[:2048] + fmt.Sprintf("…(%d bytes)", len(b))
	}
	return normalizeString(s, "body")
}

// canonical is the comparable form of a recorded value (maps sorted, one
// representation for numbers).
func canonical(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("unencodable: %v", err)
	}
	return string(b)
}

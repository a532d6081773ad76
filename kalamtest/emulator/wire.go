package emulator

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// marshal encodes v as serde_json does: no HTML escaping of <, > and &.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only the emulator's own wire types reach here; a failure is a bug
		// in this package, reported in the body rather than hidden.
		return []byte(`{"error":"internal_error","message":` + strconv.Quote("emulator failed to encode a response: "+err.Error()) + `}`)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// writeJSON sends v with the given status as application/json.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body := marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a write error means the client is gone
}

// writeActixError sends a framework error as actix-web does by default:
// the error's Display text as text/plain (http-api.md §1.2).
func writeActixError(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text))
}

// tookMS is the `took` field: milliseconds rounded to 3 decimals, written
// as serde_json writes an f64 (always with a fraction: 15.0, 1.234).
type tookMS float64

func since(start time.Time) tookMS {
	return tookMS(float64(time.Since(start).Nanoseconds()) / 1e6)
}

func (t tookMS) MarshalJSON() ([]byte, error) {
	return []byte(serdeF64(round3(float64(t)))), nil
}

// unroundedMS is shape B's took: the extractor builds it with json! from
// the raw f64, without SqlResponse's rounding.
type unroundedMS float64

func (t unroundedMS) MarshalJSON() ([]byte, error) { return []byte(serdeF64(float64(t))), nil }

// displayTook is the streamed shape's `took`, written with Rust's Display
// for f64, which drops a zero fraction ("15", not "15.0").
func displayTook(t tookMS) string { return strconv.FormatFloat(round3(float64(t)), 'f', -1, 64) }

func round3(ms float64) float64 { return math.Round(ms*1000) / 1000 }

// serdeF64 writes a (non-negative, millisecond-sized) f64 as serde_json
// does: always with a fraction.
func serdeF64(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// sqlErrorDetail is error in shape A and B. details is omitted when absent.
type sqlErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details string `json:"details,omitempty"`
}

// sqlErrorBody is shape A, the SqlResponse error (http-api.md §1.3).
type sqlErrorBody struct {
	Status  string            `json:"status"`
	Results []json.RawMessage `json:"results"`
	Took    tookMS            `json:"took"`
	Error   sqlErrorDetail    `json:"error"`
}

func writeSQLError(w http.ResponseWriter, status int, took tookMS, d sqlErrorDetail) {
	writeJSON(w, status, sqlErrorBody{Status: "error", Results: []json.RawMessage{}, Took: took, Error: d})
}

// writeAuthExtractorError is shape B, built by the real server with json!
// (a BTreeMap, so keys come out sorted, as Go sorts map keys).
func writeAuthExtractorError(w http.ResponseWriter, status int, code, message string, took tookMS) {
	writeJSON(w, status, map[string]any{
		"status":  "error",
		"error":   map[string]string{"code": code, "message": message},
		"results": []any{},
		"took":    unroundedMS(took),
	})
}

// authErrorBody is shape C, AuthErrorResponse.
type authErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeAuthError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, authErrorBody{Error: code, Message: message})
}

// topicErrorBody is shape D, TopicErrorResponse: error holds the text.
type topicErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

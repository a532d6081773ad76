package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// jsonBodyError is an actix-web JsonPayloadError: its status and Display text.
type jsonBodyError struct {
	status int
	text   string
}

// readJSONBody applies actix-web's web::Json rules (http-api.md §1.2, §14):
// the Content-Type must be application/json or */*+json, the body at most
// 2 MiB (checked on Content-Length first, then while reading).
func readJSONBody(r *http.Request) ([]byte, *jsonBodyError) {
	if !isJSONContentType(r.Header.Get("Content-Type")) {
		return nil, &jsonBodyError{http.StatusBadRequest, "Content type error"}
	}
	if r.ContentLength > jsonBodyLimit {
		return nil, &jsonBodyError{http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"JSON payload (%d bytes) is larger than allowed (limit: %d bytes).", r.ContentLength, jsonBodyLimit)}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, jsonBodyLimit+1))
	if err != nil {
		return nil, &jsonBodyError{http.StatusBadRequest, "Error that occur during reading payload: " + err.Error()}
	}
	if len(body) > jsonBodyLimit {
		return nil, &jsonBodyError{http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"JSON payload has exceeded limit (%d bytes).", jsonBodyLimit)}
	}
	return body, nil
}

func isJSONContentType(ct string) bool {
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	_, sub, ok := strings.Cut(mt, "/")
	return ok && (sub == "json" || strings.HasSuffix(sub, "+json"))
}

// jsonField is one member of a JSON object, in document order.
type jsonField struct {
	key string
	raw json.RawMessage
	// keyEnd is the offset just after the key's closing quote, where serde
	// reports an unknown or duplicate field.
	keyEnd int64
	// valEnd is the offset just after the value.
	valEnd int64
}

// decodeObject reads body as one JSON object and nothing after it, keeping
// keys exactly as written (serde matches field names case-sensitively,
// encoding/json does not). Errors read like serde_json's.
func decodeObject(body []byte, expected string) ([]jsonField, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, serdeSyntaxError(body, dec.InputOffset(), err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, serdeError(body, dec.InputOffset(), fmt.Sprintf("invalid type: %s, expected %s", serdeKind(tok), expected))
	}
	var fields []jsonField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, serdeSyntaxError(body, dec.InputOffset(), err)
		}
		key, _ := tok.(string)
		keyEnd := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, serdeSyntaxError(body, dec.InputOffset(), err)
		}
		fields = append(fields, jsonField{key: key, raw: raw, keyEnd: keyEnd, valEnd: dec.InputOffset()})
	}
	if _, err := dec.Token(); err != nil {
		return nil, serdeSyntaxError(body, dec.InputOffset(), err)
	}
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return nil, serdeError(body, dec.InputOffset()+1, "trailing characters")
	}
	return fields, nil
}

// serdeKind names a JSON token as serde's "invalid type" errors do.
func serdeKind(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("boolean `%t`", v)
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return fmt.Sprintf("integer `%s`", v)
		}
		return fmt.Sprintf("floating point `%s`", v)
	case string:
		return fmt.Sprintf("string %q", v)
	case json.Delim:
		if v == '[' {
			return "sequence"
		}
		return "map"
	}
	return "value"
}

func serdeSyntaxError(body []byte, offset int64, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || len(bytes.TrimSpace(body)) == 0 {
		return serdeError(body, int64(len(body)), "EOF while parsing a value")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		offset = se.Offset
	}
	return serdeError(body, offset, "expected value")
}

// serdeError appends serde_json's " at line L column C" to msg.
func serdeError(body []byte, offset int64, msg string) error {
	offset = max(0, min(offset, int64(len(body))))
	line, col := 1, 0
	for _, b := range body[:offset] {
		if b == '\n' {
			line, col = line+1, 0
		} else {
			col++
		}
	}
	return fmt.Errorf("%s at line %d column %d", msg, line, col)
}

// stringField decodes a field that must be a JSON string.
func stringField(body []byte, f jsonField) (string, error) {
	var s string
	if err := json.Unmarshal(f.raw, &s); err != nil {
		return "", serdeError(body, int64(len(body)), fmt.Sprintf("invalid type: %s, expected a string", rawKind(f.raw)))
	}
	return s, nil
}

// rawKind names a raw JSON value as serde's "invalid type" errors do.
func rawKind(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return "value"
	}
	return serdeKind(tok)
}

func isJSONNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// invalidTypeOffset is where serde_json reports a value of the wrong type:
// at an object's first byte (it only peeks there), after any other value
// (it reads a string, number or literal whole first).
func (f jsonField) invalidTypeOffset() int64 {
	if len(f.raw) > 0 && f.raw[0] == '{' {
		return f.valEnd - int64(len(f.raw))
	}
	return f.valEnd
}

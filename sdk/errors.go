package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonscan"
	"github.com/kalamstack/kalam-go/sdk/internal/redact"
	"github.com/kalamstack/kalam-go/transport"
)

// Sentinel errors. Match them with errors.Is; a *ServerError matches the
// sentinel that corresponds to its code or HTTP status.
var (
	// ErrTokenExpired: the access token expired (code TOKEN_EXPIRED). The client
	// renews the token and retries once by itself; you see this only when
	// renewal was impossible.
	ErrTokenExpired = errors.New("sdk: token expired")
	// ErrSetupRequired: the server has no root password yet (HTTP 428).
	ErrSetupRequired = errors.New("sdk: server requires initial setup")
	// ErrPermissionDenied: the caller's role may not do this (HTTP 403,
	// PERMISSION_DENIED, INSUFFICIENT_PERMISSIONS, forbidden).
	ErrPermissionDenied = errors.New("sdk: permission denied")
	// ErrRateLimited: the server throttled the caller (HTTP 429,
	// RATE_LIMIT_EXCEEDED, rate_limited, IP_BANNED) or refused another
	// connection from its address (TOO_MANY_CONNECTIONS).
	ErrRateLimited = errors.New("sdk: rate limited")
	// ErrNotFound: a table, file, topic, export or route does not exist.
	// A missing table in SQL is reported by KalamDB as SQL_EXECUTION_ERROR
	// (HTTP 400), not as not-found.
	ErrNotFound = errors.New("sdk: not found")
	// ErrInvalidCredentials: wrong user or password, or an unusable token
	// (INVALID_CREDENTIALS, MISSING_AUTHORIZATION, unauthorized).
	ErrInvalidCredentials = errors.New("sdk: invalid credentials")
	// ErrAccountLocked: too many failed logins locked the account (account_locked).
	ErrAccountLocked = errors.New("sdk: account locked")
	// ErrAlreadyConfigured: Setup was called on a configured server (HTTP 409).
	ErrAlreadyConfigured = errors.New("sdk: server already configured")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("sdk: client closed")
	// ErrUnexpectedResponse: the response is not one KalamDB sends (an HTML
	// page from a proxy, an empty or truncated body). Returned as a
	// *ResponseError.
	ErrUnexpectedResponse = errors.New("sdk: unexpected response")
	// ErrResponseTooLarge: a response body exceeded the client's limit
	// (WithMaxResponseBytes).
	ErrResponseTooLarge = errors.New("sdk: response body too large")
	// ErrBodyNotReplayable: a request needed a retry (token expired, rate
	// limited) but its upload body had already been consumed.
	ErrBodyNotReplayable = errors.New("sdk: request body cannot be replayed")
	// ErrRequestTooLarge: the request exceeds one of the server's limits
	// (HTTP 413 BODY_TOO_LARGE; FILE_TOO_LARGE and TOO_MANY_FILES for
	// uploads; MESSAGE_TOO_LARGE on the WebSocket). Sending it again as it
	// is fails again.
	ErrRequestTooLarge = errors.New("sdk: request exceeds a server limit")
	// ErrInvalidRequest: the server refused the request before running it:
	// invalid SQL, an empty statement or batch, parameters with a batch, a
	// bad parameter or input, FILE parts missing, extra or of a refused MIME
	// type; on setup an invalid or existing user or a weak password; on the
	// WebSocket an unsupported query or a protocol error.
	ErrInvalidRequest = errors.New("sdk: invalid request")
	// ErrUnavailable: the cluster cannot serve the request now (NOT_LEADER,
	// LEADER_NOT_AVAILABLE, CLUSTER_UNAVAILABLE, FORWARD_FAILED, or HTTP
	// 503 from KalamDB). Trying again later may succeed.
	ErrUnavailable = errors.New("sdk: server unavailable")
	// ErrInternal: the server failed (INTERNAL_ERROR, AUTHENTICATION_ERROR,
	// HTTP 500 from KalamDB; SUBSCRIPTION_FAILED, CONVERSION_ERROR and
	// BATCH_FETCH_FAILED on the WebSocket).
	ErrInternal = errors.New("sdk: server internal error")
)

// codeSentinel maps every error code KalamDB sends (upper-cased; the auth
// endpoints send lower case) to its sentinel. SQL_EXECUTION_ERROR has none:
// the statement ran and failed for a reason of its own (a constraint, a
// type, a missing table), told only by Message. The package doc has the
// table. A switch rather than a map: a map literal costs the browser
// bundle its initialisation code.
func codeSentinel(code string) error {
	switch code {
	case "TOKEN_EXPIRED":
		return ErrTokenExpired
	case "SETUP_REQUIRED":
		return ErrSetupRequired
	case "PERMISSION_DENIED", "INSUFFICIENT_PERMISSIONS", "FORBIDDEN":
		return ErrPermissionDenied
	case "RATE_LIMIT_EXCEEDED", "RATE_LIMITED", "IP_BANNED", "TOO_MANY_CONNECTIONS":
		return ErrRateLimited
	case "NOT_FOUND", "TABLE_NOT_FOUND", "FILE_NOT_FOUND", "EXPORT_NOT_FOUND":
		return ErrNotFound
	case "INVALID_CREDENTIALS", "MISSING_AUTHORIZATION", "UNAUTHORIZED":
		return ErrInvalidCredentials
	case "ALREADY_CONFIGURED":
		return ErrAlreadyConfigured
	case "ACCOUNT_LOCKED":
		return ErrAccountLocked
	case "BODY_TOO_LARGE", "FILE_TOO_LARGE", "TOO_MANY_FILES":
		return ErrRequestTooLarge
	case "INVALID_SQL", "EMPTY_SQL", "BATCH_PARSE_ERROR", "PARAMS_WITH_BATCH", "INVALID_PARAMETER", "INVALID_INPUT", "MISSING_FILE", "EXTRA_FILE", "INVALID_MIME_TYPE", "INVALID_USER", "WEAK_PASSWORD", "USER_EXISTS":
		return ErrInvalidRequest
	case "NOT_LEADER", "LEADER_NOT_AVAILABLE", "CLUSTER_UNAVAILABLE", "FORWARD_FAILED":
		return ErrUnavailable
	case "INTERNAL_ERROR", "AUTHENTICATION_ERROR":
		return ErrInternal
	}
	return nil
}

// ServerError is an error reported by KalamDB in one of its JSON error
// bodies. The package doc has the table of codes and the sentinels they
// match.
type ServerError struct {
	// Code is KalamDB's error code as sent: upper case on the SQL, topic and
	// file endpoints (e.g. "TOKEN_EXPIRED", "SQL_EXECUTION_ERROR"), lower case
	// on the auth endpoints (e.g. "unauthorized", "setup_required"), and empty
	// when the server sent only a message.
	Code string
	// HTTPStatus is the response status code.
	HTTPStatus int
	// Message is the server's human-readable text.
	Message string
	// Details is extra context (for admins: the failing SQL); often empty.
	// JWTs, PASSWORD literals (however quoted) and the exact passwords and
	// tokens this process's clients send are replaced by [REDACTED] in
	// Message and Details.
	Details string
	// RetryAfter is the server's hint (Retry-After header or
	// retry_after_seconds), zero when absent.
	RetryAfter time.Duration
}

func (e *ServerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kalamdb: HTTP %d", e.HTTPStatus)
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(errorText(e.Message))
	}
	if e.Details != "" {
		b.WriteString(" (")
		b.WriteString(errorText(e.Details))
		b.WriteString(")")
	}
	return b.String()
}

// Is maps KalamDB codes and HTTP statuses onto the sentinel errors.
func (e *ServerError) Is(target error) bool {
	if s := codeSentinel(strings.ToUpper(e.Code)); s != nil && s == target {
		return true
	}
	switch target {
	case ErrSetupRequired:
		return e.HTTPStatus == 428
	case ErrPermissionDenied:
		return e.HTTPStatus == 403
	case ErrRateLimited:
		return e.HTTPStatus == 429
	case ErrNotFound:
		return e.HTTPStatus == 404
	case ErrRequestTooLarge:
		return e.HTTPStatus == 413
	case ErrInvalidRequest:
		// actix's plain-text answer to a malformed auth request.
		return e.HTTPStatus == 400 && e.Code == ""
	case ErrUnavailable:
		return e.HTTPStatus == 503
	case ErrInternal:
		return e.HTTPStatus == 500
	}
	return false
}

// ResponseError describes a response that did not come from KalamDB, or
// that KalamDB would never send: a proxy's HTML error page, an empty body, a
// truncated or non-JSON body. It matches ErrUnexpectedResponse.
type ResponseError struct {
	HTTPStatus  int
	ContentType string
	// Reason says what was wrong, e.g. "body is not JSON".
	Reason string
	// Snippet is the start of the body (at most 200 bytes, tokens redacted).
	Snippet string
	// Err is the underlying decode error, if any.
	Err error
}

func (e *ResponseError) Error() string {
	msg := fmt.Sprintf("sdk: unexpected response (not a KalamDB reply?): HTTP %d", e.HTTPStatus)
	if e.ContentType != "" {
		msg += ", Content-Type " + e.ContentType
	}
	msg += ": " + e.Reason
	if e.Snippet != "" {
		msg += fmt.Sprintf("; body starts %q", e.Snippet)
	}
	return msg
}

func (e *ResponseError) Unwrap() error { return e.Err }

// Is matches ErrUnexpectedResponse, and ErrNotFound for a 404: whoever
// answered, nothing is at that URL.
func (e *ResponseError) Is(target error) bool {
	return target == ErrUnexpectedResponse || (target == ErrNotFound && e.HTTPStatus == 404)
}

// IsRetryable reports whether repeating the same request later may succeed:
// rate limiting (except an IP ban), server overload or unavailability (HTTP
// 502, 503, 504), transport failures (except transport.ErrRefused, such as
// an origin that CORS does not allow) and timeouts. Whether a retry is SAFE
// depends on the statement: the client retries by itself only where it is.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, ErrClosed) {
		return false
	}
	var se *ServerError
	if errors.As(err, &se) {
		if strings.EqualFold(se.Code, "IP_BANNED") {
			return false
		}
		switch se.HTTPStatus {
		case 429, 502, 503, 504:
			return true
		}
		return false
	}
	var re *ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatus {
		case 502, 503, 504:
			return true
		}
		return false
	}
	var te *TransportError
	if errors.As(err, &te) {
		return !errors.Is(te.Err, transport.ErrRefused)
	}
	return errors.Is(err, errCallTimeout)
}

// TransportError wraps a failure to exchange a request with the server
// (connection refused, reset, DNS, TLS). The request may or may not have
// reached the server.
type TransportError struct {
	Method, Path string
	Err          error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("sdk: %s %s: transport: %v", e.Method, e.Path, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// errCallTimeout is the cause attached to a call's context when the client's
// request timeout (WithTimeout) ends it, so it can be told from the caller's
// own deadline.
var errCallTimeout = errors.New("sdk: request timeout exceeded")

// errorBody covers the five error shapes KalamDB sends (http-api §1.3):
// A/B {"status":"error","error":{"code","message","details"}},
// C {"error":"code","message":"text"}, D {"error":"text","code":"CODE"},
// E {"error":"text"}.
type errorBody struct {
	Status            string          `json:"status"`
	Error             json.RawMessage `json:"error"`
	Message           *string         `json:"message"`
	Code              string          `json:"code"`
	RetryAfterSeconds *float64        `json:"retry_after_seconds"`
}

type nestedError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details string `json:"details"`
}

// decodeServerError turns a non-2xx (or 200 "status":"error") body into a
// *ServerError, or a *ResponseError when the body is none of KalamDB's shapes.
func decodeServerError(status int, contentType string, body []byte, retryAfterHeader string) error {
	var eb errorBody
	if len(strings.TrimSpace(string(body))) == 0 {
		if status == 404 {
			// KalamDB answers unknown routes with an empty 404, and so do
			// many other servers: nothing here says which one answered.
			return unexpected(status, contentType, "empty 404 body: no such route on this server (a wrong base URL or path prefix?)", body, nil)
		}
		return unexpected(status, contentType, "empty body", body, nil)
	}
	if err := jsonscan.Unmarshal(body, &eb); err != nil {
		if status == 400 && strings.HasPrefix(contentType, "text/plain") {
			// actix answers malformed requests on the auth routes in plain text.
			return &ServerError{HTTPStatus: status, Message: snippet(body)}
		}
		return unexpected(status, contentType, describeJSONError(err), body, err)
	}
	se := &ServerError{HTTPStatus: status}
	switch {
	case len(eb.Error) > 0 && eb.Error[0] == '{':
		var ne nestedError
		if err := jsonscan.Unmarshal(eb.Error, &ne); err != nil {
			return unexpected(status, contentType, "error object is malformed", body, err)
		}
		se.Code, se.Message, se.Details = ne.Code, ne.Message, ne.Details
	case len(eb.Error) > 0 && eb.Error[0] == '"':
		var text string
		if err := jsonscan.Unmarshal(eb.Error, &text); err != nil {
			return unexpected(status, contentType, "error field is malformed", body, err)
		}
		switch {
		case eb.Code != "": // shape D
			se.Code, se.Message = eb.Code, text
		case eb.Message != nil: // shape C
			se.Code, se.Message = text, *eb.Message
		default: // shape E
			se.Message = text
		}
	default:
		return unexpected(status, contentType, "JSON body carries no error", body, nil)
	}
	// Admins get the failing SQL echoed back, which may hold a password.
	se.Message, se.Details = redactSecrets(se.Message), redactSecrets(se.Details)
	if eb.RetryAfterSeconds != nil && *eb.RetryAfterSeconds > 0 {
		se.RetryAfter = time.Duration(*eb.RetryAfterSeconds * float64(time.Second))
	}
	if secs, err := parseRetryAfter(retryAfterHeader); err == nil && secs > 0 {
		se.RetryAfter = secs
	}
	return se
}

func parseRetryAfter(v string) (time.Duration, error) {
	if v == "" {
		return 0, errors.New("absent")
	}
	n, ok := leadingInt(v)
	if !ok || n < 0 {
		return 0, fmt.Errorf("bad Retry-After %q", v)
	}
	return time.Duration(n) * time.Second, nil
}

func unexpected(status int, contentType, reason string, body []byte, err error) *ResponseError {
	return &ResponseError{HTTPStatus: status, ContentType: contentType, Reason: reason, Snippet: snippet(body), Err: err}
}

func describeJSONError(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se) && strings.Contains(se.Error(), "unexpected end"):
		return "body is truncated JSON"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "body is truncated JSON"
	case errors.As(err, &se):
		return fmt.Sprintf("body is not valid JSON (at byte %d)", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("JSON has an unexpected shape: field %q is %s", te.Field, te.Value)
	}
	return "body is not valid JSON: " + err.Error()
}

const snippetMax = 200

// snippet returns the start of body for error messages: valid UTF-8, at most
// snippetMax bytes, with secrets redacted before the cut (a secret cut in
// half would no longer match).
func snippet(body []byte) string {
	const scan = 16 << 10 // secrets are far shorter
	if len(body) > scan {
		body = body[:scan]
	}
	s := redactSecrets(strings.TrimSpace(string(body)))
	if len(s) > snippetMax {
		cut := snippetMax
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// redactSecrets hides the passwords and tokens this process's clients
// send, JWTs, and the literal after PASSWORD (admins get the failing SQL
// echoed in details, e.g. CREATE USER ... WITH PASSWORD '...'). The
// realtime package uses the same function (internal/redact).
func redactSecrets(s string) string { return redact.String(s) }

// errorTextMax bounds server text in an error string; the full text stays
// in the error's fields.
const errorTextMax = 1024

// errorText is server text fit for an error string: secrets redacted and
// cut to errorTextMax bytes (a hostile or buggy server can send megabytes).
func errorText(s string) string {
	if len(s) <= errorTextMax {
		return redactSecrets(s)
	}
	// Redact with a margin past the cut so a secret straddling it is
	// still recognised, then cut on a character boundary.
	s = redactSecrets(strings.ToValidUTF8(s[:min(len(s), errorTextMax+4096)], "\uFFFD"))
	if len(s) <= errorTextMax {
		return s
	}
	cut := errorTextMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (cut)"
}

package sdk_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/sdk"
)

var allSentinels = []error{
	sdk.ErrTokenExpired, sdk.ErrSetupRequired, sdk.ErrPermissionDenied, sdk.ErrRateLimited,
	sdk.ErrNotFound, sdk.ErrInvalidCredentials, sdk.ErrAlreadyConfigured, sdk.ErrAccountLocked,
	sdk.ErrRequestTooLarge, sdk.ErrInvalidRequest, sdk.ErrUnavailable, sdk.ErrInternal,
}

// Every error code the real server sends (its ErrorCode enum in
// kalamdb-api/src/http/sql/models/sql_response.rs, the auth extractor, the
// auth endpoints, the connection middleware, topics and files) matches
// exactly the sentinel of the package doc's table, the code alone deciding.
func TestEveryServerCodeHasItsSentinel(t *testing.T) {
	want := map[string]error{
		// SQL endpoint
		"RATE_LIMIT_EXCEEDED": sdk.ErrRateLimited, "INVALID_PARAMETER": sdk.ErrInvalidRequest,
		"BATCH_PARSE_ERROR": sdk.ErrInvalidRequest, "EMPTY_SQL": sdk.ErrInvalidRequest,
		"PARAMS_WITH_BATCH": sdk.ErrInvalidRequest, "SQL_EXECUTION_ERROR": nil,
		"FORWARD_FAILED": sdk.ErrUnavailable, "NOT_LEADER": sdk.ErrUnavailable,
		"INVALID_SQL": sdk.ErrInvalidRequest, "TABLE_NOT_FOUND": sdk.ErrNotFound,
		"PERMISSION_DENIED": sdk.ErrPermissionDenied, "CLUSTER_UNAVAILABLE": sdk.ErrUnavailable,
		"LEADER_NOT_AVAILABLE": sdk.ErrUnavailable, "INTERNAL_ERROR": sdk.ErrInternal,
		"INVALID_INPUT": sdk.ErrInvalidRequest, "FILE_TOO_LARGE": sdk.ErrRequestTooLarge,
		"TOO_MANY_FILES": sdk.ErrRequestTooLarge, "MISSING_FILE": sdk.ErrInvalidRequest,
		"EXTRA_FILE": sdk.ErrInvalidRequest, "FILE_NOT_FOUND": sdk.ErrNotFound,
		"INVALID_MIME_TYPE": sdk.ErrInvalidRequest,
		// auth extractor
		"MISSING_AUTHORIZATION": sdk.ErrInvalidCredentials, "INVALID_CREDENTIALS": sdk.ErrInvalidCredentials,
		"TOKEN_EXPIRED": sdk.ErrTokenExpired, "ACCOUNT_LOCKED": sdk.ErrAccountLocked,
		"INSUFFICIENT_PERMISSIONS": sdk.ErrPermissionDenied, "AUTHENTICATION_ERROR": sdk.ErrInternal,
		"SETUP_REQUIRED": sdk.ErrSetupRequired,
		// auth endpoints (lower case)
		"unauthorized": sdk.ErrInvalidCredentials, "forbidden": sdk.ErrPermissionDenied,
		"setup_required": sdk.ErrSetupRequired, "account_locked": sdk.ErrAccountLocked,
		"internal_error": sdk.ErrInternal, "invalid_user": sdk.ErrInvalidRequest,
		"weak_password": sdk.ErrInvalidRequest, "rate_limited": sdk.ErrRateLimited,
		"already_configured": sdk.ErrAlreadyConfigured, "user_exists": sdk.ErrInvalidRequest,
		// connection middleware
		"IP_BANNED": sdk.ErrRateLimited, "TOO_MANY_CONNECTIONS": sdk.ErrRateLimited,
		"BODY_TOO_LARGE": sdk.ErrRequestTooLarge,
		// topics, files, exports
		"FORBIDDEN": sdk.ErrPermissionDenied, "NOT_FOUND": sdk.ErrNotFound, "EXPORT_NOT_FOUND": sdk.ErrNotFound,
	}
	for code, sentinel := range want {
		err := error(&sdk.ServerError{Code: code, Message: "m"})
		for _, s := range allSentinels {
			require.Equal(t, s == sentinel, errors.Is(err, s), "%s matching %v", code, s)
		}
	}
	// Without a code, KalamDB's statuses decide.
	for status, sentinel := range map[int]error{400: sdk.ErrInvalidRequest, 403: sdk.ErrPermissionDenied, 404: sdk.ErrNotFound,
		413: sdk.ErrRequestTooLarge, 428: sdk.ErrSetupRequired, 429: sdk.ErrRateLimited, 500: sdk.ErrInternal, 503: sdk.ErrUnavailable} {
		require.ErrorIs(t, &sdk.ServerError{HTTPStatus: status}, sentinel, "HTTP %d", status)
	}
}

// The WebSocket's codes (kalamdb-api/src/ws/models/ws_error_code.rs).
func TestEveryRealtimeCodeHasItsSentinel(t *testing.T) {
	want := map[string]error{
		"AUTH_REQUIRED": sdk.ErrInvalidCredentials, "INVALID_SUBSCRIPTION_ID": sdk.ErrInvalidRequest,
		"SUBSCRIPTION_LIMIT_EXCEEDED": sdk.ErrSubscriptionLimit, "UNAUTHORIZED": sdk.ErrPermissionDenied,
		"NOT_FOUND": sdk.ErrNotFound, "INVALID_SQL": sdk.ErrInvalidRequest, "UNSUPPORTED": sdk.ErrInvalidRequest,
		"SUBSCRIPTION_FAILED": sdk.ErrInternal, "CONVERSION_ERROR": sdk.ErrInternal, "BATCH_FETCH_FAILED": sdk.ErrInternal,
		"MESSAGE_TOO_LARGE": sdk.ErrRequestTooLarge, "RATE_LIMIT_EXCEEDED": sdk.ErrRateLimited,
		"UNSUPPORTED_DATA": sdk.ErrInvalidRequest, "PROTOCOL": sdk.ErrInvalidRequest,
	}
	for code, sentinel := range want {
		err := error(&sdk.SubscriptionError{SubscriptionID: "s", Code: code, Message: "m"})
		for _, s := range append(allSentinels, sdk.ErrSubscriptionLimit) {
			require.Equal(t, s == sentinel, errors.Is(err, s), "%s matching %v", code, s)
		}
	}
	limit := &sdk.SubscriptionError{Code: "UNSUPPORTED", Message: "Maximum subscriptions per connection reached"}
	require.ErrorIs(t, limit, sdk.ErrSubscriptionLimit)
	require.NotErrorIs(t, limit, sdk.ErrInvalidRequest)
}

// An empty 404 could come from any server (a wrong base URL, a proxy): it is
// not dressed up as a KalamDB error, yet it is still "not found".
func TestEmpty404IsNotAServerError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler()) // Go's own 404 body
	defer srv.Close()
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }))
	defer empty.Close()
	for _, base := range []string{srv.URL, empty.URL} {
		c, err := sdk.New(base, sdk.WithToken("t"))
		require.NoError(t, err)
		_, err = c.Query(context.Background(), "SELECT 1")
		var se *sdk.ServerError
		require.NotErrorAs(t, err, &se, "%v", err)
		require.ErrorIs(t, err, sdk.ErrUnexpectedResponse)
		require.ErrorIs(t, err, sdk.ErrNotFound)
		c.Close()
	}
}

// A subscribe that its context ends while the WebSocket keeps failing
// names the context's error once, then the connection's last error.
func TestRealtimeCtxErrorSaysTheCauseOnce(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	defer refuse.Close()
	c, err := sdk.New(refuse.URL, sdk.WithToken("t"))
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = c.Subscribe(ctx, "SELECT * FROM app.t")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 1, strings.Count(err.Error(), "context deadline exceeded"), err.Error())
	require.NotContains(t, err.Error(), "((")

	err = c.Connect(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 1, strings.Count(err.Error(), "context deadline exceeded"), err.Error())
}

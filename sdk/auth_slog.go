//go:build !js

package sdk

import "log/slog"

// Not in browser builds, which would otherwise link log/slog and its
// default handler for this one method; there String still hides the
// tokens from slog's text output.

// LogValue hides the tokens from slog.
func (l LoginResponse) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", l.User.ID), slog.String("role", l.User.Role), slog.Time("expires_at", l.ExpiresAt))
}

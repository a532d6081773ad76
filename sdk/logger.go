package sdk

import "reflect"

// Logger receives the client's debug and warning logs: a *slog.Logger
// satisfies it, so WithLogger(slog.Default()) works as is. It is an
// interface rather than *slog.Logger so that browser builds, which never
// log by default, do not link log/slog and its default handler (~0.12 MB).
type Logger interface {
	Debug(msg string, args ...any)
	Warn(msg string, args ...any)
}

// discard is the default Logger: the client is silent.
type discard struct{}

func (discard) Debug(string, ...any) {}
func (discard) Warn(string, ...any)  {}

// isNil reports a nil Logger, including a typed nil such as a nil
// *slog.Logger, which would panic on first use.
func isNil(l Logger) bool {
	if l == nil {
		return true
	}
	v := reflect.ValueOf(l)
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return v.IsNil()
	}
	return false
}

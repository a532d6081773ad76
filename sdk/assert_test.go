package sdk_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// require is a small stand-in for testify's require (kept local so the
// module needs no extra go.sum entries): every check stops the test.
var require requireT

type requireT struct{}

func msg(args []any) string {
	if len(args) == 0 {
		return ""
	}
	return " — " + fmt.Sprint(args...)
}

func (requireT) NoError(t testing.TB, err error, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v%s", err, msg(args))
	}
}

func (requireT) Error(t testing.TB, err error, args ...any) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected an error%s", msg(args))
	}
}

func (requireT) ErrorIs(t testing.TB, err, target error, args ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v is not %v%s", err, target, msg(args))
	}
}

func (requireT) NotErrorIs(t testing.TB, err, target error, args ...any) {
	t.Helper()
	if errors.Is(err, target) {
		t.Fatalf("error %v unexpectedly is %v%s", err, target, msg(args))
	}
}

func (requireT) ErrorAs(t testing.TB, err error, target any, args ...any) {
	t.Helper()
	if !errors.As(err, target) {
		t.Fatalf("error %v (%T) is not a %s%s", err, err, reflect.TypeOf(target).Elem(), msg(args))
	}
}

func (requireT) ErrorContains(t testing.TB, err error, sub string, args ...any) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), sub) {
		t.Fatalf("error %v does not contain %q%s", err, sub, msg(args))
	}
}

func (requireT) Contains(t testing.TB, s, sub string, args ...any) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q%s", s, sub, msg(args))
	}
}

func (requireT) NotContains(t testing.TB, s, sub string, args ...any) {
	t.Helper()
	if strings.Contains(s, sub) {
		t.Fatalf("%q contains %q%s", s, sub, msg(args))
	}
}

func (requireT) Equal(t testing.TB, want, got any, args ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("want %#v, got %#v%s", want, got, msg(args))
	}
}

// EqualValues compares numbers across integer types.
func (requireT) EqualValues(t testing.TB, want, got any, args ...any) {
	t.Helper()
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Fatalf("want %v, got %v%s", want, got, msg(args))
	}
}

func (requireT) True(t testing.TB, v bool, args ...any) {
	t.Helper()
	if !v {
		t.Fatalf("expected true%s", msg(args))
	}
}

func (requireT) False(t testing.TB, v bool, args ...any) {
	t.Helper()
	if v {
		t.Fatalf("expected false%s", msg(args))
	}
}

func (requireT) Zero(t testing.TB, v any, args ...any) {
	t.Helper()
	if !reflect.ValueOf(v).IsZero() {
		t.Fatalf("expected zero, got %v%s", v, msg(args))
	}
}

func (requireT) Empty(t testing.TB, v any, args ...any) {
	t.Helper()
	if reflect.ValueOf(v).Len() != 0 {
		t.Fatalf("expected empty, got %v%s", v, msg(args))
	}
}

func (requireT) Len(t testing.TB, v any, n int, args ...any) {
	t.Helper()
	if l := reflect.ValueOf(v).Len(); l != n {
		t.Fatalf("expected length %d, got %d%s", n, l, msg(args))
	}
}

func (requireT) JSONEq(t testing.TB, want, got string, args ...any) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("got is not JSON: %v: %s", err, got)
	}
	if !reflect.DeepEqual(w, g) {
		t.Fatalf("JSON differs:\nwant %s\ngot  %s%s", want, got, msg(args))
	}
}

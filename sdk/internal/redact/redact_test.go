package redact

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPasswordLiteralForms(t *testing.T) {
	for _, in := range []string{
		`PASSWORD = 'pw-secret'`, `password/**/'pw-secret'`, `PASSWORD "pw-secret"`, "PASSWORD\n\t'pw-secret'",
		`Password /* x */ = /* y */ 'pw-secret'`, "PASSWORD -- c\n 'pw-secret'", `PASSWORD E'pw-secret'`,
		`PASSWORD $$pw-secret$$`, `PASSWORD $tag$pw-secret$tag$`, `{"user":"a","password":"pw-secret"}`,
		`{"password" : "pw\"-secret"}`, `PASSWORD 'pw-secret`, `PASSWORD = 'it''s pw-secret'`,
	} {
		out := String(in)
		assert.NotContains(t, out, "secret", in)
		assert.Contains(t, out, Mark, in)
	}
	// Words that merely mention passwords stay readable.
	for _, in := range []string{"Invalid password for user 'alice'", "No field named password_hash = 'x'", "password reset"} {
		assert.Equal(t, in, String(in))
	}
}

func TestSetKeepsPasswordsAndBoundsTokens(t *testing.T) {
	var a, b Set
	a.Keep("the-password")
	b.Keep("the-password")
	for i := 0; i < maxTokens+3; i++ {
		a.Add(fmt.Sprintf("token-%02d", i))
	}
	out := String("the-password token-00 token-10 ab")
	assert.Equal(t, Mark+" token-00 "+Mark+" ab", out, "old tokens are forgotten, the password kept; short strings never match")
	a.Add("ab")
	assert.Equal(t, "ab", String("ab"))
	a.Close()
	assert.Equal(t, Mark, String("the-password"), "b still holds it")
	assert.Equal(t, "token-10", String("token-10"))
	b.Close()
	assert.Equal(t, "the-password", String("the-password"))
	a.Add("after-close")
	assert.Equal(t, "after-close", String("after-close"))
}

func TestKnownSecretJSONEscaped(t *testing.T) {
	var s Set
	defer s.Close()
	s.Keep("quo\"te\\back")
	assert.False(t, strings.Contains(String(`{"p":"quo\"te\\back"}`), "back"))
}

func TestErrorKeepsChain(t *testing.T) {
	var s Set
	defer s.Close()
	s.Keep("opaque-secret-1")
	base := errors.New("closed: reason opaque-secret-1")
	err := Error(fmt.Errorf("wrapped: %w", base))
	assert.NotContains(t, err.Error(), "opaque-secret-1")
	assert.ErrorIs(t, err, base)
	plain := errors.New("nothing to hide")
	assert.Same(t, plain, Error(plain))
	assert.NoError(t, Error(nil))
}

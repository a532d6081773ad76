package redact

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A server may quote a password literal on its own (KalamDB's parser:
// "Expected: end of statement, found: 'secret'"); the values the statement
// carried are found so they can be hidden wherever they appear.
func TestPasswordValues(t *testing.T) {
	sql := `ALTER USER 'a' SET PASSWORD 'it''s-Secret1'; CREATE USER 'b' WITH PASSWORD/**/"Other-Secret2"; x PASSWORD $$Third-Secret3$$ y PASSWORD E'Four-Secret4' PASSWORD 'abc'`
	vals := PasswordValues(sql)
	require.Equal(t, []string{"it's-Secret1", "Other-Secret2", "Third-Secret3", "Four-Secret4"}, vals, "values under 4 bytes are not hidden")
	msg := `ParserError("Expected: end of statement, found: 'it's-Secret1' at Line: 1") and "Other-Secret2"`
	got := Values(msg, vals)
	require.NotContains(t, got, "Secret")
	require.Contains(t, got, "found: '"+Mark+"' at Line: 1")
	require.Nil(t, PasswordValues("SELECT 1"))
}

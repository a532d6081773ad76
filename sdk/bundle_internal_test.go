package sdk

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// leadingInt reads header integers as fmt.Sscanf("%d") did.
func TestLeadingIntMatchesSscanf(t *testing.T) {
	for _, v := range []string{"0", "300", " 12", "\t7", "+5", "-3", "12abc", "1.5", "", " ", "abc", "-", "+",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "0x10", "1_000", "٣"} {
		var want int64
		_, err := fmt.Sscanf(v, "%d", &want)
		got, ok := leadingInt(v)
		require.Equal(t, err == nil, ok, "input %q", v)
		if ok {
			require.Equal(t, want, got, "input %q", v)
		}
	}
}

// quoteEscaper escapes as the strings.Replacer it replaced did.
func TestQuoteEscaperMatchesReplacer(t *testing.T) {
	old := strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "")
	for _, s := range []string{"", "a", `a"b`, `a\b`, "a\r\nb", `\"`, "é\"\\\n", "plain name.txt"} {
		require.Equal(t, old.Replace(s), quoteEscaper.Replace(s), "input %q", s)
	}
}

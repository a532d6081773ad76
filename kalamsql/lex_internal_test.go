package kalamsql

import (
	"database/sql/driver"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlaceholdersSkipLiteralsAndComments(t *testing.T) {
	q := `SELECT '$1', "$2", $1 -- $3
	/* $4 */ FROM t WHERE a = $2 AND b = 'it''s $9'`
	assert.Equal(t, 2, numInput(q))
	got, err := inlineArgs(q, []driver.NamedValue{{Ordinal: 1, Value: "o'k"}, {Ordinal: 2, Value: int64(-5)}})
	require.NoError(t, err)
	assert.Equal(t, `SELECT '$1', "$2", 'o''k' -- $3
	/* $4 */ FROM t WHERE a = -5 AND b = 'it''s $9'`, got)

	for v, want := range map[any]string{
		nil: "NULL", true: "TRUE", 2.0: "2.0", 1e300: "1e+300", "": "''",
		time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC): "'2024-01-02T03:04:05.000006Z'",
	} {
		l, err := literal(v)
		require.NoError(t, err)
		assert.Equal(t, want, l)
	}
	_, err = inlineArgs("SELECT $3", []driver.NamedValue{{Ordinal: 1, Value: int64(1)}})
	assert.ErrorContains(t, err, "uses $3 but only 1 argument(s)")
	_, err = inlineArgs("SELECT $1", nil)
	assert.ErrorContains(t, err, "no arguments")
	_, err = literal([]byte{0xff})
	assert.ErrorContains(t, err, "UTF-8")
	assert.Equal(t, "INSERT", firstKeyword(" -- c\n/* x */ insert into t"))
	assert.Equal(t, "12:00:00.25", formatTimeOfDay(12*time.Hour+250*time.Millisecond))
}

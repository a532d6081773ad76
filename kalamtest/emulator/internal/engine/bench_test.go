package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func benchEngine(b *testing.B) *Engine {
	e := newTestEngine(b, Options{})
	mustExec(b, e, root, `CREATE TABLE app.b (id BIGINT PRIMARY KEY, name TEXT, score DOUBLE, at TIMESTAMP) WITH (TYPE='USER')`)
	return e
}

// BenchmarkInsert is one single-row INSERT with parameters through Execute.
func BenchmarkInsert(b *testing.B) {
	e := benchEngine(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := exec(e, alice, `INSERT INTO app.b (id, name, score, at) VALUES ($1, $2, $3, $4)`,
			int64(i), "name", 1.5, "2024-01-01T00:00:00Z")
		require.Nil(b, err)
	}
}

// BenchmarkSelectByKey is a point SELECT through Execute.
func BenchmarkSelectByKey(b *testing.B) {
	e := benchEngine(b)
	var vals []string
	for i := 0; i < 1000; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'n%d', %d.5, NOW())", i, i, i))
	}
	mustExec(b, e, alice, `INSERT INTO app.b (id, name, score, at) VALUES `+strings.Join(vals, ","))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := exec(e, alice, `SELECT * FROM app.b WHERE id = $1`, int64(i%1000))
		require.Nil(b, err)
	}
}

// BenchmarkSelect50 reads and encodes the default 50-row page.
func BenchmarkSelect50(b *testing.B) {
	e := benchEngine(b)
	var vals []string
	for i := 0; i < 100; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'n%d', %d.5, NOW())", i, i, i))
	}
	mustExec(b, e, alice, `INSERT INTO app.b (id, name, score, at) VALUES `+strings.Join(vals, ","))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := exec(e, alice, `SELECT * FROM app.b`)
		require.Nil(b, err)
		require.Equal(b, 50, res[0].RowCount, fmt.Sprint(err))
	}
}

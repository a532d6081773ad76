package sdk_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

// Issue 9 item 13: a SQL reply that KalamDB could never send (rows of the
// wrong width, a row_count that is not the number of rows sent) matches
// ErrUnexpectedResponse like any other reply that is not KalamDB's.
func TestStructurallyImpossibleRepliesAreUnexpected(t *testing.T) {
	const schema = `"schema":[{"name":"id","data_type":"BigInt","index":0},{"name":"name","data_type":"Text","index":1}]`
	for name, reply := range map[string]string{
		"ragged row, too short": `{"status":"success","results":[{` + schema + `,"rows":[["1","a"],["2"]],"row_count":2,"as_user":"root"}],"took":1}`,
		"ragged row, too long":  `{"status":"success","results":[{` + schema + `,"rows":[["1","a","x"]],"row_count":1,"as_user":"root"}],"took":1}`,
		"row_count too high":    `{"status":"success","results":[{` + schema + `,"rows":[["1","a"]],"row_count":3,"as_user":"root"}],"took":1}`,
		"row_count too low":     `{"status":"success","results":[{` + schema + `,"rows":[["1","a"],["2","b"]],"row_count":1,"as_user":"root"}],"took":1}`,
		"second result ragged":  `{"status":"success","results":[{"row_count":1,"message":"Inserted 1 row(s)","as_user":"root"},{` + schema + `,"rows":[[]],"row_count":1,"as_user":"root"}],"took":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) { writeJSON(w, 200, reply) }
			c, _ := newClient(t, f, basic())
			_, err := c.Query(context.Background(), "SELECT id, name FROM t")
			require.ErrorIs(t, err, sdk.ErrUnexpectedResponse)
			var re *sdk.ResponseError
			require.ErrorAs(t, err, &re)
			require.Equal(t, 200, re.HTTPStatus)
		})
	}

	// A consistent reply still decodes, including a DML count with no rows.
	f := newFake(t)
	f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeJSON(w, 200, `{"status":"success","results":[{"row_count":5,"message":"Updated 5 row(s)","as_user":"root"},{`+schema+`,"rows":[["1","a"]],"row_count":1,"as_user":"root"}],"took":1}`)
	}
	c, _ := newClient(t, f, basic())
	res, err := c.Query(context.Background(), "UPDATE t SET name = 'a'; SELECT id, name FROM t")
	require.NoError(t, err)
	require.Equal(t, 5, res.RowCount)
	require.Len(t, res.Results(), 2)
	require.Len(t, res.Results()[1].Rows(), 1)
}

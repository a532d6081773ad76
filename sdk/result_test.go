package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

// allTypesReply is a streamed SELECT reply with one column of every
// KalamDB type, encoded as the server encodes them (http-api §6.5).
const allTypesReply = `{"status":"success","results":[{"schema":[
 {"name":"id","data_type":"BigInt","index":0,"flags":["nn","pk","uq"]},
 {"name":"flag","data_type":"Boolean","index":1},
 {"name":"small","data_type":"SmallInt","index":2},
 {"name":"num","data_type":"Int","index":3},
 {"name":"ratio","data_type":"Double","index":4},
 {"name":"price","data_type":{"Decimal":{"precision":10,"scale":2}},"index":5},
 {"name":"title","data_type":"Text","index":6},
 {"name":"created","data_type":"Timestamp","index":7},
 {"name":"day","data_type":"Date","index":8},
 {"name":"at","data_type":"Time","index":9},
 {"name":"doc","data_type":"Json","index":10},
 {"name":"blob","data_type":"Bytes","index":11},
 {"name":"uid","data_type":"Uuid","index":12},
 {"name":"vec","data_type":{"Embedding":3},"index":13},
 {"name":"attachment","data_type":"File","index":14},
 {"name":"note","data_type":"Text","index":15},
 {"name":"future","data_type":"Geometry","index":16}
],"rows":[
 ["9007199254740993",true,7,-42,0.25,"200.75","hello \"world\"",1672567200000000,19358,36000000000,"{\"key\": [1,2]}",[104,105,255],"550e8400-e29b-41d4-a716-446655440000",[0.5,-1,2.25],"{\"id\":\"245730161436188672\",\"sub\":\"f0001\",\"name\":\"My Report_v2.PDF\",\"size\":52,\"mime\":\"application/pdf\",\"sha256\":\"abc\"}",null,"x"],
 ["-9223372036854775808",false,0,0,1e300,"-0.01","",0,0,0,"null",[],"00000000-0000-0000-0000-000000000000",[0,0,0],null,"n","y"]
],"row_count":2,"as_user":"alice"}],"took":12.5,"error":null}`

func queryAllTypes(t *testing.T) *sdk.Result {
	t.Helper()
	f := newFake(t)
	f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) { writeJSON(w, 200, allTypesReply) }
	c, _ := newClient(t, f, basic())
	res, err := c.Query(context.Background(), "SELECT * FROM app.all_types")
	require.NoError(t, err)
	return res
}

func TestResultSchemaAndAccessors(t *testing.T) {
	res := queryAllTypes(t)
	require.Equal(t, 2, res.RowCount)
	require.Equal(t, "alice", res.AsUser)
	require.Equal(t, 12500*time.Microsecond, res.Took)
	require.Len(t, res.Results(), 1)
	require.Len(t, res.Columns, 17)
	id := res.Columns[0]
	require.True(t, id.PrimaryKey && id.NotNull && id.Unique, "flags pk/nn/uq")
	require.Equal(t, sdk.KindBigInt, id.Type.Kind)
	require.False(t, res.Columns[1].PrimaryKey)
	price := res.Columns[5].Type
	require.Equal(t, sdk.DataType{Kind: sdk.KindDecimal, Precision: 10, Scale: 2, Name: "Decimal(10,2)"}, price)
	require.Equal(t, sdk.DataType{Kind: sdk.KindEmbedding, Dim: 3, Name: "Embedding(3)"}, res.Columns[13].Type)
	require.Equal(t, sdk.KindUnknown, res.Columns[16].Type.Kind)
	require.Equal(t, "Geometry", res.Columns[16].Type.Name)

	row := res.Rows()[0]
	n, err := row.Int64("ID") // case-insensitive
	require.NoError(t, err)
	require.Equal(t, int64(9007199254740993), n, "2^53+1 must survive exactly")
	b, err := row.Bool("flag")
	require.NoError(t, err)
	require.True(t, b)
	i, err := row.Int("num")
	require.NoError(t, err)
	require.Equal(t, -42, i)
	fl, err := row.Float64("ratio")
	require.NoError(t, err)
	require.Equal(t, 0.25, fl)
	d, err := row.Decimal("price")
	require.NoError(t, err)
	require.Equal(t, "200.75", d.String())
	require.Equal(t, big.NewRat(80300, 400).String(), d.Rat().String())
	s, err := row.String("title")
	require.NoError(t, err)
	require.Equal(t, `hello "world"`, s)
	ts, err := row.Time("created")
	require.NoError(t, err)
	require.Equal(t, time.Date(2023, 1, 1, 10, 0, 0, 0, time.UTC), ts)
	day, err := row.Time("day")
	require.NoError(t, err)
	require.Equal(t, time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), day)
	at, err := row.TimeOfDay("at")
	require.NoError(t, err)
	require.Equal(t, 10*time.Hour, at)
	doc, err := row.JSON("doc")
	require.NoError(t, err)
	require.Equal(t, `{"key": [1,2]}`, string(doc))
	blob, err := row.Bytes("blob")
	require.NoError(t, err)
	require.Equal(t, []byte("hi\xff"), blob)
	u, err := row.UUID("uid")
	require.NoError(t, err)
	require.Equal(t, "550e8400-e29b-41d4-a716-446655440000", u.String())
	vec, err := row.Embedding("vec")
	require.NoError(t, err)
	require.Equal(t, []float32{0.5, -1, 2.25}, vec)
	ref, err := row.File("attachment")
	require.NoError(t, err)
	require.Equal(t, sdk.FileRef{ID: "245730161436188672", Sub: "f0001", Name: "My Report_v2.PDF", Size: 52, Mime: "application/pdf", SHA256: "abc"}, ref)
	null, err := row.IsNull("note")
	require.NoError(t, err)
	require.True(t, null)

	min, err := res.Rows()[1].Int64("id")
	require.NoError(t, err)
	require.Equal(t, int64(-9223372036854775808), min)
}

func TestScanErrorsNameTheColumn(t *testing.T) {
	row := queryAllTypes(t).Rows()[0]
	_, err := row.Int64("title")
	var se *sdk.ScanError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "title", se.Column)
	require.Contains(t, err.Error(), `column "title"`)

	_, err = row.String("note")
	require.ErrorIs(t, err, sdk.ErrNull)
	require.Contains(t, err.Error(), `"note"`)

	var small int8
	require.NoError(t, row.Scan(new(any), new(any), &small, new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any)))
	require.Equal(t, int8(7), small)
	var tooSmall int32
	_, err = row.Int64("nope")
	require.ErrorContains(t, err, `no column "nope"`)
	err = queryAllTypes(t).Rows()[0].Scan(&tooSmall)
	require.ErrorContains(t, err, "1 destinations for 17 columns")

	// int8 cannot hold 2^53+1: overflow is an error, never a wrap-around.
	var i8 int8
	rowErr := row.Scan(&i8, new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any))
	require.ErrorContains(t, rowErr, "overflows int8")
	_, err = row.Uint64("num")
	require.ErrorContains(t, err, "not a non-negative integer")
}

func TestScanIntoVariablesAndNullablePointers(t *testing.T) {
	row := queryAllTypes(t).Rows()[0]
	var (
		id      int64
		flag    bool
		small   int16
		num     int32
		ratio   float32
		price   big.Rat
		title   string
		created time.Time
		day     time.Time
		at      time.Duration
		doc     json.RawMessage
		blob    []byte
		uid     sdk.UUID
		vec     []float32
		att     *sdk.FileRef
		note    *string
		future  any
	)
	note = new(string)
	require.NoError(t, row.Scan(&id, &flag, &small, &num, &ratio, &price, &title, &created, &day, &at, &doc, &blob, &uid, &vec, &att, &note, &future))
	require.Equal(t, int64(9007199254740993), id)
	require.Equal(t, "803/4", price.String())
	require.True(t, att != nil && att.Sub == "f0001")
	require.True(t, note == nil, "NULL into **string sets nil")
	require.Equal(t, "x", future)
}

type message struct {
	ID      int64     `kalam:"id"`
	Title   string    // matched case-insensitively
	Created time.Time `kalam:"created"`
	Price   sdk.Decimal
	Note    *string
	Skipped string `kalam:"-"`
}

func TestScanStructAndCollectRows(t *testing.T) {
	res := queryAllTypes(t)
	msgs, err := sdk.CollectRows[message](res)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	require.Equal(t, int64(9007199254740993), msgs[0].ID)
	require.Equal(t, `hello "world"`, msgs[0].Title)
	require.Equal(t, "-0.01", msgs[1].Price.String())
	require.True(t, msgs[0].Note == nil && msgs[1].Note != nil && *msgs[1].Note == "n")

	type missing struct {
		X string `kalam:"does_not_exist"`
	}
	_, err = sdk.CollectRows[missing](res)
	require.ErrorContains(t, err, `no column "does_not_exist"`)

	type wrong struct {
		Title int
	}
	_, err = sdk.CollectRows[wrong](res)
	require.ErrorContains(t, err, `column "title"`)
	require.Error(t, res.Rows()[0].ScanStruct(message{}), "non-pointer")

	type Base struct{ Title string }
	type withNilEmbedded struct {
		*Base
		ID int64
	}
	var w withNilEmbedded
	require.ErrorContains(t, res.Rows()[0].ScanStruct(&w), "nil pointer")
	w.Base = &Base{}
	require.NoError(t, res.Rows()[0].ScanStruct(&w))
	require.Equal(t, `hello "world"`, w.Title)
	require.False(t, res.MayBeCapped())
}

func TestRowMaps(t *testing.T) {
	res := queryAllTypes(t)
	maps, err := res.Maps()
	require.NoError(t, err)
	m := maps[0]
	require.Equal(t, int64(9007199254740993), m["id"])
	require.Equal(t, true, m["flag"])
	require.Equal(t, int64(7), m["small"])
	require.Equal(t, 0.25, m["ratio"])
	d, _ := sdk.ParseDecimal("200.75")
	require.Equal(t, d, m["price"])
	require.Equal(t, time.Date(2023, 1, 1, 10, 0, 0, 0, time.UTC), m["created"])
	require.Equal(t, 10*time.Hour, m["at"])
	require.Equal(t, json.RawMessage(`{"key": [1,2]}`), m["doc"])
	require.Equal(t, []byte("hi\xff"), m["blob"])
	require.Equal(t, "550e8400-e29b-41d4-a716-446655440000", m["uid"])
	require.Equal(t, []float32{0.5, -1, 2.25}, m["vec"])
	require.Equal(t, nil, m["note"])
	require.Equal(t, "x", m["future"])
	_, isRef := m["attachment"].(sdk.FileRef)
	require.True(t, isRef)
}

func TestMultiStatementResults(t *testing.T) {
	f := newFake(t)
	f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeJSON(w, 200, `{"status":"success","results":[
		 {"schema":[{"name":"n","data_type":"BigInt","index":0}],"rows":[["2"]],"row_count":1,"as_user":"u"},
		 {"row_count":2,"message":"Inserted 2 row(s)","as_user":"u"}],"took":3}`)
	}
	c, _ := newClient(t, f, basic())
	res, err := c.Query(context.Background(), "INSERT INTO t VALUES (1); SELECT COUNT(*) AS n FROM t; INSERT INTO t VALUES (2)")
	require.NoError(t, err)
	require.Len(t, res.Results(), 2)
	n, err := res.Rows()[0].Int64("n")
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	require.Equal(t, "Inserted 2 row(s)", res.Results()[1].Message)
	require.Equal(t, 0, len(res.Results()[1].Rows()))
}

func TestMalformedRowsAreErrors(t *testing.T) {
	cases := map[string]string{
		"row too short": `{"status":"success","results":[{"schema":[{"name":"a","data_type":"Int","index":0},{"name":"b","data_type":"Int","index":1}],"rows":[[1]],"row_count":1,"as_user":"u"}],"took":1}`,
		"row not array": `{"status":"success","results":[{"schema":[{"name":"a","data_type":"Int","index":0}],"rows":[{"a":1}],"row_count":1,"as_user":"u"}],"took":1}`,
		"bad data_type": `{"status":"success","results":[{"schema":[{"name":"a","data_type":[1],"index":0}],"rows":[],"row_count":0,"as_user":"u"}],"took":1}`,
		"bad row_count": `{"status":"success","results":[{"row_count":"x","as_user":"u"}],"took":1}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			f.sql = func(w http.ResponseWriter, r *http.Request, _ []byte) { writeJSON(w, 200, body) }
			c, _ := newClient(t, f, basic())
			_, err := c.Query(context.Background(), "SELECT a FROM t")
			require.Error(t, err)
			var se *sdk.ServerError
			require.False(t, errors.As(err, &se), "a malformed reply is not a server error")
		})
	}
}

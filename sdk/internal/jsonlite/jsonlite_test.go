package jsonlite_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type inner struct {
	Code    string          `json:"code"`
	Details json.RawMessage `json:"details,omitempty"`
	N       int8            `json:"n"`
}

type outer struct {
	Status  string            `json:"status"`
	Results []inner           `json:"results"`
	Took    float64           `json:"took"`
	Count   json.Number       `json:"row_count"`
	Err     json.RawMessage   `json:"error"`
	When    time.Time         `json:"when"`
	Ptr     *inner            `json:"ptr,omitempty"`
	Any     any               `json:"any"`
	Map     map[string]string `json:"map,omitempty"`
	IntMap  map[int]bool      `json:"-"`
	U       uint16            `json:"u"`
	F32     float32           `json:"f32"`
	Bytes   []byte            `json:"bytes"`
	Arr     [2]int            `json:"arr"`
	NoTag   string
	skipped string
}

// targets are fresh values of the shapes the SDK decodes into.
func targets() []func() any {
	return []func() any{
		func() any { return new(outer) },
		func() any { return new(inner) },
		func() any { return new(any) },
		func() any { return new(string) },
		func() any { return new(json.RawMessage) },
		func() any { return new(json.Number) },
		func() any { return new(map[string]json.RawMessage) },
		func() any { return new([]float32) },
		func() any { return new([]int64) },
		func() any { return new(*int) },
		func() any { return new(time.Time) },
		func() any { return new(struct{ A, B int }) },
	}
}

// agree decodes in with both decoders into every target and requires the
// same value and the same error.
func agree(t *testing.T, in []byte) {
	t.Helper()
	for _, mk := range targets() {
		want, got := mk(), mk()
		werr := json.Unmarshal(in, want)
		gerr := jsonlite.Unmarshal(in, got)
		sameErr(t, werr, gerr, "%T from %q", want, in)
		if werr == nil && !(isNaNish(want)) {
			require.Equal(t, want, got, "%T from %q", want, in)
		}
	}
	// UseNumber, as json.Decoder does it (one value, nothing after it).
	var want, got any
	dec := json.NewDecoder(strings.NewReader(string(in)))
	dec.UseNumber()
	werr := dec.Decode(&want)
	if werr == nil && dec.More() || werr == nil && dec.InputOffset() < int64(len(strings.TrimRight(string(in), " \t\r\n"))) {
		return // trailing data: the Decoder reads values one by one
	}
	gerr := jsonlite.UnmarshalUseNumber(in, &got)
	if werr != nil {
		require.Error(t, gerr, "UseNumber from %q", in)
		return
	}
	require.NoError(t, gerr, "UseNumber from %q", in)
	require.Equal(t, want, got, "UseNumber from %q", in)
}

func isNaNish(v any) bool {
	f, ok := v.(*float64)
	return ok && math.IsNaN(*f)
}

func sameErr(t *testing.T, want, got error, msg string, args ...any) {
	t.Helper()
	if want == nil {
		require.NoError(t, got, append([]any{msg}, args...)...)
		return
	}
	require.Error(t, got, append([]any{msg}, args...)...)
	assert.Equal(t, want.Error(), got.Error(), append([]any{msg}, args...)...)
	assert.Equal(t, reflect.TypeOf(want), reflect.TypeOf(got), append([]any{msg}, args...)...)
	if w, ok := want.(*json.UnmarshalTypeError); ok {
		g := got.(*json.UnmarshalTypeError)
		assert.Equal(t, *w, *g, append([]any{msg}, args...)...)
	}
	if w, ok := want.(*json.SyntaxError); ok {
		assert.Equal(t, w.Offset, got.(*json.SyntaxError).Offset, append([]any{msg}, args...)...)
	}
}

var corpus = []string{
	`{"status":"success","results":[{"code":"x","details":{"a":[1,2]},"n":5}],"took":1.5,"row_count":3,"error":null}`,
	`{"STATUS":"ok","Status":"second","results":[],"took":-0,"row_count":"12","when":"2024-01-02T03:04:05.123Z"}`,
	`{"results":[{"n":300}],"took":"x","u":-1,"f32":1e40,"row_count":1.5e3}`,
	`{"results":[{"n":"7"}],"ptr":{"code":"p"},"any":{"k":[true,false,null,1e2,"s"]}}`,
	`{"ptr":null,"any":null,"map":{"a":"b","c":"\u00e9\ud83d\ude00"},"map":null}`,
	`{"bytes":"aGVsbG8=","arr":[1,2,3],"NoTag":"x","notag":"y","skipped":"z"}`,
	`{"bytes":"not base64!","arr":[9]}`,
	`{"row_count":"abc"}`,
	`{"row_count":true}`,
	`{"when":"yesterday"}`,
	`{"when":12}`,
	`{"results":{"code":"x"}}`,
	`{"results":[1]}`,
	`{"status":["a"]}`,
	`{"took":1e999}`,
	`{"u":70000,"took":2}`,
	`"a\u0000b\"\\\/\b\f\n\r\t\ud800x\udc00\ud834\udd1e"`,
	"\"\xff\xfe bad utf8 \xe2\x82\"",
	`[1,2,3]`,
	`[]`,
	`{}`,
	`{"1":true,"-2":false,"x":true}`,
	`{"99999999999999999999":true}`,
	`123`,
	`-0.5e-7`,
	`1e400`,
	`null`,
	`true`,
	` {"a" : [ 1 , { "b" : "c" } ] } `,
	`{"status":"a"`,
	`{"status":"a"}}`,
	`{"status":'a'}`,
	``,
	`   `,
	`nul`,
	`[1,2,]`,
	`{"A":1,"b":2,"a":3}`,
	`{"\u0073tatus":"escaped key","K":1,"\u212a":2}`,
}

func TestUnmarshalAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range corpus {
		agree(t, []byte(in))
	}
}

func TestUnmarshalRejectsNonPointers(t *testing.T) {
	for _, target := range []any{"a string, not a pointer", nil, (*string)(nil)} {
		sameErr(t, json.Unmarshal([]byte(`"x"`), target), jsonlite.Unmarshal([]byte(`"x"`), target), "%#v", target)
	}
}

// Types outside the subset are refused, never decoded differently.
func TestUnsupportedTypesAreRefused(t *testing.T) {
	type embedded struct{ inner }
	type quoted struct {
		N int `json:"n,string"`
	}
	type escapedTag struct {
		N int `json:"n\\x"`
	}
	for _, v := range []any{new(map[int]bool), new(embedded), new(quoted), new(escapedTag)} {
		require.ErrorContains(t, jsonlite.Unmarshal([]byte(`{"1":true,"n":"2","code":"c"}`), v), "unsupported Go type", "%T", v)
	}
	_, err := jsonlite.Marshal(map[int]bool{1: true})
	require.ErrorContains(t, err, "unsupported Go type")
}

func FuzzUnmarshalAgrees(f *testing.F) {
	for _, in := range corpus {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { agree(t, in) })
}

type request struct {
	SQL       string          `json:"sql"`
	Params    json.RawMessage `json:"params,omitempty"`
	Namespace string          `json:"namespace_id,omitempty"`
	Seq       *int64          `json:"seq,omitempty"`
	Batch     uint32          `json:"batch_size,omitempty"`
	Flag      bool            `json:"flag"`
	Rate      float64         `json:"rate"`
	Small     float32         `json:"small"`
	Tags      []string        `json:"tags"`
	Opts      map[string]any  `json:"opts,omitempty"`
	When      time.Time       `json:"when"`
	Num       json.Number     `json:"num,omitempty"`
	Raw       []byte          `json:"raw,omitempty"`
	Inner     *inner          `json:"inner"`
}

func TestMarshalAgreesWithEncodingJSON(t *testing.T) {
	seq := int64(-42)
	for _, v := range []any{
		request{},
		request{SQL: "SELECT '<a>' & \"b\" \u2028 \x01 \xff", Params: json.RawMessage(` [ 1, "<" ] `), Namespace: "ns", Seq: &seq,
			Batch: 7, Flag: true, Rate: 1e21, Small: 1e-7, Tags: []string{}, Opts: map[string]any{"b": 1, "a": []any{nil, 2.5}},
			When: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC), Num: "12.5e3", Raw: []byte("hi"), Inner: &inner{Code: "c", N: -1}},
		&request{Rate: 0.000001, Small: 123456789},
		map[string]string{"user": "root", "password": "p\"w<>"},
		"plain", "é\u2029", 3.0, -0.0, 1e-7, float32(3.4e38), []int{1, 2}, []any{}, nil,
		struct {
			A json.RawMessage `json:"a"`
		}{},
	} {
		want, werr := json.Marshal(v)
		got, gerr := jsonlite.Marshal(v)
		sameErr(t, werr, gerr, "%#v", v)
		require.Equal(t, string(want), string(got), "%#v", v)
	}
	for _, v := range []any{math.NaN(), math.Inf(1), json.Number("x1"), request{Params: json.RawMessage(`{bad`)}, make(chan int)} {
		_, werr := json.Marshal(v)
		_, gerr := jsonlite.Marshal(v)
		require.Error(t, werr)
		require.Error(t, gerr)
		require.Equal(t, werr.Error(), gerr.Error())
	}
}

func FuzzAppendStringAgrees(f *testing.F) {
	f.Add("plain")
	f.Add("<&>\u2028\u2029\x00\x1f\x7f\"\\ é \xff\xe2\x82")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(jsonlite.AppendString(nil, s)))
	})
}

func TestAppendRawIsJSONMarshalOfRawMessage(t *testing.T) {
	for _, raw := range []string{`1`, `"a"`, ` [ 1 , "<&>" ] `, "\"\u2028\"", `{"a":{"b":null}}`, `"é"`, `{bad`} {
		want, werr := json.Marshal(json.RawMessage(raw))
		got, gerr := jsonlite.AppendRaw([]byte("x"), []byte(raw))
		sameErr(t, werr, gerr, "%q", raw)
		if werr == nil {
			require.Equal(t, "x"+string(want), string(got), "%q", raw)
		}
	}
}

// timeCorpus: RFC 3339 times as time.Time.UnmarshalJSON takes them
// (Parse's looser forms included) and as it refuses them.
var timeCorpus = []string{
	"2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123456789Z", "2024-01-02T03:04:05.1234567891234Z",
	"2024-01-02T03:04:05,5Z", "2024-01-02T3:04:05Z", "2024-01-02T03:04:05+02:00", "2024-01-02T03:04:05-07:30",
	"2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05-00:00", "2024-01-02T03:04:05+24:00", "2024-01-02T03:04:05+25:00",
	"2024-01-02T03:04:05+23:60", "2024-01-02T03:04:05+23:61", "2024-01-02T03:04:05+99:99", "2024-01-02T03:04:05*02:00",
	"2024-01-02T03:04:05+0a:00", "2024-01-02T03:04:05+02:0a", "2024-01-02T03:04:05+02-00", "2024-01-02T03:04:05+02:00x",
	"2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "0000-01-01T00:00:00Z",
	"9999-12-31T23:59:59.999999999+14:00", "2024-04-31T00:00:00Z", "2024-00-01T00:00:00Z", "2024-13-01T00:00:00Z",
	"2024-01-00T00:00:00Z", "2024-01-32T00:00:00Z", "2024-01-02T24:00:00Z", "2024-01-02T23:60:00Z", "2024-01-02T23:59:60Z",
	"2024-01-02T03:04:05", "2024-01-02T03:04:05.Z", "2024-01-02T03:04:05.", "2024-01-02t03:04:05z", "2024-01-02 03:04:05Z",
	"2024-1-02T03:04:05Z", "24-01-02T03:04:05Z", "+2024-01-02T03:04:05Z", "2024-01-02T03:04Z", "2024-01-02T03:4:05Z",
	"2024-01-02T03:04:5Z", "2024-01-02T:04:05Z", "2024-01-02TZ", "2024", "2024-", "2024-01", "2024-01-02", "2024-01-02T",
	"2024-01-02T03", "2024-01-02T03:", "2024-01-02T03:04:", "yesterday", "", "Z", "2024-01-02T03:04:05Zé\"\\\x01\xff",
	"2024-01-02T03:04:05Z\xef\xbf\xbd", "2024-01-02T03:04:05Z\u2028", `2024-01-02T03:04:05\u005a`, "2024-01-02T03:04:05+01:00:00",
}

// The time.Time parser gives time.Time.UnmarshalJSON's times (location
// included) and errors, as JSON strings and as other JSON values.
func TestTimeAgreesWithUnmarshalJSON(t *testing.T) {
	for _, loc := range []*time.Location{time.UTC, time.FixedZone("CET", 3600)} {
		saved := time.Local
		time.Local = loc
		for _, s := range timeCorpus {
			agreeTime(t, []byte(strings.ReplaceAll(strings.ReplaceAll(`"`+s+`"`, `\`, `\\`), "\x01", `\u0001`)))
		}
		for _, in := range []string{`null`, `12`, `true`, `{"a":1}`, `["2024-01-02T03:04:05Z"]`, `"\u0032024-01-02T03:04:05Z"`} {
			agreeTime(t, []byte(in))
		}
		time.Local = saved
	}
}

func agreeTime(t *testing.T, in []byte) {
	t.Helper()
	prev := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	want, got := prev, prev
	werr := json.Unmarshal(in, &want)
	gerr := jsonlite.Unmarshal(in, &got)
	sameErr(t, werr, gerr, "%s", in)
	if werr != nil {
		var wp, gp *time.ParseError
		if errors.As(werr, &wp) {
			require.ErrorAs(t, gerr, &gp, "%s", in)
			require.Equal(t, *wp, *gp, "%s", in)
		}
		return
	}
	require.Equal(t, want, got, "%s", in)
	// The same *time.Location too, where encoding/json gives the same
	// one each time (UTC, Local, FixedZone's whole hours).
	again := prev
	require.NoError(t, json.Unmarshal(in, &again))
	if again == want {
		require.True(t, want == got, "%s: same location pointer", in)
	}
}

func FuzzTimeAgrees(f *testing.F) {
	for _, s := range timeCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in, err := json.Marshal(s)
		require.NoError(t, err)
		agreeTime(t, in)
		agreeTime(t, []byte(`"`+s+`"`)) // raw, escapes and all, when valid JSON
	})
}

// json.RawMessage keeps the raw value, null included, at any depth.
func TestRawMessageAgrees(t *testing.T) {
	type holder struct {
		R  json.RawMessage            `json:"r"`
		P  *json.RawMessage           `json:"p"`
		M  map[string]json.RawMessage `json:"m"`
		S  []json.RawMessage          `json:"s"`
		RP *json.RawMessage           `json:"rp"`
	}
	for _, in := range []string{
		`{"r":null,"p":null,"m":{"a":null,"b":[1, 2 ],"c":"x\u00e9"},"s":[null,{ "k" : true },-1.5e3]}`,
		`{"r": { "a" : [ 1 ] } ,"p":"s","rp":12}`, `{"r":"\ud800","s":[]}`, `{"r":1,"s":null}`, `{"r":1,"r":2}`,
	} {
		want, got := holder{R: json.RawMessage("old"), S: []json.RawMessage{json.RawMessage("x")}}, holder{R: json.RawMessage("old"), S: []json.RawMessage{json.RawMessage("x")}}
		require.NoError(t, json.Unmarshal([]byte(in), &want), in)
		require.NoError(t, jsonlite.Unmarshal([]byte(in), &got), in)
		require.Equal(t, want, got, in)
	}
}

type withUnmarshalJSON struct{ n int }

func (w *withUnmarshalJSON) UnmarshalJSON([]byte) error { w.n = 1; return nil }

type withUnmarshalText struct{ n int }

func (w *withUnmarshalText) UnmarshalText([]byte) error { w.n = 1; return nil }

type withLite struct{ got string }

func (w *withLite) UnmarshalJSONLite(b []byte) error { w.got = string(b); return nil }

// A json.Unmarshaler or encoding.TextUnmarshaler jsonlite cannot call is
// refused wherever encoding/json would call it; a jsonlite.Unmarshaler
// gets the raw value.
func TestUnmarshalersOutsideTheSubsetAreRefused(t *testing.T) {
	for _, in := range []string{`1`, `"x"`, `{"a":1}`, `[1]`} {
		require.ErrorContains(t, jsonlite.Unmarshal([]byte(in), new(withUnmarshalJSON)), "unsupported Go type", in)
		require.ErrorContains(t, jsonlite.Unmarshal([]byte(in), new(withUnmarshalText)), "unsupported Go type", in)
		var l struct {
			L withLite  `json:"l"`
			P *withLite `json:"p"`
		}
		require.NoError(t, jsonlite.Unmarshal([]byte(`{"l": `+in+`,"p":`+in+`}`), &l), in)
		require.Equal(t, in, l.L.got)
		require.Equal(t, in, l.P.got)
	}
	// null into a pointer sets it to nil, as encoding/json does, with no
	// method called.
	var p struct{ P *withUnmarshalJSON }
	p.P = new(withUnmarshalJSON)
	require.NoError(t, jsonlite.Unmarshal([]byte(`{"P":null}`), &p))
	require.Nil(t, p.P)
}

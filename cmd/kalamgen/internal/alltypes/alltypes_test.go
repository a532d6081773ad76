package alltypes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/cmd/kalamgen/internal/alltypes"
	"github.com/kalamstack/kalam-go/kalamgen"
	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/kalamtest/emulator"
	"github.com/kalamstack/kalam-go/sdk"
)

// setup starts the KalamDB the environment names (kalamtest.Start: the
// emulator by default) with the schema the package was generated from.
func setup(t *testing.T, opts ...kalamtest.ServerOption) *sdk.Client {
	t.Helper()
	srv := kalamtest.Start(t, opts...)
	if srv.Target == kalamtest.TargetURL {
		t.Skip("needs a fresh server; an external KALAMDB_URL runs the conformance suite only")
	}
	c, err := sdk.New(srv.URL, sdk.WithBasicAuth(srv.RootUser, srv.RootPassword))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	ddl, err := os.ReadFile("../../testdata/alltypes.sql")
	require.NoError(t, err)
	_, err = c.Query(context.Background(), string(ddl))
	require.NoError(t, err)
	return c
}

func ptr[T any](v T) *T { return &v }

func TestInsertGetEveryType(t *testing.T) {
	c := setup(t)
	ctx := context.Background()
	price, err := sdk.ParseDecimal("1234.50")
	require.NoError(t, err)
	uuid, err := sdk.ParseUUID("0190f6a8-5c3e-7b4a-9f1e-2d3c4b5a6978")
	require.NoError(t, err)
	ts := time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)
	doc := json.RawMessage(`{"tags":["a","b"]}`)
	full := alltypes.AllTypes{
		ID: 9007199254740993, Flag: true, Small: ptr[int16](-3), Num: ptr[int32](7), Big: ptr[int64](-9007199254740993),
		Ratio: ptr[float32](0.5), Score: ptr(2.25), Price: &price, Title: "all", Payload: ptr([]byte("raw")),
		Doc: &doc, CreatedAt: &ts, SeenAt: &ts, Birthday: ptr(time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC)),
		Alarm: ptr(7*time.Hour + 30*time.Minute + 5*time.Millisecond), ExtID: &uuid, Vec: ptr([]float32{0.25, -1, 3}),
	}
	require.NoError(t, alltypes.InsertAllTypes(ctx, c, &full))
	got, err := alltypes.GetAllTypes(ctx, c, full.ID)
	require.NoError(t, err)
	assert.JSONEq(t, string(doc), string(*got.Doc))
	got.Doc = &doc
	assert.Equal(t, full, *got)

	// Nil fields are left out: NULL, or the server default (created_at NOW()).
	require.NoError(t, alltypes.InsertAllTypes(ctx, c, &alltypes.AllTypes{ID: 2, Title: "sparse"}))
	sparse, err := alltypes.GetAllTypes(ctx, c, 2)
	require.NoError(t, err)
	assert.Nil(t, sparse.Price)
	assert.Nil(t, sparse.Vec)
	require.NotNil(t, sparse.CreatedAt, "the DEFAULT NOW() applied")

	_, err = alltypes.GetAllTypes(ctx, c, 404)
	assert.ErrorIs(t, err, sdk.ErrNotFound)

	// A STREAM table whose key has a server default (ULID()).
	require.NoError(t, alltypes.InsertEvents(ctx, c, &alltypes.Events{Kind: "login"}))
	events, err := alltypes.ListEvents(ctx, c, 0)
	require.NoError(t, err)
	require.Len(t, events, 1)
	assert.Equal(t, "login", events[0].Kind)
	require.NotNil(t, events[0].EventID)
	assert.NotEmpty(t, *events[0].EventID)
}

func TestListPagesPastTheRowCap(t *testing.T) {
	// A server configured with small caps: List must still see every row.
	c := setup(t, kalamtest.WithEmulatorOptions(func(o *emulator.Options) {
		o.DefaultQueryLimit, o.MaxQueryLimit = 5, 20
	}))
	ctx := context.Background()
	var values []string
	for i := range 45 {
		values = append(values, fmt.Sprintf("('sku-%02d', 'item %d', %d)", i, i, i))
	}
	_, err := c.Query(ctx, "INSERT INTO app.products (sku, name, stock) VALUES "+strings.Join(values, ", "))
	require.NoError(t, err)

	all, err := alltypes.ListProducts(ctx, c, 0)
	require.NoError(t, err)
	require.Len(t, all, 45)
	for i, p := range all {
		assert.Equal(t, fmt.Sprintf("sku-%02d", i), p.Sku, "ordered by primary key, nothing repeated")
	}
	some, err := alltypes.ListProducts(ctx, c, 27)
	require.NoError(t, err)
	assert.Len(t, some, 27)
}

func TestSubscribeAndLiveRowsAreTyped(t *testing.T) {
	c := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, alltypes.InsertProducts(ctx, c, &alltypes.Products{Sku: "a", Name: "apple", Stock: 1}))

	sub, err := alltypes.SubscribeProducts(ctx, c, "stock >= 0")
	require.NoError(t, err)
	defer sub.Close()
	ch, err := sub.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, kalamgen.Initial, ch.Kind)
	assert.True(t, ch.Ready)
	assert.Equal(t, []alltypes.Products{{Sku: "a", Name: "apple", Stock: 1}}, ch.Rows)

	live, err := alltypes.LiveProducts(ctx, c, "")
	require.NoError(t, err)
	defer live.Close()
	rows, err := live.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, []alltypes.Products{{Sku: "a", Name: "apple", Stock: 1}}, rows)

	require.NoError(t, alltypes.InsertProducts(ctx, c, &alltypes.Products{Sku: "b", Name: "banana", Stock: 2}))
	ch, err = sub.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, kalamgen.Inserted, ch.Kind)
	assert.Equal(t, []alltypes.Products{{Sku: "b", Name: "banana", Stock: 2}}, ch.Rows)
	rows, err = live.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, []alltypes.Products{{Sku: "a", Name: "apple", Stock: 1}, {Sku: "b", Name: "banana", Stock: 2}}, rows)

	_, err = c.Query(ctx, "UPDATE app.products SET stock = 5 WHERE sku = 'b'")
	require.NoError(t, err)
	ch, err = sub.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, kalamgen.Updated, ch.Kind)
	assert.Equal(t, []string{"stock"}, ch.Changed)
	assert.Equal(t, []alltypes.Products{{Sku: "b", Name: "banana", Stock: 5}}, ch.Rows)

	_, err = c.Query(ctx, "DELETE FROM app.products WHERE sku = 'a'")
	require.NoError(t, err)
	ch, err = sub.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, kalamgen.Deleted, ch.Kind)
	require.Len(t, ch.Rows, 1)
	assert.Equal(t, "a", ch.Rows[0].Sku)
}

package kalamsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/kalamstack/kalam-go/sdk"
)

// DriverName is the name the driver registers under.
const DriverName = "kalamdb"

func init() { sql.Register(DriverName, &Driver{}) }

// Driver is the database/sql driver. Use it through sql.Open("kalamdb", dsn).
type Driver struct{}

// Open returns a connection for dsn. database/sql prefers OpenConnector, so
// this is called only by code that drives the Driver by hand.
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

// OpenConnector parses dsn once and builds the SDK client all connections
// of the pool share.
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	c, err := NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Connector makes connections that share one *sdk.Client. KalamDB's SQL API
// is stateless HTTP, so a "connection" holds no server state: it is a queue
// for an open transaction and nothing else.
type Connector struct {
	client    *sdk.Client
	owned     bool // close the client with the connector
	namespace string
}

// Option configures OpenDB.
type Option func(*Connector)

// WithNamespace sets the namespace unqualified table names resolve in.
func WithNamespace(ns string) Option { return func(c *Connector) { c.namespace = ns } }

// NewConnector parses dsn (see ParseDSN) and returns a connector for
// sql.OpenDB; sdkOpts are added to the client's options (WithTransport,
// WithLogger, ...). Closing the *sql.DB closes the client.
func NewConnector(dsn string, sdkOpts ...sdk.Option) (*Connector, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	opts := []sdk.Option{}
	if cfg.Token != "" {
		opts = append(opts, sdk.WithToken(cfg.Token))
	} else {
		opts = append(opts, sdk.WithBasicAuth(cfg.User, cfg.Password))
	}
	if cfg.Timeout > 0 {
		opts = append(opts, sdk.WithTimeout(cfg.Timeout))
	}
	if len(cfg.Endpoints) > 0 {
		opts = append(opts, sdk.WithEndpoints(cfg.Endpoints...))
	}
	client, err := sdk.New(cfg.URL, append(opts, sdkOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("kalamsql: %w", err)
	}
	return &Connector{client: client, owned: true, namespace: cfg.Namespace}, nil
}

// OpenDB returns a *sql.DB over an existing client, with its auth and
// transport. Closing the *sql.DB leaves the client open.
func OpenDB(client *sdk.Client, opts ...Option) *sql.DB {
	c := &Connector{client: client}
	for _, o := range opts {
		o(c)
	}
	return sql.OpenDB(c)
}

// Connect returns a new connection; it sends nothing (the first statement
// logs in if needed).
func (c *Connector) Connect(context.Context) (driver.Conn, error) {
	return &conn{c: c}, nil
}

// Driver returns the kalamdb driver.
func (c *Connector) Driver() driver.Driver { return &Driver{} }

// Client returns the SDK client the connector's connections use, e.g. for
// subscriptions or file downloads next to database/sql.
func (c *Connector) Client() *sdk.Client { return c.client }

// Close closes the client if the connector created it (database/sql calls
// this from DB.Close).
func (c *Connector) Close() error {
	if c.owned {
		return c.client.Close()
	}
	return nil
}

// ResultInfo receives what database/sql has no place for: the SDK's whole
// result, with the row-cap hint. Attach it with WithResultInfo.
type ResultInfo struct {
	// Result is the reply of the last statement run with the context
	// (for a transaction: of Commit, when the context is BeginTx's).
	Result *sdk.Result
}

// MayBeCapped reports whether any row-returning statement came back with
// exactly 50 (no LIMIT) or 1000 (the server maximum) rows, so the server may
// have cut it: add LIMIT and page with OFFSET or a key.
func (i *ResultInfo) MayBeCapped() bool {
	if i == nil || i.Result == nil {
		return false
	}
	for _, r := range i.Result.Results() {
		if r.MayBeCapped() {
			return true
		}
	}
	return false
}

type infoKey struct{}

// WithResultInfo returns a context whose queries store their SDK result
// in info.
func WithResultInfo(ctx context.Context, info *ResultInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

func recordInfo(ctx context.Context, res *sdk.Result) {
	if info, ok := ctx.Value(infoKey{}).(*ResultInfo); ok && info != nil {
		info.Result = res
	}
}

// Command kalamgen generates typed Go code from KalamDB schemas: a struct per
// table with `kalam:"col"` tags and exact Go types, table and column name
// constants, and typed Insert, Get, List, Subscribe and Live helpers (see
// package github.com/kalamstack/kalam-go/kalamgen).
//
// The schema comes from DDL files applied to an in-process KalamDB emulator
// (no server needed), or from a running server's system tables:
//
//	//go:generate go run github.com/kalamstack/kalam-go/cmd/kalamgen -schema schema.sql -o . -package store
//	kalamgen -url http://root:password@127.0.0.1:8080 -namespace app -o store
//
// One gofmt'ed file per namespace, <namespace>_kalam.go, is written to the
// -o directory (or to -o itself when it names a .go file and there is one
// namespace). The output has no timestamps, so it changes only when the
// schema does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"go/token"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kalamstack/kalam-go/kalamsql"
	"github.com/kalamstack/kalam-go/sdk"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "kalamgen: "+oneLine(err.Error()))
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("kalamgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	schema := fs.String("schema", "", "DDL `files or directories` (comma-separated) applied to an in-process emulator")
	srvURL := fs.String("url", "", "a running server, `http://user:password@host:port` or http://host:port/?token=JWT (needs a dba or system user; a missing password is read from $KALAMDB_PASSWORD)")
	namespace := fs.String("namespace", "", "generate only this `namespace`")
	tablesFlag := fs.String("tables", "", "generate only these `tables` (comma-separated, name or namespace.name)")
	out := fs.String("o", ".", "output `directory`, or a .go file for a single namespace")
	pkg := fs.String("package", "", "package `name` (default: the output directory's name)")
	sysCols := fs.Bool("system-columns", false, "include the hidden system columns _seq and _deleted")
	timeout := fs.Duration("timeout", 30*time.Second, "bound on reading the schema")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (flags go before them; see -h)", fs.Args())
	}
	if (*schema == "") == (*srvURL == "") {
		return errors.New("give exactly one of -schema (DDL files) or -url (a running server)")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	var (
		tables []table
		source string
		err    error
	)
	if *schema != "" {
		paths := strings.Split(*schema, ",")
		tables, err = schemaFromDDL(ctx, paths, *namespace)
		source = strings.Join(paths, ", ")
	} else {
		tables, source, err = schemaFromServer(ctx, *srvURL, *namespace)
	}
	if err != nil {
		return err
	}
	tables, err = filterTables(tables, *tablesFlag)
	if err != nil {
		return err
	}
	if len(tables) == 0 {
		return errors.New("no tables found (check -namespace and -tables)")
	}

	byNS := map[string][]table{}
	for _, t := range tables {
		byNS[t.Namespace] = append(byNS[t.Namespace], t)
	}
	var nss []string
	for ns := range byNS {
		nss = append(nss, ns)
	}
	sort.Strings(nss)

	dir, file := *out, ""
	if strings.HasSuffix(*out, ".go") {
		if len(nss) > 1 {
			return fmt.Errorf("-o %s names one file but the schema has %d namespaces (%s); give a directory", *out, len(nss), strings.Join(nss, ", "))
		}
		dir, file = filepath.Dir(*out), filepath.Base(*out)
	}
	name := *pkg
	if name == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		name = strings.ToLower(strings.NewReplacer("-", "", ".", "").Replace(filepath.Base(abs)))
	}
	if !token.IsIdentifier(name) || token.IsKeyword(name) {
		return fmt.Errorf("package name %q is not a Go identifier; set -package", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := genConfig{Package: name, Source: source, SystemColumns: *sysCols, PrefixNS: len(nss) > 1}
	used := map[string]string{}
	for _, ns := range nss {
		code, err := generate(cfg, ns, byNS[ns], used)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, ns+"_kalam.go")
		if file != "" {
			path = filepath.Join(dir, file)
		}
		if err := os.WriteFile(path, code, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// schemaFromServer reads the schema of a running server. The source named
// in the generated header is the URL without credentials.
func schemaFromServer(ctx context.Context, raw, namespace string) ([]table, string, error) {
	cfg, err := kalamsql.ParseDSN(raw)
	if err != nil {
		return nil, "", fmt.Errorf("-url: %s", strings.TrimPrefix(err.Error(), "kalamsql: "))
	}
	if cfg.User != "" && cfg.Password == "" {
		cfg.Password = os.Getenv("KALAMDB_PASSWORD") // keeps secrets out of go:generate lines
	}
	opts := []sdk.Option{sdk.WithMaxRetries(1)}
	if cfg.Token != "" {
		opts = append(opts, sdk.WithToken(cfg.Token))
	} else {
		opts = append(opts, sdk.WithBasicAuth(cfg.User, cfg.Password))
	}
	c, err := sdk.New(cfg.URL, opts...)
	if err != nil {
		return nil, "", err
	}
	defer c.Close()
	if namespace == "" {
		namespace = cfg.Namespace
	}
	tables, err := readSchema(ctx, c, namespace)
	if err != nil {
		var te *sdk.TransportError
		if errors.As(err, &te) {
			return nil, "", fmt.Errorf("cannot reach KalamDB at %s: %v", cfg.URL, te.Err)
		}
		return nil, "", fmt.Errorf("%s: %w", cfg.URL, err)
	}
	u, _ := url.Parse(cfg.URL)
	return tables, u.Host, nil
}

func filterTables(tables []table, list string) ([]table, error) {
	if list == "" {
		return tables, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			want[n] = false
		}
	}
	var out []table
	for _, t := range tables {
		full := t.Namespace + "." + t.Name
		for _, key := range []string{t.Name, full} {
			if _, ok := want[key]; ok {
				want[key] = true
				out = append(out, t)
				break
			}
		}
	}
	var missing []string
	for n, seen := range want {
		if !seen {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("-tables: no such table(s): %s", strings.Join(missing, ", "))
	}
	return out, nil
}

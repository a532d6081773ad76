package main

import (
	"bytes"
	"fmt"
	"go/format"
	"sort"
	"strings"
	"unicode"
)

// typeInfo maps a KalamDataType name to its SQL name, sdk.Kind constant and
// exact Go type.
var typeInfo = map[string]struct{ sql, kind, goType string }{
	"Boolean":   {"BOOLEAN", "KindBoolean", "bool"},
	"SmallInt":  {"SMALLINT", "KindSmallInt", "int16"},
	"Int":       {"INT", "KindInt", "int32"},
	"BigInt":    {"BIGINT", "KindBigInt", "int64"},
	"Float":     {"FLOAT", "KindFloat", "float32"},
	"Double":    {"DOUBLE", "KindDouble", "float64"},
	"Decimal":   {"DECIMAL", "KindDecimal", "sdk.Decimal"},
	"Text":      {"TEXT", "KindText", "string"},
	"Bytes":     {"BYTES", "KindBytes", "[]byte"},
	"Json":      {"JSON", "KindJSON", "json.RawMessage"},
	"Timestamp": {"TIMESTAMP", "KindTimestamp", "time.Time"},
	"DateTime":  {"DATETIME", "KindDateTime", "time.Time"},
	"Date":      {"DATE", "KindDate", "time.Time"},
	"Time":      {"TIME", "KindTime", "time.Duration"},
	"Uuid":      {"UUID", "KindUUID", "sdk.UUID"},
	"Embedding": {"EMBEDDING", "KindEmbedding", "[]float32"},
	"File":      {"FILE", "KindFile", "sdk.FileRef"},
}

func (d dataType) info() (sqlName, kind, goType string) {
	ti, ok := typeInfo[d.Name]
	if !ok { // a type newer than this generator: keep the cell exactly
		return strings.ToUpper(d.Name), "KindUnknown", "json.RawMessage"
	}
	switch d.Name {
	case "Decimal":
		return fmt.Sprintf("DECIMAL(%d,%d)", d.Precision, d.Scale), ti.kind, ti.goType
	case "Embedding":
		return fmt.Sprintf("EMBEDDING(%d)", d.Dim), ti.kind, ti.goType
	}
	return ti.sql, ti.kind, ti.goType
}

// goType is the field type: a pointer when the column may be NULL or has a
// server default (nil leaves the column out of Insert).
func (c column) goType() string {
	_, _, t := c.Type.info()
	if c.Nullable || c.HasDefault {
		return "*" + t
	}
	return t
}

var initialisms = map[string]string{"id": "ID", "url": "URL", "uuid": "UUID", "json": "JSON", "http": "HTTP",
	"api": "API", "ip": "IP", "sql": "SQL", "ttl": "TTL", "uid": "UID", "uri": "URI", "html": "HTML", "ms": "MS"}

// goName turns snake_case into an exported Go identifier.
func goName(s string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		if up, ok := initialisms[strings.ToLower(part)]; ok {
			b.WriteString(up)
			continue
		}
		rs := []rune(part)
		rs[0] = unicode.ToUpper(rs[0])
		b.WriteString(string(rs))
	}
	out := b.String()
	if out == "" || unicode.IsDigit([]rune(out)[0]) {
		out = "X" + out
	}
	return out
}

type genConfig struct {
	Package       string
	Source        string // for the header; never holds credentials
	SystemColumns bool
	PrefixNS      bool // several namespaces share the package
}

// generate renders the tables of one namespace as a gofmt'ed Go file.
func generate(cfg genConfig, ns string, tables []table, used map[string]string) ([]byte, error) {
	var b bytes.Buffer
	imports := map[string]bool{"context": true, "github.com/kalamstack/kalam-go/kalamgen": true, "github.com/kalamstack/kalam-go/sdk": true}
	var body bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&body, format, args...) }
	claim := func(ident, what string) error {
		if prev, ok := used[ident]; ok {
			return fmt.Errorf("generated name %s would be declared for both %s and %s; rename a table or column, or generate the namespaces into separate packages", ident, prev, what)
		}
		used[ident] = what
		return nil
	}
	nsConst := "Namespace" + goName(ns)
	if err := claim(nsConst, "namespace "+ns); err != nil {
		return nil, err
	}
	w("// %s is the namespace %q.\nconst %s = %q\n\n", nsConst, ns, nsConst, ns)

	for _, t := range tables {
		typ := goName(t.Name)
		if cfg.PrefixNS {
			typ = goName(ns) + typ
		}
		qn := t.Namespace + "." + t.Name
		cols := t.Columns
		if cfg.SystemColumns {
			cols = append(append([]column(nil), cols...),
				column{Name: "_seq", Type: dataType{Name: "BigInt"}},
				column{Name: "_deleted", Type: dataType{Name: "Boolean"}})
		}
		for _, id := range []string{typ, "Table" + typ, typ + "Def", "Insert" + typ, "Get" + typ, "List" + typ, "Subscribe" + typ, "Live" + typ} {
			if err := claim(id, "table "+qn); err != nil {
				return nil, err
			}
		}
		var pk *column
		for i := range cols {
			if cols[i].PK {
				pk = &cols[i]
			}
		}

		w("// %s is a row of %s, a %s table.\ntype %s struct {\n", typ, qn, strings.ToUpper(t.Type), typ)
		fields := map[string]bool{}
		for _, c := range cols {
			f := goName(c.Name)
			if c.Name == "_seq" {
				f = "Seq"
			} else if c.Name == "_deleted" {
				f = "Deleted"
			}
			if fields[f] {
				return nil, fmt.Errorf("table %s: columns map to the same Go field %s", qn, f)
			}
			fields[f] = true
			sqlName, _, goT := c.Type.info()
			if strings.Contains(goT, "json.") {
				imports["encoding/json"] = true
			}
			if strings.Contains(goT, "time.") {
				imports["time"] = true
			}
			w("\t// %s is %s %s%s.\n\t%s %s `kalam:%q`\n", f, c.Name, sqlName, columnNote(c), f, c.goType(), c.Name)
		}
		w("}\n\n")

		w("// Table and column names of %s.\nconst (\n\tTable%s = %q\n", qn, typ, qn)
		for _, c := range cols {
			id := "Col" + typ + goName(c.Name)
			if c.Name == "_seq" || c.Name == "_deleted" {
				id = "Col" + typ + goName(strings.TrimPrefix(c.Name, "_"))
			}
			if err := claim(id, "column "+qn+"."+c.Name); err != nil {
				return nil, err
			}
			w("\t%s = %q\n", id, c.Name)
		}
		w(")\n\n")

		key := ""
		if pk != nil {
			key = pk.Name
		}
		w("// %sDef describes %s for package kalamgen.\nvar %sDef = &kalamgen.Table[%s]{\n\tNamespace: %q, Name: %q, Type: kalamgen.%s, Key: %q,\n\tColumns: []kalamgen.Column{\n",
			typ, qn, typ, typ, t.Namespace, t.Name, goName(t.Type), key)
		for _, c := range cols {
			_, kind, _ := c.Type.info()
			w("\t\t{Name: %q, Kind: sdk.%s},\n", c.Name, kind)
		}
		w("\t},\n}\n\n")

		w("// Insert%s inserts row into %s; nil fields take the column's default or NULL.\n", typ, qn)
		w("func Insert%s(ctx context.Context, c *sdk.Client, row *%s, opts ...sdk.QueryOption) error {\n\treturn kalamgen.Insert(ctx, c, %sDef, row, opts...)\n}\n\n", typ, typ, typ)
		if pk != nil {
			_, _, keyT := pk.Type.info()
			w("// Get%s reads the row of %s whose %s is %s; a missing row matches sdk.ErrNotFound.\n", typ, qn, pk.Name, lowerFirst(goName(pk.Name)))
			w("func Get%s(ctx context.Context, c *sdk.Client, %s %s) (*%s, error) {\n\treturn kalamgen.Get(ctx, c, %sDef, %s)\n}\n\n",
				typ, lowerFirst(goName(pk.Name)), keyT, typ, typ, lowerFirst(goName(pk.Name)))
		}
		order := "primary key"
		if pk == nil {
			order = "_seq"
		}
		w("// List%s reads up to limit rows of %s by %s (all when limit <= 0),\n// paging so the server's row caps (50 without LIMIT, 1000 at most) never cut it.\n", typ, qn, order)
		w("func List%s(ctx context.Context, c *sdk.Client, limit int) ([]%s, error) {\n\treturn kalamgen.List(ctx, c, %sDef, limit)\n}\n\n", typ, typ, typ)
		w("// Subscribe%s starts a live query on %s, filtered by where (SQL without parameters; \"\" for every row).\n", typ, qn)
		w("func Subscribe%s(ctx context.Context, c *sdk.Client, where string, opts ...sdk.SubscribeOption) (*kalamgen.Subscription[%s], error) {\n\treturn kalamgen.Subscribe(ctx, c, %sDef, where, opts...)\n}\n\n", typ, typ, typ)
		w("// Live%s keeps the rows of %s matching where materialised as []%s.\n", typ, qn, typ)
		w("func Live%s(ctx context.Context, c *sdk.Client, where string, opts ...sdk.SubscribeOption) (*kalamgen.LiveRows[%s], error) {\n\treturn kalamgen.Live(ctx, c, %sDef, where, opts...)\n}\n\n", typ, typ, typ)
	}

	fmt.Fprintf(&b, "// Code generated by kalamgen from %s. DO NOT EDIT.\n\npackage %s\n\nimport (\n", cfg.Source, cfg.Package)
	var imps []string
	for imp := range imports {
		imps = append(imps, imp)
	}
	sort.Slice(imps, func(i, j int) bool {
		si, sj := strings.Contains(imps[i], "."), strings.Contains(imps[j], ".")
		if si != sj {
			return !si
		}
		return imps[i] < imps[j]
	})
	for i, imp := range imps { // standard library first, then modules
		if i > 0 && !strings.Contains(imps[i-1], ".") && strings.Contains(imp, ".") {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "\t%q\n", imp)
	}
	b.WriteString(")\n\n")
	b.Write(body.Bytes())
	out, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("internal error: generated code does not parse: %w", err)
	}
	return out, nil
}

func columnNote(c column) string {
	var notes []string
	if c.PK {
		notes = append(notes, "PRIMARY KEY")
	} else if !c.Nullable && !strings.HasPrefix(c.Name, "_") {
		notes = append(notes, "NOT NULL")
	}
	if strings.HasPrefix(c.Name, "_") {
		notes = append(notes, "system column, read-only")
	}
	if c.HasDefault {
		notes = append(notes, "with a server default (nil uses it)")
	}
	if len(notes) == 0 {
		return ""
	}
	return ", " + strings.Join(notes, ", ")
}

func lowerFirst(s string) string {
	if up, ok := map[string]string{"ID": "id", "UUID": "uuid", "URL": "url"}[s]; ok {
		return up
	}
	rs := []rune(s)
	rs[0] = unicode.ToLower(rs[0])
	out := string(rs)
	switch out { // Go keywords and the helpers' own parameter names
	case "ctx", "c", "type", "func", "var", "range", "map", "chan", "go", "select", "case", "default", "package", "import", "return", "interface", "struct", "const", "for", "if", "else", "switch", "break", "continue", "defer", "goto", "fallthrough":
		out += "Key"
	}
	return out
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kalamstack/kalam-go/kalamtest/emulator"
	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/transport/mock"
)

// table is one table's schema as the server reports it.
type table struct {
	Namespace, Name string
	Type            string // user, shared, stream
	Columns         []column
}

type column struct {
	Name       string
	Type       dataType
	Nullable   bool
	PK         bool
	HasDefault bool
}

// dataType is a KalamDataType: "BigInt", {"Decimal":{"precision":p,"scale":s}},
// {"Embedding":n}.
type dataType struct {
	Name             string
	Precision, Scale int
	Dim              int
}

func parseDataType(raw json.RawMessage) (dataType, error) {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		return dataType{Name: name}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || len(obj) != 1 {
		return dataType{}, fmt.Errorf("unknown data_type %s", raw)
	}
	for k, v := range obj {
		switch k {
		case "Decimal":
			var p struct{ Precision, Scale int }
			if err := json.Unmarshal(v, &p); err != nil {
				return dataType{}, fmt.Errorf("bad Decimal data_type %s", raw)
			}
			return dataType{Name: k, Precision: p.Precision, Scale: p.Scale}, nil
		case "Embedding":
			var n int
			if err := json.Unmarshal(v, &n); err != nil {
				return dataType{}, fmt.Errorf("bad Embedding data_type %s", raw)
			}
			return dataType{Name: k, Dim: n}, nil
		}
		return dataType{Name: k}, nil
	}
	panic("unreachable")
}

// readSchema lists the tables of a server from system.schemas (dba or
// system role needed), with column defaults from DESCRIBE TABLE.
func readSchema(ctx context.Context, c *sdk.Client, namespace string) ([]table, error) {
	var tables []table
	q := "SELECT namespace_id, table_name, table_type, columns, is_latest FROM system.schemas"
	var opts []sdk.QueryOption
	if namespace != "" {
		q += " WHERE namespace_id = $1"
		opts = append(opts, sdk.Args(namespace))
	}
	q += " ORDER BY namespace_id, table_name LIMIT %d OFFSET %d"
	for offset := 0; ; offset += sdk.MaxRowCap {
		res, err := c.Query(ctx, fmt.Sprintf(q, sdk.MaxRowCap, offset), opts...)
		if err != nil {
			return nil, fmt.Errorf("reading system.schemas (needs a dba or system user): %w", err)
		}
		for _, r := range res.Rows() {
			var (
				ns, name, typ string
				cols          json.RawMessage
				latest        *bool
			)
			if err := r.Scan(&ns, &name, &typ, &cols, &latest); err != nil {
				return nil, fmt.Errorf("system.schemas: %w", err)
			}
			if latest != nil && !*latest {
				continue
			}
			typ = strings.ToLower(typ)
			if typ != "user" && typ != "shared" && typ != "stream" {
				continue
			}
			t := table{Namespace: ns, Name: name, Type: typ}
			if err := t.parseColumns(cols); err != nil {
				return nil, fmt.Errorf("system.schemas %s.%s: %w", ns, name, err)
			}
			tables = append(tables, t)
		}
		if res.RowCount < sdk.MaxRowCap {
			break
		}
	}
	for i := range tables {
		if err := tables[i].readDefaults(ctx, c); err != nil {
			return nil, err
		}
	}
	return tables, nil
}

func (t *table) parseColumns(raw json.RawMessage) error {
	var cols []struct {
		Name     string          `json:"column_name"`
		Ordinal  int             `json:"ordinal_position"`
		DataType json.RawMessage `json:"data_type"`
		Nullable bool            `json:"is_nullable"`
		PK       bool            `json:"is_primary_key"`
		Default  json.RawMessage `json:"default_value"`
	}
	if err := json.Unmarshal(raw, &cols); err != nil {
		return fmt.Errorf("columns is not a column list: %w", err)
	}
	sort.SliceStable(cols, func(i, j int) bool { return cols[i].Ordinal < cols[j].Ordinal })
	for _, c := range cols {
		if strings.HasPrefix(c.Name, "_") { // _seq, _deleted: added back on request
			continue
		}
		dt, err := parseDataType(c.DataType)
		if err != nil {
			return fmt.Errorf("column %s: %w", c.Name, err)
		}
		t.Columns = append(t.Columns, column{Name: c.Name, Type: dt, Nullable: c.Nullable && !c.PK, PK: c.PK,
			HasDefault: hasDefault(c.Default)})
	}
	if len(t.Columns) == 0 {
		return fmt.Errorf("no columns")
	}
	return nil
}

// hasDefault reads ColumnDefault as the server serialises it: "None",
// {"Literal":v} or {"FunctionCall":{...}}.
func hasDefault(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null" && s != `"None"`
}

// readDefaults fills HasDefault from DESCRIBE TABLE's column_default, which
// both the server and the emulator report.
func (t *table) readDefaults(ctx context.Context, c *sdk.Client) error {
	res, err := c.Query(ctx, fmt.Sprintf("DESCRIBE TABLE %s.%s", t.Namespace, t.Name))
	if err != nil {
		return fmt.Errorf("DESCRIBE TABLE %s.%s: %w", t.Namespace, t.Name, err)
	}
	for _, r := range res.Rows() {
		name, err := r.String("column_name")
		if err != nil {
			return fmt.Errorf("DESCRIBE TABLE %s.%s: %w", t.Namespace, t.Name, err)
		}
		def, err := r.Raw("column_default")
		if err != nil {
			return fmt.Errorf("DESCRIBE TABLE %s.%s: %w", t.Namespace, t.Name, err)
		}
		var s *string
		_ = json.Unmarshal(def, &s)
		for i := range t.Columns {
			if t.Columns[i].Name == name && s != nil && *s != "" && *s != "None" {
				t.Columns[i].HasDefault = true
			}
		}
	}
	return nil
}

// ddlStatement is one statement of a schema file with where it starts.
type ddlStatement struct {
	File string
	Line int
	SQL  string
}

// splitDDL splits a file into statements at ';' outside quotes and
// comments, keeping each statement's first line number.
func splitDDL(file, src string) []ddlStatement {
	var out []ddlStatement
	line, start, startLine := 1, 0, 1
	flush := func(end int) {
		text := src[start:end]
		if s := strings.TrimSpace(stripComments(text)); s != "" {
			// The statement starts at its first non-blank, non-comment line.
			lead := text[:leadLen(text)]
			out = append(out, ddlStatement{File: file, Line: startLine + strings.Count(lead, "\n"), SQL: strings.TrimSpace(text)})
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\n':
			line++
		case c == '\'' || c == '"':
			for i++; i < len(src) && src[i] != c; i++ {
				if src[i] == '\n' {
					line++
				}
			}
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			if i < len(src) {
				line++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			for i += 2; i+1 < len(src) && !(src[i] == '*' && src[i+1] == '/'); i++ {
				if src[i] == '\n' {
					line++
				}
			}
			i++
		case c == ';':
			flush(i)
			start, startLine = i+1, line
		}
	}
	flush(len(src))
	return out
}

// leadLen is the length of the whitespace and comments before the first
// token of s.
func leadLen(s string) int {
	i := 0
	for i < len(s) {
		switch {
		case s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n':
			i++
		case strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return len(s)
			}
			i += j
		case strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return len(s)
			}
			i += j + 4
		default:
			return i
		}
	}
	return i
}

// stripComments removes -- and /* */ comments (for the emptiness test).
func stripComments(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case s[i] == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return b.String()
			}
			i += end + 3
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// schemaFiles expands files and directories (their *.sql, sorted).
func schemaFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("-schema %s: %w", p, err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		m, err := filepath.Glob(filepath.Join(p, "*.sql"))
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("-schema %s: no .sql files in the directory", p)
		}
		sort.Strings(m)
		files = append(files, m...)
	}
	return files, nil
}

const emulatorPassword = "kalamgen-Root-Pw1!"

// schemaFromDDL applies the files to an in-process emulator, statement by
// statement, and reads back the schema the server would report.
func schemaFromDDL(ctx context.Context, paths []string, namespace string) ([]table, error) {
	files, err := schemaFiles(paths)
	if err != nil {
		return nil, err
	}
	emu, err := emulator.New(emulator.Options{RootPassword: emulatorPassword, SQLRateLimit: -1, AuthRateLimit: -1})
	if err != nil {
		return nil, err
	}
	defer emu.Close()
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, st := range splitDDL(f, string(src)) {
			if _, err := emu.ExecAs("root", st.SQL); err != nil {
				msg := err.Error()
				if se, ok := err.(*emulator.SQLError); ok {
					msg = se.Message
				}
				return nil, fmt.Errorf("%s:%d: %s", st.File, st.Line, oneLine(msg))
			}
		}
	}
	c, err := sdk.New("http://kalamgen.emulator", sdk.WithTransport(mock.New(emu)), sdk.WithBasicAuth("root", emulatorPassword))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return readSchema(ctx, c, namespace)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

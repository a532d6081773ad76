package engine

import (
	"fmt"
	"strconv"
	"strings"
)

// createTable is a parsed CREATE TABLE (sql-model §2.1).
type createTable struct {
	ns          string // "" when unqualified
	name        string
	typ         string // user, shared, stream
	typExplicit bool
	ifNotExists bool
	access      string
	ttl         int64
	hasTTL      bool
	columns     []column
}

// tokCursor walks significant tokens.
type tokCursor struct {
	t []token
	i int
}

func (c *tokCursor) peek() token {
	if c.i < len(c.t) {
		return c.t[c.i]
	}
	return token{}
}
func (c *tokCursor) peekAt(n int) token {
	if c.i+n < len(c.t) {
		return c.t[c.i+n]
	}
	return token{}
}
func (c *tokCursor) next() token { t := c.peek(); c.i++; return t }
func (c *tokCursor) done() bool  { return c.i >= len(c.t) }

// accept consumes the keywords if they come next.
func (c *tokCursor) accept(words ...string) bool {
	for k, w := range words {
		t := c.peekAt(k)
		if t.upper() != w && !(t.kind == tkPunct && t.text == w) {
			return false
		}
	}
	c.i += len(words)
	return true
}

// name reads [ns.]name, lowercased.
func (c *tokCursor) qualifiedName() (ns, name string, ok bool) {
	a, ok := c.next().ident()
	if !ok {
		return "", "", false
	}
	if c.peek().text == "." {
		c.next()
		b, ok := c.next().ident()
		if !ok {
			return "", "", false
		}
		return strings.ToLower(a), strings.ToLower(b), true
	}
	return "", strings.ToLower(a), true
}

// skipGroup skips a balanced parenthesised group starting at "(".
func (c *tokCursor) skipGroup() {
	depth := 0
	for !c.done() {
		t := c.next()
		if t.text == "(" {
			depth++
		} else if t.text == ")" {
			depth--
			if depth == 0 {
				return
			}
		}
	}
}

var columnConstraintWords = map[string]bool{
	"NOT": true, "NULL": true, "DEFAULT": true, "PRIMARY": true, "UNIQUE": true, "CHECK": true,
	"REFERENCES": true, "AUTO_INCREMENT": true, "GENERATED": true, "COMMENT": true, "CONSTRAINT": true,
	"AUTOINCREMENT": true, "COLLATE": true,
}

func parseCreateTable(sig []token) (*createTable, error) {
	c := &tokCursor{t: sig}
	ct := &createTable{}
	c.accept("CREATE")
	switch c.peek().upper() {
	case "USER", "SHARED", "STREAM":
		ct.typ, ct.typExplicit = strings.ToLower(c.next().text), true
	}
	if !c.accept("TABLE") {
		return nil, fmt.Errorf("Not a CREATE TABLE statement")
	}
	ct.ifNotExists = c.accept("IF", "NOT", "EXISTS")
	ns, name, ok := c.qualifiedName()
	if !ok {
		return nil, fmt.Errorf("Invalid table name format. Expected 'table_name' or 'namespace.table_name'")
	}
	if ns != "" {
		// Reserved namespaces (default, system) are checked at execution.
		if err := validateName("", ns); err != nil {
			return nil, err
		}
	}
	if err := validateName("table", name); err != nil {
		return nil, err
	}
	ct.ns, ct.name = ns, name
	if !c.accept("(") {
		return nil, fmt.Errorf("Expected column definitions after table name")
	}
	pkName := ""
	setPK := func(n string) error {
		if pkName != "" {
			return fmt.Errorf("Multiple PRIMARY KEY definitions found")
		}
		pkName = n
		return nil
	}
	for {
		if c.done() {
			return nil, fmt.Errorf("Unterminated column list")
		}
		switch c.peek().upper() {
		case "PRIMARY":
			c.accept("PRIMARY", "KEY")
			cols, err := parseNameList(c)
			if err != nil {
				return nil, err
			}
			if len(cols) != 1 {
				return nil, fmt.Errorf("Composite PRIMARY KEYs are not supported yet")
			}
			if err := setPK(cols[0]); err != nil {
				return nil, err
			}
		case "CONSTRAINT":
			c.next()
			c.next()
			if c.accept("PRIMARY", "KEY") {
				cols, err := parseNameList(c)
				if err != nil {
					return nil, err
				}
				if len(cols) != 1 {
					return nil, fmt.Errorf("Composite PRIMARY KEYs are not supported yet")
				}
				if err := setPK(cols[0]); err != nil {
					return nil, err
				}
			} else {
				skipToComma(c)
			}
		case "UNIQUE", "CHECK", "FOREIGN", "INDEX", "KEY":
			skipToComma(c)
		default:
			col, isPK, err := parseColumnDef(c)
			if err != nil {
				return nil, err
			}
			for _, prev := range ct.columns {
				if prev.Name == col.Name {
					return nil, fmt.Errorf("Duplicate column name '%s'. Column names are case-insensitive.", col.Name)
				}
			}
			if isPK {
				if err := setPK(col.Name); err != nil {
					return nil, err
				}
			}
			ct.columns = append(ct.columns, col)
		}
		if c.accept(",") {
			continue
		}
		if c.accept(")") {
			break
		}
		return nil, fmt.Errorf("Expected ',' or ')' after column definition, found: %s", c.peek().text)
	}
	if len(ct.columns) == 0 {
		return nil, fmt.Errorf("Table must have at least one column")
	}
	if pkName != "" {
		found := false
		for i := range ct.columns {
			if ct.columns[i].Name == pkName {
				ct.columns[i].PK, ct.columns[i].NotNull, found = true, true, true
			}
		}
		if !found {
			return nil, fmt.Errorf("PRIMARY KEY column '%s' not found in column list", pkName)
		}
	}
	if c.accept("USING") {
		c.next()
	}
	if c.accept("WITH") {
		if !c.accept("(") {
			return nil, fmt.Errorf("Expected '(' after WITH")
		}
		for !c.accept(")") {
			if c.done() {
				return nil, fmt.Errorf("Unterminated WITH options")
			}
			key := strings.ToUpper(c.next().text)
			c.accept("=")
			vt := c.next()
			val := vt.text
			if vt.kind == tkString {
				val = vt.stringValue()
			}
			switch key {
			case "TYPE":
				v := strings.ToLower(val)
				if v != "user" && v != "shared" && v != "stream" {
					return nil, fmt.Errorf("Invalid TYPE option '%s'. Supported: USER, SHARED, STREAM", val)
				}
				if ct.typExplicit && ct.typ != v {
					return nil, fmt.Errorf("Conflicting table type definitions: CREATE %s TABLE vs TYPE option %s", roleName(Role(ct.typ)), roleName(Role(v)))
				}
				ct.typ, ct.typExplicit = v, true
			case "ACCESS_LEVEL":
				v := strings.ToLower(val)
				if v != "public" && v != "private" && v != "restricted" && v != "dba" {
					return nil, fmt.Errorf("Invalid ACCESS_LEVEL '%s'. Supported: PUBLIC, PRIVATE, RESTRICTED, DBA", val)
				}
				ct.access = v
			case "TTL_SECONDS":
				n, err := strconv.ParseInt(val, 10, 64)
				if err != nil || n <= 0 {
					return nil, fmt.Errorf("Invalid TTL_SECONDS")
				}
				ct.ttl, ct.hasTTL = n, true
			case "STORAGE_ID", "FLUSH_POLICY", "USE_USER_STORAGE", "DELETED_RETENTION_HOURS":
				// Accepted: they only steer cold storage, which the emulator lacks.
			default:
				return nil, fmt.Errorf("Unknown table option '%s'", key)
			}
			c.accept(",")
		}
	}
	if !c.done() {
		return nil, fmt.Errorf("Unexpected text after table definition: %s", c.peek().text)
	}
	if ct.typ == "" {
		ct.typ = "shared"
	}
	if ct.typ == "stream" && !ct.hasTTL {
		return nil, fmt.Errorf("STREAM tables must specify 'TTL_SECONDS'")
	}
	if ct.typ != "stream" && ct.hasTTL {
		return nil, fmt.Errorf("TTL_SECONDS is only supported for STREAM tables")
	}
	if ct.access != "" && ct.typ != "shared" {
		return nil, fmt.Errorf("ACCESS_LEVEL is only supported for SHARED tables")
	}
	if ct.typ == "shared" && ct.access == "" {
		ct.access = "private"
	}
	return ct, nil
}

func parseNameList(c *tokCursor) ([]string, error) {
	if !c.accept("(") {
		return nil, fmt.Errorf("Expected '(' before column list")
	}
	var out []string
	for {
		n, ok := c.next().ident()
		if !ok {
			return nil, fmt.Errorf("Expected a column name in list")
		}
		out = append(out, strings.ToLower(n))
		if c.accept(")") {
			return out, nil
		}
		if !c.accept(",") {
			return nil, fmt.Errorf("Expected ',' or ')' in column list")
		}
	}
}

func skipToComma(c *tokCursor) {
	for !c.done() {
		switch c.peek().text {
		case "(":
			c.skipGroup()
			continue
		case ",", ")":
			return
		}
		c.next()
	}
}

// parseColumnDef reads: name TYPE [constraints...].
func parseColumnDef(c *tokCursor) (column, bool, error) {
	nt := c.next()
	name, ok := nt.ident()
	if !ok {
		return column{}, false, fmt.Errorf("Expected a column name, found: %s", nt.text)
	}
	name = strings.ToLower(name)
	if strings.HasPrefix(name, "_") {
		return column{}, false, fmt.Errorf("Column name '%s' is reserved and cannot be used", name)
	}
	if err := validateName("column", name); err != nil {
		return column{}, false, err
	}
	col := column{Name: name}
	typ, autoInc, err := parseType(c)
	if err != nil {
		return column{}, false, err
	}
	col.Type = typ
	if autoInc {
		col.Default = &colDefault{Func: "SNOWFLAKE_ID"}
	}
	isPK := false
	for !c.done() && c.peek().text != "," && c.peek().text != ")" {
		switch {
		case c.accept("NOT", "NULL"):
			col.NotNull = true
		case c.accept("NULL"):
		case c.accept("PRIMARY", "KEY"):
			isPK = true
		case c.accept("UNIQUE"):
		case c.accept("AUTO_INCREMENT"), c.accept("AUTOINCREMENT"):
			col.Default = &colDefault{Func: "SNOWFLAKE_ID"}
		case c.accept("GENERATED"):
			for !c.done() && c.peek().upper() != "IDENTITY" {
				c.next()
			}
			c.accept("IDENTITY")
			col.Default = &colDefault{Func: "SNOWFLAKE_ID"}
		case c.accept("DEFAULT"):
			d, err := parseDefault(c)
			if err != nil {
				return column{}, false, err
			}
			col.Default = d
		case c.accept("CHECK"), c.accept("REFERENCES"), c.accept("COMMENT"), c.accept("COLLATE"), c.accept("CONSTRAINT"):
			for !c.done() && c.peek().text != "," && c.peek().text != ")" && !columnConstraintWords[c.peek().upper()] {
				if c.peek().text == "(" {
					c.skipGroup()
					continue
				}
				c.next()
			}
		default:
			return column{}, false, fmt.Errorf("Unexpected token in definition of column '%s': %s", name, c.peek().text)
		}
	}
	return col, isPK, nil
}

// parseType reads a type name with its arguments (sql-model §4.1).
func parseType(c *tokCursor) (kType, bool, error) {
	first := c.next()
	word := first.upper()
	if word == "" {
		return kType{}, false, fmt.Errorf("Expected a data type, found: %s", first.text)
	}
	var args []int
	readArgs := func() error {
		if c.peek().text != "(" {
			return nil
		}
		c.next()
		for !c.accept(")") {
			t := c.next()
			if t.text == "," {
				continue
			}
			n, err := strconv.Atoi(t.text)
			if err != nil {
				return fmt.Errorf("Unsupported SQL data type: invalid type argument %s", t.text)
			}
			args = append(args, n)
			if c.done() {
				return fmt.Errorf("Unterminated type arguments")
			}
		}
		return nil
	}
	switch word {
	case "DOUBLE":
		c.accept("PRECISION")
	case "CHARACTER":
		c.accept("VARYING")
	case "TIMESTAMP", "TIME":
		if err := readArgs(); err != nil {
			return kType{}, false, err
		}
		// Time zone spellings do not change the KalamDataType.
		_ = c.accept("WITH", "TIME", "ZONE") || c.accept("WITHOUT", "TIME", "ZONE")
		if word == "TIME" {
			return tTime, false, nil
		}
		return tTimestamp, false, nil
	case "DECIMAL", "NUMERIC":
		if err := readArgs(); err != nil {
			return kType{}, false, err
		}
		p, s := 38, 10
		if len(args) >= 1 {
			p, s = args[0], 0
		}
		if len(args) >= 2 {
			s = args[1]
		}
		if p < 1 || p > 38 || s < 0 || s > p {
			return kType{}, false, fmt.Errorf("Unsupported SQL data type: DECIMAL(%d, %d): precision must be 1-38 and scale at most precision", p, s)
		}
		return kType{Name: "Decimal", Precision: p, Scale: s}, false, nil
	case "EMBEDDING", "VECTOR":
		if err := readArgs(); err != nil {
			return kType{}, false, err
		}
		if len(args) != 1 || args[0] < 1 || args[0] > 8192 {
			return kType{}, false, fmt.Errorf("Unsupported SQL data type: EMBEDDING dimension must be between 1 and 8192")
		}
		return kType{Name: "Embedding", Dim: args[0]}, false, nil
	}
	if err := readArgs(); err != nil {
		return kType{}, false, err
	}
	t, ok := typeSpellings[word]
	if !ok {
		return kType{}, false, fmt.Errorf("Unsupported SQL data type: %s", first.text)
	}
	auto := word == "SERIAL" || word == "BIGSERIAL" || word == "SMALLSERIAL"
	return t, auto, nil
}

// parseDefault reads a DEFAULT expression: a literal or a known function;
// anything else is kept as the text of a string literal (sql-model §2.1).
func parseDefault(c *tokCursor) (*colDefault, error) {
	start := c.i
	neg := c.accept("-")
	t := c.next()
	switch t.kind {
	case tkNumber:
		if n, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			if neg {
				n = -n
			}
			return &colDefault{Kind: "int", Text: strconv.FormatInt(n, 10)}, nil
		}
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("Invalid DEFAULT number %s", t.text)
		}
		if neg {
			f = -f
		}
		return &colDefault{Kind: "float", Text: strconv.FormatFloat(f, 'g', -1, 64)}, nil
	case tkString:
		return &colDefault{Kind: "text", Text: t.stringValue()}, nil
	case tkWord:
		u := t.upper()
		switch u {
		case "NULL":
			return &colDefault{}, nil
		case "TRUE", "FALSE":
			return &colDefault{Kind: "int", Text: strconv.FormatInt(boolInt(u == "TRUE"), 10)}, nil
		case "CURRENT_TIMESTAMP", "CURRENT_USER", "NOW", "SNOWFLAKE_ID", "UUID_V7", "ULID":
			if c.peek().text == "(" {
				c.skipGroup()
			}
			if u == "CURRENT_TIMESTAMP" {
				u = "NOW"
			}
			return &colDefault{Func: u}, nil
		}
	}
	// Unknown expression: stored as its text (sql-model §2.1).
	c.i = start
	var parts []string
	for !c.done() && c.peek().text != "," && c.peek().text != ")" && !columnConstraintWords[c.peek().upper()] {
		if c.peek().text == "(" {
			g := c.i
			c.skipGroup()
			parts = append(parts, join(c.t[g:c.i]))
			continue
		}
		parts = append(parts, c.next().text)
	}
	return &colDefault{Kind: "text", Text: strings.Join(parts, "")}, nil
}

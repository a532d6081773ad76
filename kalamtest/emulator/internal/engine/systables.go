package engine

import (
	"encoding/json"
	"fmt"
	"strings"
)

// sysTable is a read-only system table (sql-model §2.5), materialised into
// a TEMP table from the catalog each time a query reads it.
type sysTable struct {
	name string
	cols []column
	rows func(e *Engine) ([][]any, error)
}

func (t *sysTable) phys() string { return "sys$" + t.name }

func sysCol(name string, t kType) column { return column{Name: name, Type: t} }

var sysTables = map[string]*sysTable{}

func init() {
	for _, t := range []*sysTable{
		{name: "users", cols: []column{
			{Name: "user_id", Type: tText, PK: true, NotNull: true}, sysCol("password_hash", tText), sysCol("role", tText),
			sysCol("email", tText), sysCol("auth_type", tText), sysCol("auth_data", tJSON), sysCol("storage_mode", tText),
			sysCol("storage_id", tText), sysCol("failed_login_attempts", tInt), sysCol("locked_until", tTimestamp),
			sysCol("last_login_at", tTimestamp), sysCol("created_at", tTimestamp), sysCol("updated_at", tTimestamp),
			sysCol("last_seen", tTimestamp), sysCol("deleted_at", tTimestamp),
		}, rows: func(e *Engine) ([][]any, error) {
			var out [][]any
			for _, id := range sortedKeys(e.cat.Users) {
				u := e.cat.Users[id]
				// The stored hash never leaves the engine; admins see a marker.
				hash := ""
				if u.Hash != "" {
					hash = "$emulator$redacted"
				}
				var email, deleted any
				if u.Email != nil {
					email = *u.Email
				}
				if u.DeletedAt != nil {
					deleted = *u.DeletedAt
				}
				out = append(out, []any{u.ID, hash, string(u.Role), email, u.AuthType, nil, "table", "local",
					int64(0), nil, nil, u.CreatedAt, u.UpdatedAt, nil, deleted})
			}
			return out, nil
		}},
		{name: "namespaces", cols: []column{
			{Name: "namespace_id", Type: tText, PK: true, NotNull: true}, sysCol("name", tText), sysCol("created_at", tTimestamp),
			sysCol("options", tJSON), sysCol("table_count", tInt),
		}, rows: func(e *Engine) ([][]any, error) {
			var out [][]any
			for _, name := range sortedKeys(e.cat.Namespaces) {
				n := e.cat.Namespaces[name]
				count := int64(0)
				for _, t := range e.cat.Tables {
					if t.Namespace == name {
						count++
					}
				}
				out = append(out, []any{name, name, n.CreatedAt, "{}", count})
			}
			return out, nil
		}},
		{name: "tables", cols: []column{
			// Not-null as in kalamdb-system providers/tables/schemas_definition.rs.
			{Name: "namespace_id", Type: tText, NotNull: true}, {Name: "table_name", Type: tText, NotNull: true},
			{Name: "table_type", Type: tText, NotNull: true}, sysCol("storage_id", tText),
			sysCol("version", tInt), sysCol("options", tJSON), sysCol("comment", tText), {Name: "updated_at", Type: tTimestamp, NotNull: true},
			{Name: "created_at", Type: tTimestamp, NotNull: true},
		}, rows: func(e *Engine) ([][]any, error) {
			var out [][]any
			for _, id := range sortedKeys(e.cat.Tables) {
				t := e.cat.Tables[id]
				out = append(out, []any{t.Namespace, t.Name, t.Type, "local", int64(1), tableOptionsJSON(t), nil, t.CreatedAt, t.CreatedAt})
			}
			return out, nil
		}},
		{name: "schemas", cols: schemaCols, rows: func(e *Engine) ([][]any, error) { return e.schemaRows(""), nil }},
		{name: "topics", cols: []column{
			{Name: "topic_id", Type: tText, PK: true, NotNull: true}, sysCol("name", tText), sysCol("alias", tText),
			sysCol("partitions", tInt), sysCol("retention_seconds", tBigInt), sysCol("retention_max_bytes", tBigInt),
			sysCol("routes", tJSON), sysCol("created_at", tTimestamp), sysCol("updated_at", tTimestamp),
		}, rows: func(e *Engine) ([][]any, error) {
			var out [][]any
			for _, id := range sortedKeys(e.cat.Topics) {
				t := e.cat.Topics[id]
				routes, _ := marshalJSON(t.Routes)
				if t.Routes == nil {
					routes = []byte("[]")
				}
				out = append(out, []any{t.ID, t.ID, nil, int64(t.Partitions), int64(7 * 24 * 3600), int64(1 << 30), string(routes), t.CreatedAt, t.UpdatedAt})
			}
			return out, nil
		}},
		{name: "topic_offsets", cols: []column{
			sysCol("topic_id", tText), sysCol("group_id", tText), sysCol("partition_id", tInt),
			sysCol("last_acked_offset", tBigInt), sysCol("updated_at", tTimestamp),
		}, rows: func(e *Engine) ([][]any, error) {
			return e.queryRows(`SELECT topic, grp, part, off, updated_at FROM _kv_offsets ORDER BY topic, grp, part`)
		}},
	} {
		sysTables[t.name] = t
	}
}

var schemaCols = []column{
	sysCol("table_id", tText), sysCol("table_name", tText), sysCol("namespace_id", tText), sysCol("table_type", tText),
	sysCol("created_at", tTimestamp), sysCol("schema_version", tInt), sysCol("columns", tJSON), sysCol("table_comment", tText),
	sysCol("updated_at", tTimestamp), sysCol("options", tJSON), sysCol("access_level", tText), sysCol("is_latest", tBoolean),
	sysCol("storage_id", tText), sysCol("use_user_storage", tBoolean),
}

func (e *Engine) schemaRows(ns string) [][]any {
	var out [][]any
	for _, id := range sortedKeys(e.cat.Tables) {
		t := e.cat.Tables[id]
		if ns != "" && t.Namespace != ns {
			continue
		}
		var cols []map[string]any
		for i, c := range t.Columns {
			cols = append(cols, map[string]any{"column_name": c.Name, "ordinal_position": i + 1,
				"data_type": json.RawMessage(c.Type.dataTypeJSON()), "is_nullable": !c.NotNull, "is_primary_key": c.PK})
		}
		cj, _ := marshalJSON(cols)
		var access any
		if t.Type == "shared" {
			access = t.Access
		}
		out = append(out, []any{t.Namespace + ":" + t.Name, t.Name, t.Namespace, t.Type, t.CreatedAt, int64(1), string(cj),
			nil, t.CreatedAt, tableOptionsJSON(t), access, int64(1), "local", int64(0)})
	}
	return out
}

func tableOptionsJSON(t *tableInfo) string {
	opts := map[string]any{"table_type": strings.ToUpper(t.Type)}
	if t.Type == "stream" {
		opts["ttl_seconds"] = t.TTLSeconds
	}
	if t.Type == "shared" {
		opts["access_level"] = t.Access
	}
	b, _ := marshalJSON(opts)
	return string(b)
}

// createSystemTables creates the TEMP tables system tables are read from.
func (e *Engine) createSystemTables() error {
	for _, t := range sysTables {
		defs := make([]string, len(t.cols))
		for i, c := range t.cols {
			defs[i] = quoteIdent(c.Name) + " " + c.Type.sqliteType()
		}
		q := fmt.Sprintf("CREATE TEMP TABLE %s (%s)", quoteIdent(t.phys()), strings.Join(defs, ", "))
		if err := e.conn.Exec(q); err != nil {
			return fmt.Errorf("create system table %s: %w", t.name, err)
		}
	}
	return nil
}

// refreshSystemTable rewrites t's TEMP table from the catalog.
func (e *Engine) refreshSystemTable(t *sysTable) error {
	if err := e.exec("DELETE FROM temp." + quoteIdent(t.phys())); err != nil {
		return err
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(t.cols)), ", ")
	q := fmt.Sprintf("INSERT INTO temp.%s VALUES (%s)", quoteIdent(t.phys()), marks)
	rows, err := t.rows(e)
	if err != nil {
		return err
	}
	for _, row := range rows {
		if err := e.exec(q, row...); err != nil {
			return err
		}
	}
	return nil
}

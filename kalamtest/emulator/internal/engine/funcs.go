package engine

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ncruces/go-sqlite3"
)

// registerFunctions adds KalamDB's SQL functions (sql-model §2.1) and the
// change-capture hook the triggers call.
func (e *Engine) registerFunctions() error {
	volatile := sqlite3.INNOCUOUS // callable from triggers; not DETERMINISTIC
	fns := []struct {
		name string
		n    int
		fn   sqlite3.ScalarFunction
	}{
		{"now", 0, func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultInt64(e.opts.Now().UnixMicro()) }},
		{"snowflake_id", 0, func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultInt64(e.nextSeq()) }},
		{"uuid_v7", 0, func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultText(e.uuidV7()) }},
		{"ulid", 0, func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultText(e.ulid()) }},
		{"current_user", 0, func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultText(e.cur.user) }},
		{"current_role", 0, func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultText(string(e.cur.role)) }},
		{"kv_capture", -1, e.capture},
		{"kv_cast", 2, castFunc},
	}
	for _, f := range fns {
		if err := e.conn.CreateFunction(f.name, f.n, volatile, f.fn); err != nil {
			return fmt.Errorf("register function %s: %w", f.name, err)
		}
	}
	return nil
}

// uuidV7 is a time-ordered UUID (RFC 9562) by the engine clock.
func (e *Engine) uuidV7() string {
	var b [16]byte
	_, _ = rand.Read(b[6:])
	ms := uint64(e.opts.Now().UnixMilli())
	binary.BigEndian.PutUint64(b[:8], ms<<16|uint64(binary.BigEndian.Uint16(b[6:8])))
	b[6] = 0x70 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	return formatUUID(b[:])
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulid is a 26-character ULID by the engine clock.
func (e *Engine) ulid() string {
	var b [16]byte
	_, _ = rand.Read(b[6:])
	ms := uint64(e.opts.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	var sb strings.Builder
	// 128 bits as 26 base32 digits: the first digit carries 3 bits.
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	digits := make([]byte, 26)
	for i := 25; i >= 0; i-- {
		digits[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	sb.Write(digits)
	return sb.String()
}

// castFunc is kv_cast(value, type JSON): the :: cast, with insert coercion.
func castFunc(ctx sqlite3.Context, args ...sqlite3.Value) {
	var t kType
	if err := json.Unmarshal([]byte(args[1].Text()), &t); err != nil {
		ctx.ResultError(fmt.Errorf("invalid cast type: %w", err))
		return
	}
	v, err := coerce(t, valueOf(args[0]))
	if err != nil {
		ctx.ResultError(err)
		return
	}
	switch x := v.(type) {
	case nil:
		ctx.ResultNull()
	case int64:
		ctx.ResultInt64(x)
	case float64:
		ctx.ResultFloat(x)
	case string:
		ctx.ResultText(x)
	case []byte:
		ctx.ResultBlob(x)
	}
}

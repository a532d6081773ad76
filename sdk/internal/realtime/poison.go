package realtime

import (
	"bytes"
	"errors"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonscan"
	"github.com/kalamstack/kalam-go/transport"
)

// ErrPoison ends a subscription whose server message the client cannot use
// (undecodable, or too large even in the smallest batch): reconnecting
// would only receive it again.
var ErrPoison = errors.New("realtime: a server message for this subscription cannot be used")

// maxPoisonRuns is how many connections in a row may end on a frame that
// cannot be read (and cannot be pinned on one subscription) with nothing
// gained in between before the manager gives up: reconnecting resumes to
// the same frame.
const maxPoisonRuns = 3

// idPrefixBytes is how much of a frame (after gunzip) is searched for its
// subscription_id; the server writes it right after the type.
const idPrefixBytes = 4 << 10

var idKey = []byte("subscription_id")

// subscriptionIDOf finds the subscription_id of a frame that failed to
// decode, by looking at its first bytes only: "" when it cannot tell.
func subscriptionIDOf(binary bool, p []byte) string {
	if binary && bytes.HasPrefix(p, gzipMagic) {
		p = gunzipHead(p, idPrefixBytes)
	} else if len(p) > idPrefixBytes {
		p = p[:idPrefixBytes]
	}
	i := bytes.Index(p, idKey)
	if i < 0 {
		return ""
	}
	rest := p[i+len(idKey):]
	if binary && len(p) > 0 && p[0] != '{' {
		return msgpackStrAt(rest)
	}
	// JSON: "subscription_id" : "<id>"
	rest = bytes.TrimLeft(rest, "\" \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return ""
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' {
		return ""
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 {
		return ""
	}
	var id string
	if jsonscan.Unmarshal(rest[:end+2], &id) != nil {
		return ""
	}
	return id
}

// msgpackStrAt reads the MessagePack string that starts p (fixstr, str8 or
// str16).
func msgpackStrAt(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	var n, off int
	switch t := p[0]; {
	case t >= 0xa0 && t <= 0xbf:
		n, off = int(t&0x1f), 1
	case t == 0xd9 && len(p) >= 2:
		n, off = int(p[1]), 2
	case t == 0xda && len(p) >= 3:
		n, off = int(p[1])<<8|int(p[2]), 3
	default:
		return ""
	}
	if len(p) < off+n {
		return ""
	}
	return string(p[off : off+n])
}

// isPoison reports a connection that ended on a frame the client could
// not read: the next connection will very likely receive it again.
func isPoison(err error) bool {
	return errors.Is(err, ErrUndecoded) || errors.Is(err, transport.ErrMessageTooLarge)
}

package realtime

import (
	"unicode/utf8"
	"unsafe"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonscan"
)

// decodeMessage fills m from p as json.Unmarshal would, reading the common
// shape directly: every change event passes through here, and reflection
// over a map per row cost more than the rest of delivering it. Row values
// alias p (which Decode owns). Anything unusual (escaped or case-folded
// keys, duplicates, unexpected types) takes json.Unmarshal, which also
// words the errors; FuzzDecodeMessageAgrees checks the two agree.
func decodeMessage(p []byte, m *ServerMessage) error {
	return jsonscan.Decode(p, m, fastMessage)
}

var messageKeys = []string{"type", "subscription_id", "change_type", "rows", "old_values",
	"batch_control", "schema", "code", "message", "user", "role", "protocol"}

func fastMessage(b []byte, m *ServerMessage) error {
	_, err := jsonscan.Object(b, 0, messageKeys, func(key string, v int) (int, error) {
		switch key {
		case "type":
			return jsonscan.String(b, v, &m.Type)
		case "subscription_id":
			return jsonscan.String(b, v, &m.SubscriptionID)
		case "change_type":
			return jsonscan.String(b, v, &m.ChangeType)
		case "code":
			return jsonscan.String(b, v, &m.Code)
		case "message":
			return jsonscan.String(b, v, &m.Message)
		case "user":
			return jsonscan.String(b, v, &m.User)
		case "role":
			return jsonscan.String(b, v, &m.Role)
		case "rows":
			return fastRows(b, v, &m.Rows)
		case "old_values":
			return fastRows(b, v, &m.OldValues)
		default: // batch_control, schema, protocol: small, once per batch or ack
			end := jsonscan.ValueEnd(b, v)
			var err error
			switch key {
			case "batch_control":
				err = jsonscan.Unmarshal(b[v:end], &m.BatchControl)
			case "schema":
				err = jsonscan.Unmarshal(b[v:end], &m.Schema)
			default:
				err = jsonscan.Unmarshal(b[v:end], &m.Protocol)
			}
			if err != nil {
				return 0, jsonscan.ErrSlowPath
			}
			return end, nil
		}
	})
	return err
}

// fastRows reads an array of row objects (or null) into cells whose
// names and values alias b (Decode's own buffer, never written again).
func fastRows(b []byte, i int, dst *[]RawRow) (int, error) {
	var rows []RawRow
	end, null, err := jsonscan.Array(b, i, func(e int) (int, error) {
		row := make(RawRow, 0, 8)
		end, err := jsonscan.Members(b, e, func(key []byte, v int) (int, error) {
			if !utf8.Valid(key) {
				return 0, jsonscan.ErrSlowPath
			}
			end := jsonscan.ValueEnd(b, v)
			row = append(row, RawCell{Name: unsafe.String(unsafe.SliceData(key), len(key)), Value: b[v:end:end]})
			return end, nil
		})
		rows = append(rows, row)
		return end, err
	})
	if err != nil {
		return 0, err
	}
	if !null {
		if rows == nil {
			rows = []RawRow{}
		}
		*dst = rows
	}
	return end, nil
}

package engine

import (
	"cmp"
	"errors"
	"slices"

	"github.com/ncruces/go-sqlite3"
)

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func asSqliteError(err error, target **sqlite3.Error) bool { return errors.As(err, target) }

//go:build !js

package fakews

import (
	"encoding/binary"
	"math"
)

func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func mathFloat64bits(f float64) uint64    { return math.Float64bits(f) }

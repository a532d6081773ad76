//go:build !js && !wasip1

package transcript

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// KnownDifference is a place where the emulator answers unlike the real
// server on purpose, with the reason. Replays ignore the value at Path in
// the exchanges whose step starts with Step (in Scenario, or in every
// scenario when Scenario is "").
type KnownDifference struct {
	Scenario string
	Step     string
	// Path into the exchange's JSON: "body.results.0.message", with * for
	// any array index or map key.
	Path   string
	Reason string
}

// KnownDifferences masks, in replays, what the emulator does not copy from
// the real KalamDB; each entry has its reason, and the emulator's package
// doc ("Differences from the real KalamDB") is the list in prose. An entry
// that masks nothing still passes: remove it when the emulator catches up.
var KnownDifferences = slices.Concat(knownAuthWS, knownSQL, knownFilesTopics)

// Each area keeps its entries in a file of its own: known_authws.go,
// known_sql.go, known_files.go.

// mask returns the exchange with every known difference replaced by a
// marker, so a replay compares everything else.
func mask(scenario string, e Exchange) Exchange {
	var paths []string
	for _, k := range KnownDifferences {
		if (k.Scenario == "" || k.Scenario == scenario) && strings.HasPrefix(e.Step, k.Step) {
			paths = append(paths, k.Path)
		}
	}
	if len(paths) == 0 {
		return e
	}
	b, err := json.Marshal(e)
	if err != nil {
		return e
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return e
	}
	for _, p := range paths {
		v = maskPath(v, strings.Split(p, "."))
	}
	b, _ = json.Marshal(v)
	var out Exchange
	if json.Unmarshal(b, &out) != nil {
		return e
	}
	return out
}

const maskedValue = "<known difference>"

func maskPath(v any, path []string) any {
	if len(path) == 0 {
		return maskedValue
	}
	head, rest := path[0], path[1:]
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch {
			case head != "*" && head != k:
			case len(rest) == 0:
				// Dropped on both sides, so a value one side lacks compares equal.
				delete(x, k)
			default:
				x[k] = maskPath(e, rest)
			}
		}
	case []any:
		for i, e := range x {
			if head == "*" || head == strconv.Itoa(i) {
				x[i] = maskPath(e, rest)
			}
		}
	}
	return v
}

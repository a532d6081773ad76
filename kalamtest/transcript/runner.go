//go:build !js && !wasip1

package transcript

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Scenario is a script of raw exchanges with a server.
type Scenario struct {
	Name string
	// NeedsSetup runs the scenario on a server whose root has no password.
	NeedsSetup bool
	Run        func(s *Session)
}

// Run plays a scenario against the server at base and returns what it
// answered, normalised.
func Run(ctx context.Context, sc Scenario, base, rootPassword, serverName string) (tr *Transcript) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s := newSession(ctx, base, rootPassword)
	defer s.closeAll()
	tr = &Transcript{Scenario: sc.Name, Server: serverName}
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(abort)
			if !ok {
				panic(r)
			}
			s.records = append(s.records, Exchange{Step: "abort", Aborted: normalizeString(a.reason, "message")})
		}
		tr.Exchanges = s.records
	}()
	sc.Run(s)
	return tr
}

// Load reads a recorded transcript.
func Load(path string) (*Transcript, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var tr Transcript
	if err := d.Decode(&tr); err != nil {
		return nil, fmt.Errorf("transcript %s: %w", path, err)
	}
	return &tr, nil
}

// Save writes a transcript as indented JSON.
func Save(dir string, tr *Transcript) error {
	b, err := json.MarshalIndent(tr, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, tr.Scenario+".json"), append(b, '\n'), 0o644)
}

// Diff compares a replay with its recording exchange by exchange, after
// the known differences are masked, and describes each mismatch readably
// (the step, then the recorded and replayed lines that differ).
func Diff(recorded, replayed *Transcript) []string {
	var out []string
	n := max(len(recorded.Exchanges), len(replayed.Exchanges))
	for i := range n {
		var want, got string
		var step string
		if i < len(recorded.Exchanges) {
			e := mask(recorded.Scenario, recorded.Exchanges[i])
			want, step = canonical(e), e.Step
		} else {
			want = "(nothing: the recording ends here)"
		}
		if i < len(replayed.Exchanges) {
			e := mask(recorded.Scenario, replayed.Exchanges[i])
			got = canonical(e)
			if step == "" {
				step = e.Step
			}
		} else {
			got = "(nothing: the replay ended here)"
		}
		// A recording that aborted where the replay ended normally matches
		// when the abort is a known difference (a real server's crash).
		if i >= len(replayed.Exchanges) && i < len(recorded.Exchanges) && recorded.Exchanges[i].Step == "abort" &&
			mask(recorded.Scenario, recorded.Exchanges[i]).Aborted == "" {
			continue
		}
		if want != got {
			out = append(out, fmt.Sprintf("exchange %d (%s):\n%s", i, step, lineDiff(want, got)))
		}
	}
	return out
}

// lineDiff shows the lines of want and got that differ, in order, with
// the line before each run for context.
func lineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	// Longest common subsequence over lines: transcripts are small.
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	var sb strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || dp[i][j+1] >= dp[i+1][j]):
			fmt.Fprintf(&sb, "  emulator: %s\n", b[j])
			j++
		default:
			fmt.Fprintf(&sb, "  kalamdb:  %s\n", a[i])
			i++
		}
	}
	return sb.String()
}

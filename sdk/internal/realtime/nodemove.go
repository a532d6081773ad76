package realtime

import "time"

// A subscription's checkpoint is a _seq, and KalamDB stamps _seq on each
// node as that node applies a change: a snowflake of the node's clock
// (kalamdb-commons ids/seq_id.rs), so one row has a different _seq on
// every node of a cluster, a few milliseconds apart. When the WebSocket
// moves to another node, a subscription therefore resumes from its
// checkpoint rewound (DefaultMoveRewind), and drops the rows it already
// delivered, recognised by their content (every column but _seq and
// _commit_seq). Rows changed on the old node but not yet delivered come
// again from the new one; none is delivered twice.

// Mover keeps subscriptions whole when the connection moves to another
// node. Config.Moves holds one (NewMover) when there are several nodes; it
// is an interface so that programs with one URL do not link this code.
type Mover interface {
	remember(s *Sub, msg *ServerMessage)
	rewind(s *Sub)
	drop(s *Sub, rows []RawRow, deleted bool) []RawRow
}

// NewMover returns the Mover that rewinds by rewind (DefaultMoveRewind
// when <= 0).
func NewMover(rewind time.Duration) Mover {
	if rewind <= 0 {
		rewind = DefaultMoveRewind
	}
	return nodeMover{back: rewind}
}

type nodeMover struct{ back time.Duration }

// DefaultMoveRewind covers the clock skew and replication lag between
// nodes (tens of milliseconds when healthy) with a wide margin.
const DefaultMoveRewind = 10 * time.Second

// seqMillisShift places milliseconds in a _seq (seq_id.rs: ms << 22).
const seqMillisShift = 22

// rewind moves the checkpoint back for a resume on another node and
// arms the filter of rows already delivered. Called with s.mu held.
func (mv nodeMover) rewind(s *Sub) {
	if !s.hasCheckpoint || s.opts.FullResync {
		return
	}
	x := s.extra()
	x.skip, x.probeSeen = nil, nil // _seq values of the old node
	rewind := mv.back
	if x.delivered != nil {
		// Keep what an earlier move still skips: a third node may repeat
		// rows of the first.
		if x.moveSkip == nil {
			x.moveSkip = map[uint64]bool{}
		}
		for _, p := range x.delivered.prints {
			x.moveSkip[p] = true
		}
		x.delivered = nil
	}
	s.checkpoint = rewound(s.checkpoint, rewind)
	x.moveUntil = s.checkpoint + 2*(rewind.Milliseconds()<<seqMillisShift)
	s.trimExtra()
}

// drop removes rows a moved resume repeats. They stay in the
// filter: a further move may repeat them again.
func (nodeMover) drop(s *Sub, rows []RawRow, deleted bool) []RawRow {
	if s.x == nil || s.x.moveSkip == nil {
		return rows
	}
	keep := rows[:0:0]
	for _, r := range rows {
		if !s.x.moveSkip[fingerprint(r, deleted)] {
			keep = append(keep, r)
		}
	}
	return keep
}

// remember keeps what a resume on another node may repeat of msg,
// and forgets what no resume can repeat any more.
func (mv nodeMover) remember(s *Sub, msg *ServerMessage) {
	if s.opts.FullResync || (msg.Type != TypeInitialBatch && msg.Type != TypeChange) {
		return
	}
	x := s.extra()
	if x.delivered == nil {
		x.delivered = &deliveredRows{}
	}
	deleted := msg.Type == TypeChange && msg.ChangeType == "delete"
	for _, r := range msg.Rows {
		if seq, ok := r.Seq(); ok {
			x.delivered.add(seq, fingerprint(r, deleted))
		}
	}
	x.delivered.trim(rewound(s.checkpoint, mv.back))
	if x.moveSkip != nil && s.checkpoint > x.moveUntil {
		x.moveSkip = nil
	}
}

// rewound returns seq moved back by d of the node clock it encodes.
func rewound(seq int64, d time.Duration) int64 {
	back := d.Milliseconds() << seqMillisShift
	if seq < back {
		return 0
	}
	return seq - back
}

// deliveredRows remembers, by content, the rows delivered whose _seq is
// within the rewind of the checkpoint: what a moved resume may repeat. It
// is kept only when the client knows several nodes.
type deliveredRows struct {
	seqs   []int64
	prints []uint64
}

func (d *deliveredRows) add(seq int64, print uint64) {
	d.seqs = append(d.seqs, seq)
	d.prints = append(d.prints, print)
}

// trim forgets rows at or below seq. Rows arrive mostly in _seq order,
// so the old ones sit at the front.
func (d *deliveredRows) trim(seq int64) {
	n := 0
	for n < len(d.seqs) && d.seqs[n] <= seq {
		n++
	}
	// Reslicing, not copying, keeps a push O(1): append moves the live
	// rows to a new array when the old one's tail is used up.
	d.seqs, d.prints = d.seqs[n:], d.prints[n:]
}

// fingerprint hashes a row's content without the per-node columns, with
// its kind (a deleted row is not the row it deletes). Cells are hashed one
// by one (FNV-1a, 64 bits, then mixed) and summed, because a node sends a row's
// columns in a different order in a change than in a snapshot.
func fingerprint(r RawRow, deleted bool) uint64 {
	var sum uint64
	if deleted {
		sum = 0x9e3779b97f4a7c15
	}
	for _, c := range r {
		if c.Name == "_seq" || c.Name == "_commit_seq" {
			continue
		}
		const prime = 1099511628211
		h := uint64(14695981039346656037)
		for i := 0; i < len(c.Name); i++ {
			h = (h ^ uint64(c.Name[i])) * prime
		}
		h = (h ^ 0xff) * prime // separates name from value
		for _, b := range c.Value {
			h = (h ^ uint64(b)) * prime
		}
		sum += mix(h)
	}
	return sum
}

// mix is splitmix64's finaliser: every input bit affects every output bit,
// so sums of mixed cell hashes do not cancel the way raw FNV values can.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

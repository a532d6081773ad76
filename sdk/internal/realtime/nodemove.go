package realtime

import "time"

// A subscription's checkpoint is a _seq, and KalamDB stamps _seq on each
// node as that node applies a change: a snowflake of the node's clock
// (kalamdb-commons ids/seq_id.rs), so one row has a different _seq on
// every node of a cluster, a few milliseconds apart. When the WebSocket
// moves to another node, a subscription therefore resumes from its
// checkpoint rewound by MoveRewind, and drops the rows it already
// delivered, recognised by their content (every column but _seq and
// _commit_seq). Rows changed on the old node but not yet delivered come
// again from the new one; none is delivered twice.

// DefaultMoveRewind covers the clock skew and replication lag between
// nodes (tens of milliseconds when healthy) with a wide margin.
const DefaultMoveRewind = 10 * time.Second

// seqMillisShift places milliseconds in a _seq (seq_id.rs: ms << 22).
const seqMillisShift = 22

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
	if n == 0 {
		return
	}
	d.seqs = append(d.seqs[:0], d.seqs[n:]...)
	d.prints = append(d.prints[:0], d.prints[n:]...)
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

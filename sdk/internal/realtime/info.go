package realtime

// SubState is a subscription's state for introspection.
type SubState int

const (
	SubSubscribing SubState = iota // subscribe sent (or about to be), no ack yet
	SubLoading                     // acked, snapshot pages still coming
	SubLive                        // snapshot done, live changes flowing
	SubResyncing                   // the consumer fell behind; resuming from its checkpoint
	SubClosed                      // closed or failed
)

// State reports the subscription's state.
func (s *Sub) State() SubState {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.phase {
	case phaseLoading:
		return SubLoading
	case phaseLive:
		return SubLive
	case phaseOverflown:
		return SubResyncing
	case phaseDone:
		return SubClosed
	}
	return SubSubscribing
}

// SQL is the subscription's query as given.
func (s *Sub) SQL() string { return s.sql }

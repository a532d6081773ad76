package realtime

// The package's tests decode MessagePack frames without a client's
// WithMessagePack.
func init() { EnableMessagePack() }

package emulator

import "net/http"

// handleWS is GET /v1/ws. The realtime protocol (kalamdb/ws-protocol.md) is
// a separate piece of work that replaces this file; until then /v1/ws
// answers as an unknown route: 404 with an empty body.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNotFound)
}

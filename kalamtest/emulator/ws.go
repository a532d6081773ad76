package emulator

import (
	"errors"
	"net/http"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/live"
)

// handleWS is GET /v1/ws, the realtime protocol (kalamdb/ws-protocol.md),
// served by package live. Without a live server (scripted backends in this
// package's own tests) it answers as an unknown route: 404, empty body.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	if s.live == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	s.live.ServeHTTP(w, r)
}

// identityForAccessToken is the WebSocket's token check: the same bearer
// validation as the HTTP endpoints.
func (s *Server) identityForAccessToken(token string) (engine.Identity, error) {
	u, err := s.userForAccessToken(token)
	if errors.Is(err, errTokenExpired) {
		return engine.Identity{}, live.ErrTokenExpired
	}
	if err != nil {
		return engine.Identity{}, err
	}
	return engine.Identity{UserID: u.ID, Role: u.Role}, nil
}

// CutWebSockets drops every live WebSocket connection abruptly (no close
// frame), as a network failure would: for reconnect and resume tests.
func (s *Server) CutWebSockets() {
	if s.live != nil {
		s.live.CutAll()
	}
}

// WebSocketStats reports open WebSocket connections and subscriptions.
func (s *Server) WebSocketStats() live.Stats {
	if s.live == nil {
		return live.Stats{}
	}
	return s.live.Stats()
}

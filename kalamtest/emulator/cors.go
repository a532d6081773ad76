package emulator

import (
	"net/http"
	"strings"
)

// The real server's CORS defaults (security.cors, http-api.md §1.1).
var (
	corsMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}
	corsHeaders = []string{"authorization", "content-type", "accept", "origin", "x-requested-with"}
)

const corsMaxAge = "3600"

// handleCORS is actix-cors as build_cors_from_config sets it up: the
// request Origin is echoed (never "*") on every response, errors included;
// a preflight (OPTIONS with Access-Control-Request-Method) is answered here;
// a disallowed origin is blocked with 400. Requests without Origin pass
// untouched. It reports whether the response is complete.
func (s *Server) handleCORS(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	if !s.anyOrigin && !s.origins[origin] {
		writeActixError(w, http.StatusBadRequest, "Origin is not allowed to make this request")
		return true
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	reqMethod := r.Header.Get("Access-Control-Request-Method")
	if r.Method != http.MethodOptions || reqMethod == "" {
		return false
	}
	if !contains(corsMethods, reqMethod) {
		writeActixError(w, http.StatusBadRequest, "Requested method is not allowed")
		return true
	}
	if reqHeaders := r.Header.Get("Access-Control-Request-Headers"); reqHeaders != "" {
		for _, name := range strings.Split(reqHeaders, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "" && !contains(corsHeaders, name) {
				writeActixError(w, http.StatusBadRequest, "Requested header is not allowed")
				return true
			}
		}
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(corsMethods, ", "))
	h.Set("Access-Control-Allow-Headers", strings.Join(corsHeaders, ", "))
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusOK)
	return true
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

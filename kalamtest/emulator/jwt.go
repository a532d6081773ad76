package emulator

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
)

// Token types of the token_type claim (http-api.md §3.3).
const (
	tokenAccess  = "access"
	tokenRefresh = "refresh"
	jwtIssuer    = "kalamdb"
)

// jwtHeader is the header jsonwebtoken writes for HS256, byte for byte.
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256"}`))

// claims are the real server's JwtClaims, in its field order. email is
// always present (null when unset); role and token_type are always set on
// issued tokens but optional when verifying.
type claims struct {
	Sub       string  `json:"sub"`
	Iss       string  `json:"iss"`
	Exp       int64   `json:"exp"`
	Iat       int64   `json:"iat"`
	Email     *string `json:"email"`
	Role      *string `json:"role"`
	TokenType *string `json:"token_type,omitempty"`
}

// signToken mints a token for u that lives ttl from now.
func (s *Server) signToken(u engine.User, tokenType string, now time.Time, ttl time.Duration) (string, error) {
	role := string(u.Role)
	c := claims{
		Sub: u.ID, Iss: jwtIssuer,
		Exp: now.Add(ttl).Unix(), Iat: now.Unix(),
		Email: u.Email, Role: &role, TokenType: &tokenType,
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode JWT claims: %w", err)
	}
	signingInput := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	return signingInput + "." + s.hs256(signingInput), nil
}

func (s *Server) hs256(signingInput string) string {
	mac := hmac.New(sha256.New, s.jwtSecret)
	mac.Write([]byte(signingInput))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Token verification failures, in the real server's AuthError terms; the
// endpoints map them to their own bodies.
var (
	errTokenMalformed = errors.New("malformed token")
	errTokenSignature = errors.New("invalid token signature")
	errTokenExpired   = errors.New("token expired")
	errTokenIssuer    = errors.New("untrusted issuer")
	errTokenNoSubject = errors.New("token is missing the sub claim")
)

// verifyToken checks a token as jsonwebtoken does with the server's
// Validation (HS256 only, exp required, 60 s leeway, iat not in the future,
// issuer "kalamdb"), and returns its claims.
func (s *Server) verifyToken(token string) (claims, error) {
	var c claims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, fmt.Errorf("%w: Invalid JWT header: InvalidToken", errTokenMalformed)
	}
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return c, fmt.Errorf("%w: Invalid JWT header: Base64 error", errTokenMalformed)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		return c, fmt.Errorf("%w: Invalid JWT header: JSON error", errTokenMalformed)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, fmt.Errorf("%w: JWT decode error: Base64 error", errTokenMalformed)
	}
	// The issuer is checked before the signature (bearer.rs), so a forged
	// token from another issuer is "untrusted", not "bad signature".
	var unverified struct {
		Iss *string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &unverified); err != nil {
		return c, fmt.Errorf("%w: JWT decode error: JSON error", errTokenMalformed)
	}
	if unverified.Iss == nil || *unverified.Iss != jwtIssuer {
		return c, errTokenIssuer
	}
	if h.Alg != "HS256" {
		return c, fmt.Errorf("%w: JWT decode error: InvalidAlgorithm", errTokenMalformed)
	}
	want := s.hs256(parts[0] + "." + parts[1])
	if !hmac.Equal([]byte(want), []byte(parts[2])) {
		return c, errTokenSignature
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&c); err != nil || c.Exp == 0 {
		return c, fmt.Errorf("%w: JWT decode error: Missing required claim: exp", errTokenMalformed)
	}
	now := s.clock.Now().Unix()
	leeway := int64(jwtLeeway / time.Second)
	if c.Exp < now-leeway {
		return c, errTokenExpired
	}
	if c.Iat > now+leeway {
		return c, fmt.Errorf("%w: Token issued in the future (iat: %d, now: %d)", errTokenMalformed, c.Iat, now)
	}
	if c.Sub == "" {
		return c, errTokenNoSubject
	}
	return c, nil
}

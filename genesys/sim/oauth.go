package sim

import (
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// token is an issued access token.
type token struct {
	clientID string
	expires  time.Time
}

// oauthError is the body of an OAuth error answer.
type oauthError struct {
	Error            string `json:"error"`
	Description      string `json:"description"`
	ErrorDescription string `json:"error_description"`
}

// tokenReply is the body of a successful token answer.
type tokenReply struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// serveToken answers POST /oauth/token with the client credentials grant.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, cid string) {
	now := s.cfg.Now()
	s.mu.Lock()
	s.stats.Requests++
	outage := s.inOutage(now)
	if outage {
		s.stats.OutageRejected++
	}
	s.mu.Unlock()

	rep := s.issueToken(r, cid, now, outage)
	s.count(rep.status)
	writeReply(w, rep)
}

// issueToken checks the grant and mints a token.
func (s *Server) issueToken(r *http.Request, cid string, now time.Time, outage bool) reply {
	switch {
	case outage:
		return errorReply(cid, http.StatusServiceUnavailable, codeUnavailable, msgServiceUnavailable)
	case r.Method != http.MethodPost:
		return errorReply(cid, http.StatusMethodNotAllowed, codeMethod, "Use POST.")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		return oauthReply(http.StatusBadRequest, "invalid_request", "malformed form body")
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != s.cfg.ClientID || secret != s.cfg.ClientSecret {
		return oauthReply(http.StatusBadRequest, "invalid_client", "client not found")
	}
	if g := r.PostForm.Get("grant_type"); g != "client_credentials" {
		return oauthReply(http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if ok, wait := s.tokenLimit.admit("client:"+id, now); !ok {
		s.stats.RateLimited++
		return s.tooMany(cid, now, wait)
	}
	access := newToken()
	s.tokens[access] = token{clientID: id, expires: now.Add(s.cfg.TokenLifetime)}
	s.stats.TokensIssued++
	s.log.Debug("token issued", slog.String("client_id", id))
	return jsonReply(http.StatusOK, tokenReply{
		AccessToken: access,
		TokenType:   "bearer",
		ExpiresIn:   int64(s.cfg.TokenLifetime / time.Second),
	})
}

// oauthReply builds an OAuth error answer.
func oauthReply(status int, code, desc string) reply {
	return jsonReply(status, oauthError{Error: code, Description: desc, ErrorDescription: desc})
}

// newToken returns an opaque, unguessable access token.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// authenticate returns the bearer token of r, or the 401 to answer; the
// caller holds s.mu.
func (s *Server) authenticate(r *http.Request, cid string, now time.Time) (string, *reply) {
	h := r.Header.Get("Authorization")
	scheme, access, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "bearer") || access == "" {
		rep := errorReply(cid, http.StatusUnauthorized, codeAuthRequired, msgAuthRequired)
		return "", &rep
	}
	t, ok := s.tokens[access]
	if !ok || !now.Before(t.expires) {
		rep := errorReply(cid, http.StatusUnauthorized, codeBadCredentials, msgBadCredentials)
		return "", &rep
	}
	return access, nil
}

// RevokeTokens revokes every token issued so far: requests carrying one
// answer 401 bad.credentials. New tokens can still be had.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

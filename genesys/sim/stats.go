package sim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Stats counts what the simulator saw and did. Requests counts /api/v2 and
// /oauth/token requests, not /sim ones.
type Stats struct {
	Requests int64            `json:"requests"`
	ByStatus map[string]int64 `json:"by_status"` // status code → answers sent

	PatchesApplied int64 `json:"patches_applied"` // PATCHes that changed something
	PatchesNoop    int64 `json:"patches_noop"`    // PATCHes that changed nothing
	UsersMoved     int64 `json:"users_moved"`     // division moves that changed something
	MovesNoop      int64 `json:"moves_noop"`      // users moved to the division they were in
	TokensIssued   int64 `json:"tokens_issued"`   // tokens minted
	RateLimited    int64 `json:"rate_limited"`    // 429 answers

	FaultErrors     int64 `json:"fault_errors"`     // 5xx answers injected by ErrorRate
	OutageRejected  int64 `json:"outage_rejected"`  // 503 answers during an outage
	ResetsBefore    int64 `json:"resets_before"`    // connections dropped before handling
	ResetsAfter     int64 `json:"resets_after"`     // connections dropped after handling
	SlowAnswers     int64 `json:"slow_answers"`     // answers held back by SlowDelay
	ConcurrentEdits int64 `json:"concurrent_edits"` // versions bumped by the other writer

	// MaxPatchesPerUser is the most changing PATCHes any one user got: a
	// figure above what the plan asks for means a change was applied twice.
	MaxPatchesPerUser int64 `json:"max_patches_per_user"`
}

// Stats returns a copy of the counters, the same data as GET /sim/stats.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByStatus = make(map[string]int64, len(s.stats.ByStatus))
	for k, v := range s.stats.ByStatus {
		st.ByStatus[k] = v
	}
	return st
}

// count records an answer's status.
func (s *Server) count(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.ByStatus[strconv.Itoa(status)]++
}

// serveSim answers the simulator's own endpoints, which faults never touch.
func (s *Server) serveSim(w http.ResponseWriter, r *http.Request, cid string) {
	switch route := r.Method + " " + r.URL.Path; route {
	case "GET /sim/stats":
		writeReply(w, jsonReply(http.StatusOK, s.Stats()))
	case "GET /sim/users":
		s.writeUsers(w)
	case "POST /sim/revoke":
		s.RevokeTokens()
		w.WriteHeader(http.StatusNoContent)
	case "POST /sim/outage":
		d, err := time.ParseDuration(r.URL.Query().Get("for"))
		if err != nil || d <= 0 {
			writeReply(w, errorReply(cid, http.StatusBadRequest, codeInvalidValue,
				"for must be a positive duration such as 30s"))
			return
		}
		s.Outage(d)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeReply(w, errorReply(cid, http.StatusNotFound, codeNotFound,
			"The requested resource was not found."))
	}
}

// writeUsers streams every user as JSON Lines.
func (s *Server) writeUsers(w http.ResponseWriter) {
	users := s.Users()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	for i := range users {
		if err := enc.Encode(&users[i]); err != nil {
			return // the client went away
		}
	}
}

package sim

import (
	"fmt"
	"net/http"
	"strings"
)

// moveUsers answers POST /api/v2/authorization/divisions/{id}/objects/USER:
// a JSON array of user ids moved into the division, 204 with no body. A
// move leaves the user's version as it is.
func (s *Server) moveUsers(r *http.Request, rest, cid string) reply {
	divID, kind, ok := strings.Cut(rest, "/objects/")
	if !ok || kind != "USER" || strings.Contains(divID, "/") {
		return notFound(cid, "")
	}
	div, ok := s.divisions[divID] // fixed after New: no lock needed
	if !ok {
		return notFound(cid, divID)
	}
	var ids []string
	if rep := readJSON(r, cid, &ids); rep != nil {
		return *rep
	}
	if len(ids) == 0 || len(ids) > s.cfg.MoveBatchMax {
		return errorReply(cid, http.StatusBadRequest, codeBadRequest, fmt.Sprintf(
			"Between 1 and %d object ids may be moved in one request.", s.cfg.MoveBatchMax))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if s.users[id] == nil {
			return errorReply(cid, http.StatusBadRequest, codeInvalidValue,
				"The object "+id+" does not exist; nothing was moved.")
		}
	}
	for _, id := range ids {
		u := s.users[id]
		if u.Division != nil && u.Division.ID == div.ID {
			s.stats.MovesNoop++
			continue
		}
		d := div
		u.Division = &d
		s.stats.UsersMoved++
	}
	return reply{status: http.StatusNoContent, header: http.Header{}}
}

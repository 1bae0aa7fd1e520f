package sim

import (
	"net/http"
	"strings"

	"github.com/gcbulk/gcbulk/genesys"
)

// searchRequest is the body of POST /api/v2/users/search.
type searchRequest struct {
	PageSize   int              `json:"pageSize"`
	PageNumber int              `json:"pageNumber"`
	Query      []searchCriteria `json:"query"`
}

// searchCriteria is one criterion of a search; criteria combine with AND.
type searchCriteria struct {
	Type   string   `json:"type"`
	Fields []string `json:"fields"`
	Value  string   `json:"value"`
	Values []string `json:"values"`
}

// searchReply is the answer of a search. Genesys leaves results out when
// nothing matched.
type searchReply struct {
	Total      int            `json:"total"`
	PageCount  int            `json:"pageCount"`
	PageSize   int            `json:"pageSize"`
	PageNumber int            `json:"pageNumber"`
	Types      []string       `json:"types"`
	Results    []genesys.User `json:"results,omitempty"`
}

// searchUsers answers POST /api/v2/users/search for EXACT criteria on
// email (case-insensitive), id or username.
func (s *Server) searchUsers(r *http.Request, cid string) reply {
	var req searchRequest
	if rep := readJSON(r, cid, &req); rep != nil {
		return *rep
	}
	if req.PageSize == 0 {
		req.PageSize = DefaultPageSize
	}
	if req.PageNumber == 0 {
		req.PageNumber = 1
	}
	if len(req.Query) == 0 || req.PageSize < 0 || req.PageSize > 100 || req.PageNumber < 0 {
		return errorReply(cid, http.StatusBadRequest, codeInvalidValue,
			"A search needs at least one criterion and a pageSize of at most 100.")
	}
	for _, c := range req.Query {
		if !strings.EqualFold(c.Type, "EXACT") || len(c.Fields) == 0 {
			return errorReply(cid, http.StatusBadRequest, codeInvalidValue,
				"Only EXACT criteria with fields are supported by the simulator.")
		}
	}

	s.mu.Lock()
	var match []genesys.User
	for _, id := range s.ids {
		u := s.users[id]
		if matchesAll(u, req.Query) {
			match = append(match, *cloneUser(u))
		}
	}
	s.mu.Unlock()

	total := len(match)
	from := min(total, (req.PageNumber-1)*req.PageSize)
	to := min(total, req.PageNumber*req.PageSize)
	return jsonReply(http.StatusOK, searchReply{
		Total: total, PageCount: (total + req.PageSize - 1) / req.PageSize,
		PageSize: req.PageSize, PageNumber: req.PageNumber,
		Types: []string{"users"}, Results: match[from:to],
	})
}

// matchesAll reports whether u meets every criterion.
func matchesAll(u *genesys.User, query []searchCriteria) bool {
	for _, c := range query {
		if !matches(u, c) {
			return false
		}
	}
	return true
}

// matches reports whether any of c's fields of u equals any of its values.
func matches(u *genesys.User, c searchCriteria) bool {
	values := c.Values
	if c.Value != "" {
		values = append([]string{c.Value}, values...)
	}
	for _, f := range c.Fields {
		var have string
		switch f {
		case "email":
			have = u.Email
		case "username":
			have = u.Username
		case "id":
			have = u.ID
		case "name":
			have = u.Name
		}
		for _, v := range values {
			if have != "" && strings.EqualFold(have, v) {
				return true
			}
		}
	}
	return false
}

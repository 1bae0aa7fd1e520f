package sim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gcbulk/gcbulk/genesys"
)

// userPage is the answer of GET /api/v2/users.
type userPage struct {
	Entities   []genesys.User `json:"entities"`
	PageSize   int            `json:"pageSize"`
	PageNumber int            `json:"pageNumber"`
	Total      int            `json:"total"`
	PageCount  int            `json:"pageCount"`
	FirstURI   string         `json:"firstUri,omitempty"`
	NextURI    string         `json:"nextUri,omitempty"`
	PrevURI    string         `json:"previousUri,omitempty"`
	LastURI    string         `json:"lastUri,omitempty"`
	SelfURI    string         `json:"selfUri,omitempty"`
}

// route carries out an admitted /api/v2 request.
func (s *Server) route(r *http.Request, cid string, d decision) reply {
	p := strings.TrimPrefix(r.URL.Path, "/api/v2")
	m := r.Method
	switch {
	case p == "/users" && m == http.MethodGet:
		return s.listUsers(r.URL.Query(), cid)
	case p == "/users/search" && m == http.MethodPost:
		return s.searchUsers(r, cid)
	case strings.HasPrefix(p, "/users/") && !strings.Contains(p[len("/users/"):], "/"):
		id := p[len("/users/"):]
		switch m {
		case http.MethodGet:
			return s.getUser(id, cid)
		case http.MethodPatch:
			return s.patchUser(r, id, cid, d.conflict)
		}
		return errorReply(cid, http.StatusMethodNotAllowed, codeMethod, "Method not allowed.")
	case strings.HasPrefix(p, "/authorization/divisions/") && m == http.MethodPost:
		return s.moveUsers(r, strings.TrimPrefix(p, "/authorization/divisions/"), cid)
	}
	return notFound(cid, "")
}

// notFound builds a 404 not.found answer, naming the entity when known.
func notFound(cid, id string) reply {
	rep := jsonReply(http.StatusNotFound, apiError{
		Message:   "The requested resource was not found.",
		Code:      codeNotFound,
		Status:    http.StatusNotFound,
		ContextID: cid,
		Details:   []errorDetail{},
		Errors:    []any{},
		EntityID:  id,
	})
	return rep
}

// getUser answers GET /api/v2/users/{id}.
func (s *Server) getUser(id, cid string) reply {
	s.mu.Lock()
	u, ok := s.users[id]
	var c genesys.User
	if ok {
		c = *cloneUser(u)
	}
	s.mu.Unlock()
	if !ok {
		return notFound(cid, id)
	}
	return jsonReply(http.StatusOK, &c)
}

// listUsers answers GET /api/v2/users: by id when ids are given, else a
// page of every user in id order.
func (s *Server) listUsers(q url.Values, cid string) reply {
	var ids []string
	for _, v := range q["id"] {
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) > MaxUserIDs {
		return errorReply(cid, http.StatusBadRequest, codeMaxUserIDs,
			"The maximum number of user ids is "+strconv.Itoa(MaxUserIDs)+".")
	}
	size, number, bad := paging(q, cid)
	if bad != nil {
		return *bad
	}
	state := q.Get("state")
	if len(ids) > 0 {
		return s.usersByID(ids, state)
	}
	if lim := s.cfg.DeepPagingLimit; lim > 0 && size*number > lim {
		return errorReply(cid, http.StatusBadRequest, codeBadRequest,
			"Paging past "+strconv.Itoa(lim)+" results is not supported; narrow the query.")
	}
	return s.userPage(size, number, state)
}

// paging reads pageSize and pageNumber.
func paging(q url.Values, cid string) (size, number int, bad *reply) {
	size, number = DefaultPageSize, 1
	for _, f := range []struct {
		name string
		dst  *int
		max  int
	}{{"pageSize", &size, MaxPageSize}, {"pageNumber", &number, 1 << 30}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > f.max {
			rep := errorReply(cid, http.StatusBadRequest, codeInvalidValue,
				"Value ["+v+"] is not valid for field type "+f.name+".")
			return 0, 0, &rep
		}
		*f.dst = n
	}
	return size, number, nil
}

// stateMatches reports whether a user in state u is listed for the state
// filter want. Genesys lists only active users when no state is given;
// "any" lists every state.
func stateMatches(u, want string) bool {
	if want == "" {
		want = "active"
	}
	return want == "any" || strings.EqualFold(u, want)
}

// usersByID answers a lookup of up to 100 ids; unknown ids are left out.
func (s *Server) usersByID(ids []string, state string) reply {
	s.mu.Lock()
	seen := make(map[string]bool, len(ids))
	found := make([]genesys.User, 0, len(ids))
	for _, id := range ids {
		u, ok := s.users[id]
		if !ok || seen[id] || !stateMatches(u.State, state) {
			continue
		}
		seen[id] = true
		found = append(found, *cloneUser(u))
	}
	s.mu.Unlock()
	return jsonReply(http.StatusOK, userPage{
		Entities: found, PageSize: len(ids), PageNumber: 1, Total: len(found), PageCount: 1,
	})
}

// userPage answers one page of the whole directory.
func (s *Server) userPage(size, number int, state string) reply {
	s.mu.Lock()
	var match []string
	if state == "" || state == "any" {
		match = s.ids
	} else {
		for _, id := range s.ids {
			if stateMatches(s.users[id].State, state) {
				match = append(match, id)
			}
		}
	}
	total := len(match)
	from, to := min(total, (number-1)*size), min(total, number*size)
	page := make([]genesys.User, 0, to-from)
	for _, id := range match[from:to] {
		page = append(page, *cloneUser(s.users[id]))
	}
	s.mu.Unlock()

	count := (total + size - 1) / size
	uri := func(n int) string {
		return "/api/v2/users?pageSize=" + strconv.Itoa(size) + "&pageNumber=" + strconv.Itoa(n)
	}
	p := userPage{Entities: page, PageSize: size, PageNumber: number, Total: total,
		PageCount: count, SelfURI: uri(number), FirstURI: uri(1), LastURI: uri(max(1, count))}
	if number < count {
		p.NextURI = uri(number + 1)
	}
	if number > 1 {
		p.PrevURI = uri(number - 1)
	}
	return jsonReply(http.StatusOK, p)
}

package genesys

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// directory is a small in-memory user directory behind Genesys-shaped
// endpoints, for operation and resolution tests.
type directory struct {
	mu        sync.Mutex
	users     []User
	deepLimit int // list pages reaching past this many results answer 400

	lists, searches, gets atomic.Int64
	lastUA, lastCT        atomic.Value
}

func newDirectory(n int) *directory {
	d := &directory{}
	for i := range n {
		d.users = append(d.users, User{
			ID:       fmt.Sprintf("id-%05d", i),
			Name:     fmt.Sprintf("User %d", i),
			Email:    fmt.Sprintf("user%d@example.com", i),
			Version:  1,
			Division: &Division{ID: "div-home"},
		})
	}
	return d
}

func (d *directory) handler() http.HandlerFunc {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/users", d.list)
	mux.HandleFunc("GET /api/v2/users/{id}", d.get)
	mux.HandleFunc("PATCH /api/v2/users/{id}", d.patch)
	mux.HandleFunc("POST /api/v2/users/search", d.search)
	mux.HandleFunc("POST /api/v2/authorization/divisions/{div}/objects/USER", d.move)
	return func(w http.ResponseWriter, r *http.Request) {
		d.lastUA.Store(r.Header.Get("User-Agent"))
		d.lastCT.Store(r.Header.Get("Content-Type"))
		mux.ServeHTTP(w, r)
	}
}

func (d *directory) find(id string) *User {
	for i := range d.users {
		if d.users[i].ID == id {
			return &d.users[i]
		}
	}
	return nil
}

func (d *directory) list(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	q := r.URL.Query()
	size, _ := strconv.Atoi(q.Get("pageSize"))
	number, _ := strconv.Atoi(q.Get("pageNumber"))
	if size == 0 {
		size = 25
	}
	if number == 0 {
		number = 1
	}

	all := d.users
	if ids := q["id"]; len(ids) > 0 {
		d.gets.Add(1)
		all = nil
		for _, id := range ids {
			if u := d.find(id); u != nil {
				all = append(all, *u)
			}
		}
	} else {
		d.lists.Add(1)
	}
	if d.deepLimit > 0 && number*size > d.deepLimit {
		writeError(w, 400, "bad.request", "paging too deep")
		return
	}

	lo, hi := min((number-1)*size, len(all)), min(number*size, len(all))
	writeJSON(w, UserPage{Entities: all[lo:hi], PageSize: size, PageNumber: number,
		Total: len(all), PageCount: (len(all) + size - 1) / size})
}

func (d *directory) get(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u := d.find(r.PathValue("id"))
	if u == nil {
		writeError(w, 404, "not.found", "user not found")
		return
	}
	writeJSON(w, u)
}

func (d *directory) patch(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var p Patch
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		writeError(w, 400, "bad.request", "bad json")
		return
	}
	u := d.find(r.PathValue("id"))
	switch {
	case u == nil:
		writeError(w, 404, "not.found", "user not found")
	case p.Version != u.Version:
		writeError(w, 409, "general.conflict",
			fmt.Sprintf("version %d does not match %d", p.Version, u.Version))
	default:
		if p.Title != nil {
			u.Title = *p.Title
		}
		if p.Name != nil {
			u.Name = *p.Name
		}
		u.Version++
		writeJSON(w, u)
	}
}

func (d *directory) search(w http.ResponseWriter, r *http.Request) {
	d.searches.Add(1)
	var req searchRequest
	if json.NewDecoder(r.Body).Decode(&req) != nil || len(req.Query) != 1 ||
		req.Query[0].Type != "EXACT" || req.Query[0].Fields[0] != "email" {
		writeError(w, 400, "bad.request", "bad search")
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	reply := searchReply{Results: []User{}}
	for _, u := range d.users {
		if strings.EqualFold(u.Email, req.Query[0].Value) {
			reply.Results = append(reply.Results, u)
		}
	}
	reply.Total = len(reply.Results)
	writeJSON(w, reply)
}

func (d *directory) move(w http.ResponseWriter, r *http.Request) {
	var ids []string
	if err := json.NewDecoder(r.Body).Decode(&ids); err != nil {
		writeError(w, 400, "bad.request", "bad json")
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		if u := d.find(id); u != nil {
			u.Division = &Division{ID: r.PathValue("div")}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

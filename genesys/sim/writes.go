package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gcbulk/gcbulk/genesys"
)

// readJSON decodes the JSON body of r into v, or returns the 415, 413 or
// 400 to answer.
func readJSON(r *http.Request, cid string, v any) *reply {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		rep := errorReply(cid, http.StatusUnsupportedMediaType, codeMediaType,
			"Unsupported media type; send application/json.")
		return &rep
	}
	tooLarge := func() *reply {
		rep := errorReply(cid, http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("The request body is larger than %d bytes.", MaxBodyBytes))
		return &rep
	}
	if r.ContentLength > MaxBodyBytes {
		return tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		rep := errorReply(cid, http.StatusBadRequest, codeBadRequest,
			"The request body could not be read.")
		return &rep
	}
	if len(body) > MaxBodyBytes {
		return tooLarge()
	}
	if err := json.Unmarshal(body, v); err != nil {
		rep := errorReply(cid, http.StatusBadRequest, codeBadRequest,
			"The request could not be understood by the server due to malformed syntax.")
		return &rep
	}
	return nil
}

// updateUser is the part of an UpdateUser body the simulator honours.
type updateUser struct {
	genesys.Patch
	Version *int `json:"version"`
}

// patchUser answers PATCH /api/v2/users/{id} with the version rules.
// edited means another writer bumped the user's version just before.
func (s *Server) patchUser(r *http.Request, id, cid string, edited bool) reply {
	var body updateUser
	if rep := readJSON(r, cid, &body); rep != nil {
		return *rep
	}
	if body.Version == nil {
		return errorReply(cid, http.StatusBadRequest, codeBadRequest,
			"The version is required to update a user.")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return notFound(cid, id)
	}
	if edited {
		u.Version++
		s.stats.ConcurrentEdits++
	}
	if *body.Version != u.Version {
		return errorReply(cid, http.StatusConflict, codeConflict, fmt.Sprintf(
			"The version %d does not match the current version %d of the user.",
			*body.Version, u.Version))
	}
	next, rep := s.applyPatch(u, &body.Patch, cid)
	if rep != nil {
		return *rep
	}
	s.store(u, next)
	return jsonReply(http.StatusOK, cloneUser(next))
}

// applyPatch returns the user u becomes under p, or the 400 to answer; the
// caller holds s.mu. A state in p changes only the state.
func (s *Server) applyPatch(u *genesys.User, p *genesys.Patch, cid string) (*genesys.User, *reply) {
	next := cloneUser(u)
	next.Version++
	if p.State != nil {
		if st := *p.State; st != "active" && st != "inactive" {
			return nil, invalidField(cid, "state", "State must be active or inactive.")
		}
		next.State = *p.State
		return next, nil
	}

	if p.Name != nil {
		if strings.TrimSpace(*p.Name) == "" {
			return nil, invalidField(cid, "name", "The name may not be empty.")
		}
		next.Name = *p.Name
	}
	setString(&next.Department, p.Department)
	setString(&next.Title, p.Title)
	setString(&next.PreferredName, p.PreferredName)
	if p.AcdAutoAnswer != nil {
		b := *p.AcdAutoAnswer
		next.AcdAutoAnswer = &b
	}
	if rep := s.applyRefs(next, p, cid); rep != nil {
		return nil, rep
	}
	return next, nil
}

// applyRefs applies the e-mail and manager of p, which must not clash with
// other users; the caller holds s.mu.
func (s *Server) applyRefs(next *genesys.User, p *genesys.Patch, cid string) *reply {
	if p.Email != nil {
		owner, taken := s.byEmail[strings.ToLower(*p.Email)]
		if !strings.Contains(*p.Email, "@") || (taken && owner != next.ID) {
			return invalidField(cid, "email", "The e-mail address is not valid or is already in use.")
		}
		next.Email = *p.Email
	}
	if p.Manager != nil {
		switch m := *p.Manager; {
		case m == "":
			next.Manager = nil
		case m == next.ID || s.users[m] == nil:
			return invalidField(cid, "manager", "The manager must be another existing user.")
		default:
			next.Manager = &genesys.Ref{ID: m}
		}
	}
	return nil
}

// invalidField builds a 400 invalid.value naming the field.
func invalidField(cid, field, msg string) *reply {
	rep := jsonReply(http.StatusBadRequest, apiError{
		Message:   msg,
		Code:      codeInvalidValue,
		Status:    http.StatusBadRequest,
		ContextID: cid,
		Details:   []errorDetail{{ErrorCode: codeInvalidValue, FieldName: field}},
		Errors:    []any{},
	})
	return &rep
}

// setString sets *dst to *v when v is given.
func setString(dst, v *string) {
	if v != nil {
		*dst = *v
	}
}

// store replaces u by next and counts whether anything changed; the caller
// holds s.mu.
func (s *Server) store(u, next *genesys.User) {
	before := *u
	before.Version = next.Version
	changed := !sameUser(&before, next)
	if u.Email != next.Email {
		delete(s.byEmail, strings.ToLower(u.Email))
		s.byEmail[strings.ToLower(next.Email)] = u.ID
	}
	*u = *next
	if !changed {
		s.stats.PatchesNoop++
		return
	}
	s.stats.PatchesApplied++
	s.patched[u.ID]++
	s.stats.MaxPatchesPerUser = max(s.stats.MaxPatchesPerUser, s.patched[u.ID])
}

// sameUser reports whether a and b hold the same values.
func sameUser(a, b *genesys.User) bool {
	for _, f := range genesys.Fields {
		if a.Field(f) != b.Field(f) {
			return false
		}
	}
	return a.Username == b.Username && a.Version == b.Version
}

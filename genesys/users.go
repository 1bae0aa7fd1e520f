package genesys

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MaxGetUsers is the most ids GET /api/v2/users takes in one call.
const MaxGetUsers = 100

// UserPage is one page of GET /api/v2/users.
type UserPage struct {
	Entities   []User `json:"entities"`
	PageSize   int    `json:"pageSize"`
	PageNumber int    `json:"pageNumber"`
	Total      int    `json:"total"`
	PageCount  int    `json:"pageCount"`
	NextURI    string `json:"nextUri,omitempty"`
}

// GetUsers reads up to 100 users in one request. Ids that do not exist are
// absent from the answer; no ids sends nothing.
func (c *Client) GetUsers(ctx context.Context, ids []string) ([]User, Meta, error) {
	const op = "get users"
	if len(ids) == 0 {
		return nil, Meta{}, nil
	}
	if len(ids) > MaxGetUsers {
		return nil, Meta{}, &Error{Op: op, Class: ClassInvalid,
			Message: fmt.Sprintf("%d ids asked for, at most %d a call", len(ids), MaxGetUsers)}
	}

	q := url.Values{}
	q.Set("pageSize", strconv.Itoa(MaxGetUsers))
	q.Set("pageNumber", "1")
	q.Set("state", "any") // Genesys lists only active users by default
	for _, id := range ids {
		q.Add("id", id)
	}
	var page UserPage
	meta, err := c.do(ctx, request{op: op, method: http.MethodGet,
		path: "/api/v2/users?" + q.Encode(), out: &page})
	if err != nil {
		return nil, meta, err
	}
	return page.Entities, meta, nil
}

// GetUser reads one user; an unknown id is a ClassNotFound error.
func (c *Client) GetUser(ctx context.Context, id string) (User, Meta, error) {
	var u User
	meta, err := c.do(ctx, request{op: "get user", method: http.MethodGet,
		path: "/api/v2/users/" + url.PathEscape(id), out: &u})
	if err != nil {
		return User{}, meta, err
	}
	return u, meta, nil
}

// PatchUser sends one PATCH body and returns the user as it now is. A
// stale version is a ClassConflict error.
func (c *Client) PatchUser(ctx context.Context, id string, p Patch) (User, Meta, error) {
	var u User
	meta, err := c.do(ctx, request{op: "patch user", method: http.MethodPatch,
		path: "/api/v2/users/" + url.PathEscape(id), body: p, out: &u})
	if err != nil {
		return User{}, meta, err
	}
	return u, meta, nil
}

// MoveUsers moves users into a division in one request. No ids sends
// nothing.
func (c *Client) MoveUsers(ctx context.Context, divisionID string, ids []string) (Meta, error) {
	if len(ids) == 0 {
		return Meta{}, nil
	}
	path := "/api/v2/authorization/divisions/" + url.PathEscape(divisionID) + "/objects/USER"
	return c.do(ctx, request{op: "move users", method: http.MethodPost, path: path, body: ids})
}

// ListUsers reads one page of the user directory.
func (c *Client) ListUsers(ctx context.Context, pageSize, pageNumber int) (UserPage, Meta, error) {
	q := url.Values{}
	q.Set("pageSize", strconv.Itoa(pageSize))
	q.Set("pageNumber", strconv.Itoa(pageNumber))
	q.Set("state", "any")
	var page UserPage
	meta, err := c.do(ctx, request{op: "list users", method: http.MethodGet,
		path: "/api/v2/users?" + q.Encode(), out: &page})
	if err != nil {
		return UserPage{}, meta, err
	}
	return page, meta, nil
}

type searchQuery struct {
	Type   string   `json:"type"`
	Fields []string `json:"fields"`
	Value  string   `json:"value"`
}

type searchRequest struct {
	Query []searchQuery `json:"query"`
}

type searchReply struct {
	Total   int    `json:"total"`
	Results []User `json:"results"`
}

// SearchEmail finds the user whose e-mail address is email, in any case,
// with one exact search. found is false when no user has it.
func (c *Client) SearchEmail(ctx context.Context, email string) (User, bool, Meta, error) {
	body := searchRequest{Query: []searchQuery{
		{Type: "EXACT", Fields: []string{"email"}, Value: email},
	}}
	var reply searchReply
	meta, err := c.do(ctx, request{op: "search user", method: http.MethodPost,
		path: "/api/v2/users/search", body: body, out: &reply})
	if err != nil {
		return User{}, false, meta, err
	}
	for _, u := range reply.Results {
		if strings.EqualFold(u.Email, email) {
			return u, true, meta, nil
		}
	}
	return User{}, false, meta, nil
}

// unwrapURLError drops the *url.Error layer, whose text repeats the whole
// URL (up to 100 ids), keeping the cause (timeouts, resets, cancellation).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// pathOnly returns p without its query, for logs.
func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

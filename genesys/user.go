package genesys

import (
	"strconv"
	"strings"
)

// User is the part of a Genesys Cloud user that gcbulk reads and writes,
// in the API's own field names.
type User struct {
	ID            string    `json:"id"`
	Name          string    `json:"name,omitempty"`
	Email         string    `json:"email,omitempty"`
	Username      string    `json:"username,omitempty"`
	Department    string    `json:"department,omitempty"`
	Title         string    `json:"title,omitempty"`
	PreferredName string    `json:"preferredName,omitempty"`
	Manager       *Ref      `json:"manager,omitempty"`
	Division      *Division `json:"division,omitempty"`
	State         string    `json:"state,omitempty"`
	AcdAutoAnswer *bool     `json:"acdAutoAnswer,omitempty"`
	Version       int       `json:"version"`
	SelfURI       string    `json:"selfUri,omitempty"`
}

// Ref points at another entity by id.
type Ref struct {
	ID string `json:"id"`
}

// Division is the division a user belongs to.
type Division struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Field names a plan may set, as the API names them. Division is not a user
// field in the API: it changes through the divisions endpoint.
const (
	FieldName          = "name"
	FieldDepartment    = "department"
	FieldTitle         = "title"
	FieldPreferredName = "preferredName"
	FieldEmail         = "email"
	FieldManager       = "manager"
	FieldState         = "state"
	FieldAcdAutoAnswer = "acdAutoAnswer"
	FieldDivision      = "division"
)

// Fields lists every field a plan may set, in the order exports show them.
var Fields = []string{
	FieldName, FieldDepartment, FieldTitle, FieldPreferredName, FieldEmail,
	FieldManager, FieldState, FieldAcdAutoAnswer, FieldDivision,
}

// IsField reports whether name is a field a plan may set.
func IsField(name string) bool {
	for _, f := range Fields {
		if f == name {
			return true
		}
	}
	return false
}

// Field returns the user's current value of a plan field as plan text:
// ids for manager and division, "true" or "false" for acdAutoAnswer.
func (u *User) Field(name string) string {
	switch name {
	case FieldName:
		return u.Name
	case FieldDepartment:
		return u.Department
	case FieldTitle:
		return u.Title
	case FieldPreferredName:
		return u.PreferredName
	case FieldEmail:
		return u.Email
	case FieldManager:
		if u.Manager == nil {
			return ""
		}
		return u.Manager.ID
	case FieldState:
		return u.State
	case FieldAcdAutoAnswer:
		if u.AcdAutoAnswer == nil {
			return ""
		}
		return strconv.FormatBool(*u.AcdAutoAnswer)
	case FieldDivision:
		if u.Division == nil {
			return ""
		}
		return u.Division.ID
	}
	return ""
}

// Holds reports whether the user already has the value want for a field.
// E-mail addresses compare without regard to case, as Genesys matches them.
func (u *User) Holds(name, want string) bool {
	if name == FieldEmail {
		return strings.EqualFold(u.Field(name), want)
	}
	return u.Field(name) == want
}

// Diff returns the fields of want whose values the user does not hold yet.
func (u *User) Diff(want map[string]string) map[string]string {
	var diff map[string]string
	for name, value := range want {
		if u.Holds(name, value) {
			continue
		}
		if diff == nil {
			diff = make(map[string]string, len(want))
		}
		diff[name] = value
	}
	return diff
}

// Meta describes one answer from the API, kept with each attempt for audit
// and for support cases.
type Meta struct {
	Status        int
	CorrelationID string
}

package genesys

import "strconv"

// Patch is the body of PATCH /api/v2/users/{id}. Version is required and
// must equal the user's current version.
type Patch struct {
	Name          *string `json:"name,omitempty"`
	Department    *string `json:"department,omitempty"`
	Title         *string `json:"title,omitempty"`
	PreferredName *string `json:"preferredName,omitempty"`
	Email         *string `json:"email,omitempty"`
	Manager       *string `json:"manager,omitempty"`
	State         *string `json:"state,omitempty"`
	AcdAutoAnswer *bool   `json:"acdAutoAnswer,omitempty"`
	Version       int     `json:"version"`
}

// NewPatches turns changed plan fields into the PATCH bodies that apply them.
// Division is left out: it moves through the divisions endpoint. Genesys
// changes only the state when a body carries one, so a state change gets a
// body of its own, sent after the others. Values must already be valid
// (the plan importer checks them); an acdAutoAnswer that is not a boolean
// is left out.
func NewPatches(changed map[string]string, version int) []Patch {
	var fields, state Patch
	var hasFields, hasState bool
	for name, value := range changed {
		v := value
		switch name {
		case FieldName:
			fields.Name, hasFields = &v, true
		case FieldDepartment:
			fields.Department, hasFields = &v, true
		case FieldTitle:
			fields.Title, hasFields = &v, true
		case FieldPreferredName:
			fields.PreferredName, hasFields = &v, true
		case FieldEmail:
			fields.Email, hasFields = &v, true
		case FieldManager:
			fields.Manager, hasFields = &v, true
		case FieldAcdAutoAnswer:
			b, err := strconv.ParseBool(v)
			if err == nil {
				fields.AcdAutoAnswer, hasFields = &b, true
			}
		case FieldState:
			state.State, hasState = &v, true
		}
	}

	var out []Patch
	if hasFields {
		fields.Version = version
		out = append(out, fields)
	}
	if hasState {
		state.Version = version
		out = append(out, state)
	}
	return out
}

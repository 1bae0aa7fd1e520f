package genesys

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUser_FieldHoldsDiff(t *testing.T) {
	t.Parallel()
	yes := true
	u := User{ID: "u1", Name: "Zoë", Email: "Zoe@Example.com", Manager: &Ref{ID: "m1"},
		Division: &Division{ID: "d1"}, AcdAutoAnswer: &yes, State: "active"}

	tests := []struct{ field, want string }{
		{FieldName, "Zoë"}, {FieldEmail, "Zoe@Example.com"}, {FieldManager, "m1"},
		{FieldDivision, "d1"}, {FieldAcdAutoAnswer, "true"}, {FieldState, "active"},
		{FieldTitle, ""}, {"unknown", ""},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			require.Equal(t, tt.want, u.Field(tt.field))
		})
	}

	require.True(t, u.Holds(FieldEmail, "zoe@example.COM"))
	require.False(t, u.Holds(FieldName, "zoë"))
	require.Nil(t, u.Diff(map[string]string{FieldEmail: "ZOE@example.com", FieldManager: "m1"}))
	require.Equal(t, map[string]string{FieldTitle: "Lead"},
		u.Diff(map[string]string{FieldTitle: "Lead", FieldDivision: "d1"}))
	require.True(t, IsField(FieldPreferredName))
	require.False(t, IsField("id"))
}

func TestNewPatches(t *testing.T) {
	t.Parallel()
	ps := NewPatches(map[string]string{
		FieldTitle: "Lead", FieldState: "inactive", FieldDivision: "d2",
		FieldAcdAutoAnswer: "maybe",
	}, 7)
	require.Len(t, ps, 2)
	require.Equal(t, "Lead", *ps[0].Title)
	require.Nil(t, ps[0].State)
	require.Nil(t, ps[0].AcdAutoAnswer)
	require.Equal(t, "inactive", *ps[1].State)
	require.Nil(t, ps[1].Title)
	require.Equal(t, 7, ps[0].Version)
	require.Equal(t, 7, ps[1].Version)

	require.Empty(t, NewPatches(map[string]string{FieldDivision: "d2"}, 1))
}

package sim_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys/sim"
	"github.com/gcbulk/gcbulk/internal/e2etest"
)

func TestLoadDirectory(t *testing.T) {
	t.Parallel()
	write := func(t *testing.T, text string) string {
		p := filepath.Join(t.TempDir(), "dir.jsonl")
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}

	t.Run("Lines", func(t *testing.T) {
		p := write(t, `{"id":"a","name":"Ann","email":"ann@example.com","version":3,`+
			`"manager":{"id":"b"},"division":{"id":"d1","name":"One"},"acdAutoAnswer":true}`+
			"\n\n"+`{"id":"b","name":"Bo","version":1}`+"\n")
		users, err := sim.LoadDirectory(p)
		require.NoError(t, err)
		require.Len(t, users, 2)
		require.Equal(t, "b", users[0].Manager.ID)
		require.Equal(t, "One", users[0].Division.Name)
		require.True(t, *users[0].AcdAutoAnswer)
		require.Equal(t, 3, users[0].Version)
	})

	tests := []struct{ name, text, err string }{
		{"BadJSON", `{"id":"a"}` + "\n{oops\n", "line 2"},
		{"NoID", `{"name":"x"}`, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sim.LoadDirectory(write(t, tt.text))
			require.ErrorContains(t, err, tt.err)
		})
	}

	t.Run("Missing", func(t *testing.T) {
		_, err := sim.LoadDirectory(filepath.Join(t.TempDir(), "none.jsonl"))
		require.ErrorContains(t, err, "open directory")
	})

	t.Run("DuplicateID", func(t *testing.T) {
		users, err := sim.LoadDirectory(write(t, `{"id":"a"}`+"\n"+`{"id":"a"}`))
		require.NoError(t, err)
		_, err = sim.New(sim.Config{}, users)
		require.ErrorContains(t, err, "duplicate id")
	})
}

// TestLoadReferenceDirectory reads the shared 25,000-user directory beside
// the repository (skipped without it, except under CI).
func TestLoadReferenceDirectory(t *testing.T) {
	t.Parallel()
	path := e2etest.SharedData(t, "directory.jsonl")
	users, err := sim.LoadDirectory(path)
	require.NoError(t, err)
	require.Len(t, users, 25000)
	srv, err := sim.New(sim.Config{}, users)
	require.NoError(t, err)
	require.Len(t, srv.Users(), 25000)
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	users := sim.Generate(1000, 42)
	require.Equal(t, users, sim.Generate(1000, 42))
	require.NotEqual(t, users, sim.Generate(1000, 43))

	divisions := map[string]bool{}
	for _, d := range sim.Divisions {
		divisions[d.ID] = true
	}
	seenID, seenEmail := map[string]bool{}, map[string]bool{}
	for i, u := range users {
		require.Len(t, u.ID, 36)
		require.False(t, seenID[u.ID], "duplicate id")
		require.False(t, seenEmail[strings.ToLower(u.Email)], "duplicate email %s", u.Email)
		seenID[u.ID], seenEmail[strings.ToLower(u.Email)] = true, true
		require.True(t, divisions[u.Division.ID])
		require.Equal(t, "active", u.State)
		require.Positive(t, u.Version)
		if i < 10 {
			require.Nil(t, u.Manager)
		} else {
			require.True(t, seenID[u.Manager.ID], "manager of %d comes first", i)
		}
	}
	require.Empty(t, sim.Generate(0, 1))
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  sim.Config
	}{
		{"NegativeLimit", sim.Config{RateLimit: -1}},
		{"RateAboveOne", sim.Config{Faults: sim.Faults{ErrorRate: 1.5}}},
		{"NotA5xx", sim.Config{Faults: sim.Faults{ErrorStatuses: []int{404}}}},
		{"NegativeLatency", sim.Config{Faults: sim.Faults{Latency: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sim.New(tt.cfg, nil)
			require.Error(t, err)
		})
	}
}

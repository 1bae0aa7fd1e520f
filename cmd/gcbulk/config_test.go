package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"reorg.db", "reorg.db"},
		{"/tmp/a-b_c/x.db", "/tmp/a-b_c/x.db"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"my ledger.db", "'my ledger.db'"},
		{"it's.db", `'it'\''s.db'`},
		{"", "''"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, shellQuote(tt.in), tt.in)
	}
}

func TestHostOf(t *testing.T) {
	require.Equal(t, "127.0.0.1:8080", hostOf("http://127.0.0.1:8080/api"))
	require.Equal(t, "example.com", hostOf("https://user:pw@example.com/x?y"))
}

func TestCredentials_SecretFile(t *testing.T) {
	// The secret may come from a file; it never shows in output either way.
	s := setupSim(t, 5, plainSim())
	secretFile := filepath.Join(s.dir, "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("gcbulk-sim-secret\n"), 0o600))
	delete(s.vars, envClientSecret)
	s.vars[envSecretFile] = secretFile

	res := s.run(s.runArgs("--log-level", "debug")...)
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.NotContains(t, res.stdout+res.stderr, "gcbulk-sim-secret")
	require.Contains(t, res.stderr, "auth=client_credentials")
}

func TestCredentials_ClientIDFlag(t *testing.T) {
	s := setupSim(t, 5, plainSim())
	s.vars[envClientID] = "someone-else"

	res := s.run(s.runArgs()...)
	require.Equal(t, exitAuth, res.code, "the env's id is refused")

	res = s.run(s.runArgs("--client-id", "gcbulk-sim")...)
	require.Equal(t, exitFailed, res.code, res.stderr)
}

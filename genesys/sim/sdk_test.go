package sim_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys/sim"
)

// TestJavaScriptSDK runs test/sdk/fidelity.js, which drives the simulator
// with the official Genesys Cloud JavaScript SDK. It needs node and
// test/sdk/install.sh run first; without them it is skipped, except in CI.
func TestJavaScriptSDK(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs(filepath.Join("..", "..", "test", "sdk"))
	require.NoError(t, err)
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "purecloud-platform-client-v2"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("SDK fidelity test cannot run in CI: %v (run test/sdk/install.sh)", err)
		}
		t.Skipf("node or the SDK is missing (run test/sdk/install.sh): %v", err)
	}

	const limit = 10
	b := setup(t, sim.Config{RateLimit: limit, ClientID: "sdk-client", ClientSecret: "sdk-secret"})
	base, err := url.Parse(b.url)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "fidelity.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"SIM_HOST="+base.Hostname(),
		"SIM_PORT="+base.Port(),
		"SIM_CLIENT_ID=sdk-client",
		"SIM_CLIENT_SECRET=sdk-secret",
		"SIM_USER_ID="+b.users[12].ID,
		"SIM_MANAGER_ID="+b.users[0].ID,
		"SIM_DIVISION_ID="+otherDivision(b.users[12].Division.ID),
		"SIM_RATE_LIMIT="+strconv.Itoa(limit),
	)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "fidelity.js:\n%s", out)
	require.Contains(t, string(out), `"ok":true`)

	st := b.srv.Stats()
	require.EqualValues(t, 1, st.RateLimited)
	require.EqualValues(t, 1, st.TokensIssued)
	require.EqualValues(t, 1, st.PatchesApplied)
	require.EqualValues(t, 1, st.UsersMoved)
}

// otherDivision returns a division id other than id.
func otherDivision(id string) string {
	for _, d := range sim.Divisions {
		if d.ID != id {
			return d.ID
		}
	}
	return ""
}

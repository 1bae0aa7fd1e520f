package genesys

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("from-file\n"), 0o600))
	emptyFile := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(emptyFile, nil, 0o600))

	tests := []struct {
		name    string
		env     map[string]string
		secret  string
		wantErr string
	}{
		{"plain", map[string]string{EnvClientID: "id", EnvClientSecret: " s ",
			EnvRegion: "eu-west-1"}, "s", ""},
		{"file", map[string]string{EnvClientID: "id", EnvSecretFile: secretFile}, "from-file", ""},
		{"both", map[string]string{EnvClientSecret: "s", EnvSecretFile: secretFile}, "",
			"set only one"},
		{"missing file", map[string]string{EnvSecretFile: filepath.Join(dir, "nope")}, "",
			"read client secret file"},
		{"empty file", map[string]string{EnvSecretFile: emptyFile}, "", "file is empty"},
		{"nothing", map[string]string{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ConfigFromEnv(envOf(tt.env))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "from-file")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.secret, cfg.ClientSecret)
			require.Equal(t, tt.env[EnvClientID], cfg.ClientID)
			require.Equal(t, tt.env[EnvRegion], cfg.Region)
		})
	}
}

func TestRegions(t *testing.T) {
	t.Parallel()
	r := Regions()
	require.Len(t, r, 18)
	require.Equal(t, "mypurecloud.ie", r["eu-west-1"])
	require.Equal(t, "edee1.eusc-pure.cloud", r["eusc-de-east-1"])
	r["eu-west-1"] = "changed"
	require.Equal(t, "mypurecloud.ie", Regions()["eu-west-1"], "callers get a copy")
}

func TestResolveBase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		region, apiURL string
		base, token    string
		wantErr        string
	}{
		{"eu-west-1", "", "https://api.mypurecloud.ie",
			"https://login.mypurecloud.ie/oauth/token", ""},
		{" US-EAST-1 ", "", "https://api.mypurecloud.com",
			"https://login.mypurecloud.com/oauth/token", ""},
		{"mypurecloud.de", "", "https://api.mypurecloud.de",
			"https://login.mypurecloud.de/oauth/token", ""},
		{"mars-north-1", "", "", "", "valid codes: ap-northeast-1"},
		{"", "", "", "", "no region set"},
		{"eu-west-1", "http://127.0.0.1:8080/", "http://127.0.0.1:8080",
			"http://127.0.0.1:8080/oauth/token", ""},
		{"", "http://127.3.4.5:1", "http://127.3.4.5:1", "http://127.3.4.5:1/oauth/token", ""},
		{"", "http://[::1]:9", "http://[::1]:9", "http://[::1]:9/oauth/token", ""},
		{"", "http://localhost:9", "http://localhost:9", "http://localhost:9/oauth/token", ""},
		{"", "https://gw.example.test/gc", "https://gw.example.test/gc",
			"https://gw.example.test/gc/oauth/token", ""},
		{"", "http://10.0.0.8:80", "", "", "needs https"},
		{"", "http://169.254.169.254", "", "", "needs https"},
		{"", "http://u:pw@127.0.0.1:1", "", "", "credentials in the url"},
		{"", "ftp://127.0.0.1", "", "", "not supported"},
		{"", "https://x.test/?a=b", "", "", "query"},
		{"", "127.0.0.1:80", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.region+tt.apiURL, func(t *testing.T) {
			base, token, err := ResolveBase(tt.region, tt.apiURL)
			if tt.wantErr != "" || tt.base == "" {
				require.Error(t, err)
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "pw")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.base, base)
			require.Equal(t, tt.token, token)
		})
	}
}

func TestNewClient(t *testing.T) {
	t.Parallel()
	_, err := NewClient(Config{ClientID: "id", Region: "eu-west-1"})
	require.ErrorContains(t, err, "client id and secret are required")
	_, err = NewClient(Config{ClientID: "id", ClientSecret: "pw-xyz", Region: "nowhere"})
	require.ErrorContains(t, err, "unknown region")
	require.NotContains(t, err.Error(), "pw-xyz")

	c, err := NewClient(Config{ClientID: "id", ClientSecret: "s", Region: "ap-southeast-2"})
	require.NoError(t, err)
	require.Equal(t, "https://api.mypurecloud.com.au", c.base)
	require.Equal(t, DefaultTimeout, c.hc.Timeout)
	require.Equal(t, DefaultMaxRetryAfter, c.maxWait)
	require.Equal(t, 64, c.hc.Transport.(*userAgent).base.(*http.Transport).MaxIdleConnsPerHost)
	require.Equal(t, "gcbulk/"+Version, c.hc.Transport.(*userAgent).ua)
	require.Zero(t, c.Stats().Requests)
}

package genesys

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Environment variables read by ConfigFromEnv: the same names Genesys's own
// tools (Terraform provider, gc CLI) read.
const (
	EnvClientID     = "GENESYSCLOUD_OAUTHCLIENT_ID"
	EnvClientSecret = "GENESYSCLOUD_OAUTHCLIENT_SECRET"
	EnvSecretFile   = "GENESYSCLOUD_OAUTHCLIENT_SECRET_FILE"
	EnvRegion       = "GENESYSCLOUD_REGION"
)

// Defaults applied by NewClient to zero Config fields.
const (
	DefaultTimeout       = 16 * time.Second
	DefaultMaxRetryAfter = 180 * time.Second
)

// Config says where and how the client talks to Genesys Cloud.
type Config struct {
	ClientID     string
	ClientSecret string // never logged, never in an error
	// Region is a region code ("eu-west-1") or its domain ("mypurecloud.ie").
	Region string
	// APIURL overrides Region, e.g. the simulator "http://127.0.0.1:PORT";
	// the token URL is then APIURL+"/oauth/token".
	APIURL string
	// Timeout bounds each request, its body included; default 16s.
	Timeout time.Duration
	// MaxRetryAfter caps the wait a 429 or 503 asks for; default 180s.
	MaxRetryAfter time.Duration
	// UserAgent defaults to "gcbulk/<Version>".
	UserAgent string
	// Pacer is consulted around every API request; nil sends at once.
	Pacer Pacer
	// Logger receives debug records of requests; nil keeps the client silent.
	Logger *slog.Logger
	// HTTPClient is an optional base client (tests); its transport is kept,
	// its timeout replaced by Timeout. Nil uses one pooled keep-alive client.
	HTTPClient *http.Client
}

// ConfigFromEnv reads the client id, secret and region from the environment
// through getenv. The secret may instead come from the file named by
// GENESYSCLOUD_OAUTHCLIENT_SECRET_FILE; setting both is an error. Missing
// values are left empty for NewClient to report.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		ClientID:     strings.TrimSpace(getenv(EnvClientID)),
		ClientSecret: strings.TrimSpace(getenv(EnvClientSecret)),
		Region:       strings.TrimSpace(getenv(EnvRegion)),
	}

	path := strings.TrimSpace(getenv(EnvSecretFile))
	if path == "" {
		return cfg, nil
	}
	if cfg.ClientSecret != "" {
		return Config{}, fmt.Errorf("read client secret: set only one of %s and %s",
			EnvClientSecret, EnvSecretFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		// The path error names the file, never its content.
		return Config{}, fmt.Errorf("read client secret file: %w", err)
	}
	cfg.ClientSecret = strings.TrimSpace(string(data))
	if cfg.ClientSecret == "" {
		return Config{}, fmt.Errorf("read client secret file %q: file is empty", path)
	}
	return cfg, nil
}

var regions = map[string]string{
	"us-east-1":      "mypurecloud.com",
	"us-east-2":      "use2.us-gov-pure.cloud",
	"us-west-2":      "usw2.pure.cloud",
	"ca-central-1":   "cac1.pure.cloud",
	"sa-east-1":      "sae1.pure.cloud",
	"mx-central-1":   "mxc1.pure.cloud",
	"eu-west-1":      "mypurecloud.ie",
	"eu-west-2":      "euw2.pure.cloud",
	"eu-central-1":   "mypurecloud.de",
	"eu-central-2":   "euc2.pure.cloud",
	"eusc-de-east-1": "edee1.eusc-pure.cloud",
	"me-central-1":   "mec1.pure.cloud",
	"ap-south-1":     "aps1.pure.cloud",
	"ap-southeast-1": "apse1.pure.cloud",
	"ap-southeast-2": "mypurecloud.com.au",
	"ap-northeast-1": "mypurecloud.jp",
	"ap-northeast-2": "apne2.pure.cloud",
	"ap-northeast-3": "apne3.pure.cloud",
}

// Regions returns the Genesys Cloud region codes and their domains. The
// map is a copy the caller may change.
func Regions() map[string]string {
	out := make(map[string]string, len(regions))
	for code, domain := range regions {
		out[code] = domain
	}
	return out
}

// ResolveBase returns the API base URL and the token URL for a region code
// or domain, or for apiURL when it is set. Plain http is allowed only for
// loopback hosts; anything else must use https.
func ResolveBase(region, apiURL string) (apiBase, tokenURL string, err error) {
	if apiURL != "" {
		base, err := checkAPIURL(apiURL)
		if err != nil {
			return "", "", err
		}
		return base, base + "/oauth/token", nil
	}

	domain, err := regionDomain(region)
	if err != nil {
		return "", "", err
	}
	return "https://api." + domain, "https://login." + domain + "/oauth/token", nil
}

func regionDomain(region string) (string, error) {
	r := strings.ToLower(strings.TrimSpace(region))
	if domain, ok := regions[r]; ok {
		return domain, nil
	}
	for _, domain := range regions {
		if r == domain {
			return domain, nil
		}
	}

	codes := make([]string, 0, len(regions))
	for code := range regions {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	if r == "" {
		return "", fmt.Errorf("resolve region: no region set (%s); valid codes: %s",
			EnvRegion, strings.Join(codes, ", "))
	}
	return "", fmt.Errorf("resolve region: unknown region %q; valid codes: %s",
		region, strings.Join(codes, ", "))
}

// checkAPIURL validates an API URL override and returns it without a
// trailing slash. Errors never echo the URL: it could carry a password.
func checkAPIURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", errors.New("resolve api url: not a valid url")
	}
	switch {
	case u.User != nil:
		return "", errors.New("resolve api url: credentials in the url are not allowed")
	case u.Host == "" || u.Opaque != "":
		return "", errors.New("resolve api url: no host")
	case u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("resolve api url: query or fragment not allowed")
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		return "", fmt.Errorf("resolve api url: host %q needs https (http only on loopback)",
			u.Hostname())
	default:
		return "", fmt.Errorf("resolve api url: scheme %q not supported", u.Scheme)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// isLoopback reports whether host is localhost, 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

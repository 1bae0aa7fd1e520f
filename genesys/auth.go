package genesys

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const opToken = "fetch token"

// tokenCache holds the one access token all workers share. At most one
// caller fetches at a time; the others wait and use its result. Each token
// gets a generation number so that many workers seeing a 401 for the same
// token cause one new fetch, not one each.
type tokenCache struct {
	cc      clientcredentials.Config
	hc      *http.Client
	maxWait time.Duration
	secret  string
	fetches atomic.Int64

	fetching chan struct{} // a one-slot lock callers can stop waiting for

	mu    sync.Mutex
	tok   *oauth2.Token
	gen   uint64
	fatal *Error // a refused client: every later call fails at once
}

func newTokenCache(cfg Config, tokenURL string, hc *http.Client) *tokenCache {
	return &tokenCache{
		cc: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     tokenURL,
			AuthStyle:    oauth2.AuthStyleInHeader,
		},
		hc:       hc,
		maxWait:  cfg.MaxRetryAfter,
		secret:   cfg.ClientSecret,
		fetching: make(chan struct{}, 1),
	}
}

// current returns the cached token when it is still valid.
func (t *tokenCache) current() (string, uint64, *Error, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fatal != nil {
		return "", 0, t.fatal, true
	}
	if t.tok.Valid() {
		return t.tok.AccessToken, t.gen, nil, true
	}
	return "", 0, nil, false
}

// token returns a valid access token and its generation, fetching a new
// one when none is cached.
func (t *tokenCache) token(ctx context.Context) (string, uint64, error) {
	if tok, gen, ferr, ok := t.current(); ok {
		return tok, gen, nilIfNone(ferr)
	}

	select {
	case t.fetching <- struct{}{}:
	case <-ctx.Done():
		return "", 0, transportError(opToken, 0, "", ctx.Err())
	}
	defer func() { <-t.fetching }()

	// Another caller may have fetched while this one waited.
	if tok, gen, ferr, ok := t.current(); ok {
		return tok, gen, nilIfNone(ferr)
	}

	t.fetches.Add(1)
	tok, err := t.cc.Token(context.WithValue(ctx, oauth2.HTTPClient, t.hc))
	if err != nil {
		e := t.tokenError(err)
		if e.Class == ClassAuth {
			t.mu.Lock()
			t.fatal = e
			t.mu.Unlock()
		}
		return "", 0, e
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	t.tok = tok
	t.gen++
	return tok.AccessToken, t.gen, nil
}

// invalidate drops the token of generation gen after a 401; a newer token
// is kept, since another caller already replaced the rejected one.
func (t *tokenCache) invalidate(gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen == gen {
		t.tok = nil
	}
}

func nilIfNone(e *Error) error {
	if e == nil {
		return nil
	}
	return e
}

// tokenError classifies a failed token request. The oauth2 error text is
// never used as is: only the status, the OAuth code and description, with
// the secret redacted should the endpoint ever echo it.
func (t *tokenCache) tokenError(err error) *Error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return transportError(opToken, 0, "", err)
	}

	resp := re.Response
	code, desc := oauthFields(re)
	e := classify(opToken, resp, re.Body, t.maxWait, time.Now())
	e.Code = code
	e.Message = t.redact(desc)
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}

	switch {
	case e.Class == ClassRateLimited || e.Class == ClassTransient:
		return e
	case code == codeInvalidClient || resp.StatusCode == http.StatusUnauthorized:
		e.Class = ClassAuth
		e.Message = "token request refused (" + e.Message +
			"): check the OAuth client id and secret"
	case resp.StatusCode == http.StatusNotFound:
		// A wrong API URL or region, not wrong credentials; still fatal.
		e.Class, e.Err = ClassAuth, ErrTokenEndpoint
		e.Message = "token endpoint not found at " + t.cc.TokenURL +
			": check the API URL or region"
	default:
		e.Class = ClassAuth
	}
	return e
}

// oauthFields returns the OAuth error code and description. Genesys names
// the description "description" rather than "error_description".
func oauthFields(re *oauth2.RetrieveError) (code, desc string) {
	code, desc = re.ErrorCode, re.ErrorDescription
	var body struct {
		Error       string `json:"error"`
		Description string `json:"description"`
		Code        string `json:"code"`
		Message     string `json:"message"`
	}
	if json.Unmarshal(re.Body, &body) == nil {
		code = firstNonEmpty(code, body.Error, body.Code)
		desc = firstNonEmpty(desc, body.Description, body.Message)
	}
	return code, desc
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func (t *tokenCache) redact(s string) string {
	if t.secret == "" {
		return s
	}
	return strings.ReplaceAll(s, t.secret, "[redacted]")
}

package genesys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gcbulk/gcbulk/internal/wait"
)

const (
	headerCorrelation = "ININ-Correlation-Id"
	maxErrorBody      = 64 << 10  // bytes of an error body kept
	maxDrain          = 256 << 10 // bytes read past that so the connection is reused
	maxSuccessBody    = 64 << 20  // a 500-user page is well under 1 MiB
)

// Client talks to the Genesys Cloud Platform API with one shared token.
// It is safe for concurrent use.
type Client struct {
	base    string
	hc      *http.Client
	auth    *tokenCache
	pacer   Pacer
	log     *slog.Logger
	maxWait time.Duration
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error // waits between resolve retries
	stats   clientCounters
}

// ClientStats counts what the client did, for run reports.
type ClientStats struct {
	Requests      int64 // API requests sent (token requests not included)
	TokenFetches  int64 // token requests sent
	TokenRetries  int64 // requests sent again after a 401 with a new token
	Errors        int64 // answers that were not a success, and failed sends
	RateLimited   int64 // 429s and 503s with Retry-After
	Unauthorized  int64 // 401 answers
	RetryCapped   int64 // Retry-After values capped at MaxRetryAfter
	TransportErrs int64 // requests that got no usable answer
}

type clientCounters struct {
	requests, tokenRetries, errors, rateLimited atomic.Int64
	unauthorized, retryCapped, transport        atomic.Int64
}

// NewClient checks cfg, applies defaults and returns a client. No request
// is sent until the first call.
func NewClient(cfg Config) (*Client, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, fmt.Errorf("new client: OAuth client id and secret are required (%s, %s)",
			EnvClientID, EnvClientSecret)
	}
	base, tokenURL, err := ResolveBase(cfg.Region, cfg.APIURL)
	if err != nil {
		return nil, fmt.Errorf("new client: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "gcbulk/" + Version
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	hc := newHTTPClient(cfg)
	return &Client{
		base:    base,
		hc:      hc,
		auth:    newTokenCache(cfg, tokenURL, hc),
		pacer:   cfg.Pacer,
		log:     log,
		maxWait: cfg.MaxRetryAfter,
		now:     time.Now,
		sleep:   wait.Sleep,
	}, nil
}

// newHTTPClient builds the client used for API and token requests: the
// given base client's transport or a pooled keep-alive one, with the
// timeout and User-Agent applied.
func newHTTPClient(cfg Config) *http.Client {
	var base http.RoundTripper
	if cfg.HTTPClient != nil {
		base = cfg.HTTPClient.Transport
	}
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 128
		t.MaxIdleConnsPerHost = 64
		t.IdleConnTimeout = 90 * time.Second
		base = t
	}
	return &http.Client{
		Transport: &userAgent{base: base, ua: cfg.UserAgent},
		Timeout:   cfg.Timeout,
		// Redirects would carry the bearer token elsewhere: refuse them.
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// userAgent sets the User-Agent header on every request.
type userAgent struct {
	base http.RoundTripper
	ua   string
}

// RoundTrip sends a copy of r carrying the User-Agent.
func (u *userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	r2.Header.Set("User-Agent", u.ua)
	return u.base.RoundTrip(r2)
}

// Stats returns what the client has done so far.
func (c *Client) Stats() ClientStats {
	s := &c.stats
	return ClientStats{
		Requests:      s.requests.Load(),
		TokenFetches:  c.auth.fetches.Load(),
		TokenRetries:  s.tokenRetries.Load(),
		Errors:        s.errors.Load(),
		RateLimited:   s.rateLimited.Load(),
		Unauthorized:  s.unauthorized.Load(),
		RetryCapped:   s.retryCapped.Load(),
		TransportErrs: s.transport.Load(),
	}
}

// request is one API call: method, path with query, JSON body and where
// to decode the answer (nil: the answer body is ignored).
type request struct {
	op     string
	method string
	path   string
	body   any
	out    any
}

// do sends r through the pacer with the shared token. A 401 drops that
// token and sends once more with a new one; a second 401 is fatal.
func (c *Client) do(ctx context.Context, r request) (Meta, error) {
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return Meta{}, &Error{Op: r.op, Class: ClassInvalid, Message: "encode body", Err: err}
		}
	}

	for attempt := 0; ; attempt++ {
		meta, gen, err := c.attempt(ctx, r, payload, attempt > 0)
		if err == nil || !isUnauthorized(err) || attempt > 0 {
			return meta, err
		}
		c.auth.invalidate(gen)
		c.stats.tokenRetries.Add(1)
	}
}

// attempt is one paced send. retry marks the send after a 401, whose own
// 401 is final.
func (c *Client) attempt(ctx context.Context, r request, payload []byte,
	retry bool) (Meta, uint64, error) {
	if c.pacer != nil {
		if err := c.pacer.Wait(ctx); err != nil {
			return Meta{}, 0, transportError(r.op, 0, "", err)
		}
	}

	tok, gen, err := c.auth.token(ctx)
	var meta Meta
	if err == nil {
		meta, err = c.send(ctx, r, payload, tok)
	}

	done := err
	var e *Error
	if !retry && errors.As(err, &e) && e.Status == http.StatusUnauthorized {
		// One 401 is cured by a new token: report it to the pacer as a
		// passing fault, not as the fatal one a second 401 is.
		passing := *e
		passing.Class = ClassTransient
		done = &passing
	}
	if c.pacer != nil {
		c.pacer.Done(meta, done)
	}
	return meta, gen, err
}

// send performs the HTTP exchange and classifies the answer.
func (c *Client) send(ctx context.Context, r request, payload []byte, tok string) (Meta, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.base+r.path, body)
	if err != nil {
		return Meta{}, &Error{Op: r.op, Class: ClassInvalid, Message: "build request", Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	start := c.now()
	c.stats.requests.Add(1)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.stats.errors.Add(1)
		c.stats.transport.Add(1)
		c.logAnswer(ctx, r, Meta{}, start, err)
		return Meta{}, transportError(r.op, 0, "", unwrapURLError(err))
	}
	defer closeBody(resp.Body)

	meta := Meta{Status: resp.StatusCode, CorrelationID: resp.Header.Get(headerCorrelation)}
	err = c.readAnswer(r, resp, meta)
	c.count(err)
	c.logAnswer(ctx, r, meta, start, err)
	return meta, err
}

// readAnswer decodes a success into r.out or classifies a failure.
func (c *Client) readAnswer(r request, resp *http.Response, meta Meta) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return classify(r.op, resp, body, c.maxWait, c.now())
	}

	data, err := io.ReadAll(io.LimitReader(resp.Body, maxSuccessBody))
	if err != nil {
		return transportError(r.op, meta.Status, meta.CorrelationID, err)
	}
	if r.out == nil {
		return nil
	}
	if err := json.Unmarshal(data, r.out); err != nil {
		return transportError(r.op, meta.Status, meta.CorrelationID,
			fmt.Errorf("decode answer: %w", err))
	}
	return nil
}

func (c *Client) count(err error) {
	var e *Error
	if !errors.As(err, &e) {
		return
	}
	c.stats.errors.Add(1)
	switch {
	case e.Class == ClassRateLimited:
		c.stats.rateLimited.Add(1)
	case e.Status == http.StatusUnauthorized:
		c.stats.unauthorized.Add(1)
	case e.Err != nil:
		c.stats.transport.Add(1)
	}
	if e.RetryCapped {
		c.stats.retryCapped.Add(1)
	}
}

// logAnswer records one exchange at debug level: method, path, status and
// correlation id, never headers or bodies.
func (c *Client) logAnswer(ctx context.Context, r request, meta Meta, start time.Time,
	err error) {
	attrs := []slog.Attr{
		slog.String("op", r.op),
		slog.String("method", r.method),
		slog.String("path", pathOnly(r.path)),
		slog.Int("status", meta.Status),
		slog.String("correlation_id", meta.CorrelationID),
		slog.Duration("elapsed", c.now().Sub(start)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("class", ClassOf(err).String()),
			slog.String("err", err.Error()))
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "api answer", attrs...)
}

// closeBody drains a bounded amount so the connection can be reused, then
// closes the body.
func closeBody(b io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(b, maxDrain))
	_ = b.Close()
}

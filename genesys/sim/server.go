package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gcbulk/gcbulk/genesys"
)

// Divisions are the six divisions of the reference directory; New adds any
// other division a user belongs to.
var Divisions = []genesys.Division{
	{ID: "6f153184-6f0e-4437-8fc2-b615f970c749", Name: "Home"},
	{ID: "0be35cf6-35a8-47e2-bddc-0bb6aefdb0f2", Name: "North America"},
	{ID: "c8bfb4f8-0577-4432-aa83-e0803f0c5537", Name: "EMEA"},
	{ID: "cc273a5a-2e62-4dca-9c80-a421e18c489f", Name: "APAC"},
	{ID: "678f522e-e16c-4a6f-a04c-a36cffcf3f41", Name: "LATAM"},
	{ID: "c7f1456d-3651-47b8-84d3-bf4b2c0e558b", Name: "Outsourcer A"},
}

// Server simulates the parts of Genesys Cloud that gcbulk uses. It is an
// http.Handler; create one with New.
type Server struct {
	cfg       Config
	log       *slog.Logger
	created   time.Time
	divisions map[string]genesys.Division
	cidPrefix uint64
	cidSeq    atomic.Uint64

	mu          sync.Mutex
	faults      Faults
	rng         *rand.Rand
	users       map[string]*genesys.User
	ids         []string          // every user id, sorted
	byEmail     map[string]string // lower-cased e-mail → id
	tokens      map[string]token
	apiLimit    *limiter
	writeLimit  *limiter
	tokenLimit  *limiter
	outageFrom  time.Time
	outageUntil time.Time
	editCredit  float64
	lastEdit    time.Time
	stats       Stats
	patched     map[string]int64 // user id → PATCHes that changed something
}

// New returns a simulator serving users (copied; ids must be unique).
func New(cfg Config, users []genesys.User) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	now := cfg.Now()
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		created:    now,
		divisions:  make(map[string]genesys.Division, len(Divisions)),
		faults:     cfg.Faults,
		rng:        rand.New(rand.NewPCG(uint64(cfg.Seed), 0x67636275)),
		users:      make(map[string]*genesys.User, len(users)),
		byEmail:    make(map[string]string, len(users)),
		tokens:     make(map[string]token),
		apiLimit:   newLimiter(cfg.RateLimit, cfg.RateWindow, cfg.Sliding),
		writeLimit: newLimiter(cfg.WriteRateLimit, cfg.RateWindow, cfg.Sliding),
		tokenLimit: newLimiter(cfg.TokenRateLimit, cfg.RateWindow, cfg.Sliding),
		lastEdit:   now,
		stats:      Stats{ByStatus: map[string]int64{}},
		patched:    make(map[string]int64),
	}
	s.cidPrefix = s.rng.Uint64()
	s.setOutage(cfg.Faults)
	for _, d := range Divisions {
		s.divisions[d.ID] = d
	}
	if err := s.load(users); err != nil {
		return nil, err
	}
	return s, nil
}

// load copies users into the server and indexes them.
func (s *Server) load(users []genesys.User) error {
	for i := range users {
		u := cloneUser(&users[i])
		if u.ID == "" {
			return fmt.Errorf("load user %d: %w: empty id", i, errConfig)
		}
		if _, dup := s.users[u.ID]; dup {
			return fmt.Errorf("load user %s: %w: duplicate id", u.ID, errConfig)
		}
		u.SelfURI = "/api/v2/users/" + u.ID
		s.users[u.ID] = u
		s.ids = append(s.ids, u.ID)
		if u.Email != "" {
			s.byEmail[strings.ToLower(u.Email)] = u.ID
		}
		if d := u.Division; d != nil && d.ID != "" {
			if _, ok := s.divisions[d.ID]; !ok {
				s.divisions[d.ID] = *d
			}
		}
	}
	slices.Sort(s.ids)
	return nil
}

// cloneUser returns a deep copy of u.
func cloneUser(u *genesys.User) *genesys.User {
	c := *u
	if u.Manager != nil {
		m := *u.Manager
		c.Manager = &m
	}
	if u.Division != nil {
		d := *u.Division
		c.Division = &d
	}
	if u.AcdAutoAnswer != nil {
		b := *u.AcdAutoAnswer
		c.AcdAutoAnswer = &b
	}
	return &c
}

// ServeHTTP routes a request. Every answer carries ININ-Correlation-Id.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cid := s.correlationID()
	w.Header().Set("ININ-Correlation-Id", cid)
	switch p := r.URL.Path; {
	case p == "/oauth/token":
		s.serveToken(w, r, cid)
	case strings.HasPrefix(p, "/api/v2/"):
		s.serveAPI(w, r, cid)
	case strings.HasPrefix(p, "/sim/"):
		s.serveSim(w, r, cid)
	default:
		writeReply(w, errorReply(cid, http.StatusNotFound, codeNotFound,
			"The requested resource was not found."))
	}
}

// correlationID returns a new UUID-shaped id, unique within the server.
func (s *Server) correlationID() string {
	n := s.cidSeq.Add(1)
	p := s.cidPrefix
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x",
		uint32(p>>32), uint16(p>>16), uint16(p)&0xfff, uint16(n>>48)&0xfff, n&0xffffffffffff)
}

// Users returns every user's current state, sorted by id.
func (s *Server) Users() []genesys.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]genesys.User, len(s.ids))
	for i, id := range s.ids {
		out[i] = *cloneUser(s.users[id])
	}
	return out
}

// SetFaults replaces the faults while serving. An outage in f is timed
// from the server's creation, as in Config.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.setOutage(f)
}

// setOutage schedules the outage f describes; the caller holds s.mu or owns s.
func (s *Server) setOutage(f Faults) {
	if f.OutageFor <= 0 {
		return
	}
	s.outageFrom = s.created.Add(f.OutageAfter)
	s.outageUntil = s.outageFrom.Add(f.OutageFor)
}

// Outage makes every /api/v2 and /oauth/token request fail 503 from now for d.
func (s *Server) Outage(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outageFrom = s.cfg.Now()
	s.outageUntil = s.outageFrom.Add(d)
}

// inOutage reports whether now falls in the outage; the caller holds s.mu.
func (s *Server) inOutage(now time.Time) bool {
	return !now.Before(s.outageFrom) && now.Before(s.outageUntil)
}

// Start serves a new simulator on 127.0.0.1 at a free port and returns its
// base URL ("http://127.0.0.1:PORT") and a function that stops it.
func Start(cfg Config, users []genesys.User) (url string, stop func() error, err error) {
	_, url, stop, err = StartServer(cfg, users)
	return url, stop, err
}

// StartServer is Start that also returns the Server, for Stats, Users and
// faults set while serving.
func StartServer(cfg Config, users []genesys.User) (*Server, string, func() error, error) {
	s, err := New(cfg, users)
	if err != nil {
		return nil, "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, fmt.Errorf("listen on loopback: %w", err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(l) }()

	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			// Slow faults may hold handlers: close them rather than wait.
			_ = hs.Close()
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve simulator: %w", err)
		}
		return nil
	}
	return s, "http://" + l.Addr().String(), stop, nil
}

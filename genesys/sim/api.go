package sim

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gcbulk/gcbulk/internal/wait"
)

// decision is the fault plan for one request, drawn all at once so that
// every request takes the same number of random draws.
type decision struct {
	resetBefore bool
	errStatus   int // 0 = no injected error
	latency     time.Duration
	resetAfter  bool
	slow        time.Duration // 0 = answer at once
	conflict    bool          // a PATCH finds its user edited just before
}

// serveAPI runs an /api/v2 request through outage, authentication, rate
// limits and faults, then carries it out.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, cid string) {
	d, early := s.admit(r, cid)
	if early != nil {
		s.send(w, r, *early)
		return
	}
	if d.resetBefore {
		s.reset(w, r, &s.stats.ResetsBefore)
		return
	}
	if d.errStatus != 0 {
		s.send(w, r, faultReply(cid, d.errStatus))
		return
	}
	if d.latency > 0 && wait.Sleep(r.Context(), d.latency) != nil {
		return // the client gave up
	}

	rep := s.route(r, cid, d)
	if d.resetAfter {
		s.reset(w, r, &s.stats.ResetsAfter)
		return
	}
	if d.slow > 0 {
		s.mu.Lock()
		s.stats.SlowAnswers++
		s.mu.Unlock()
		if wait.Sleep(r.Context(), d.slow) != nil {
			return
		}
	}
	s.send(w, r, rep)
}

// admit does the bookkeeping that needs the lock: counting, the other
// writer's edits, the outage, the fault draw, authentication and rate
// limits. It returns an answer to send at once when the request goes no
// further.
func (s *Server) admit(r *http.Request, cid string) (decision, *reply) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests++
	s.applyEdits(now)
	d := s.draw()

	if s.inOutage(now) {
		s.stats.OutageRejected++
		rep := errorReply(cid, http.StatusServiceUnavailable, codeUnavailable, msgServiceUnavailable)
		return d, &rep
	}
	access, rep := s.authenticate(r, cid, now)
	if rep != nil {
		return d, rep
	}

	write := isWrite(r)
	wait := s.apiLimit.wait(access, now)
	if write {
		wait = max(wait, s.writeLimit.wait(access, now))
	}
	if wait > 0 {
		s.stats.RateLimited++
		rep := s.tooMany(cid, now, wait)
		return d, &rep
	}
	s.apiLimit.admit(access, now)
	if write {
		s.writeLimit.admit(access, now)
	}
	if d.errStatus != 0 {
		s.stats.FaultErrors++
	}
	return d, nil
}

// isWrite reports whether r changes something: a PATCH or a division move.
func isWrite(r *http.Request) bool {
	return r.Method == http.MethodPatch ||
		(r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v2/authorization/"))
}

// draw decides the faults of one request; the caller holds s.mu.
func (s *Server) draw() decision {
	f := &s.faults
	var d decision
	d.resetBefore = s.rng.Float64() < f.ResetBeforeRate
	hitError, pick := s.rng.Float64() < f.ErrorRate, s.rng.Float64()
	if hitError {
		statuses := f.ErrorStatuses
		if len(statuses) == 0 {
			statuses = []int{500, 502, 503, 504}
		}
		d.errStatus = statuses[int(pick*float64(len(statuses)))%len(statuses)]
	}
	jitter := s.rng.Float64()*2 - 1
	d.latency = max(0, f.Latency+time.Duration(jitter*float64(f.Jitter)))
	d.resetAfter = s.rng.Float64() < f.ResetAfterRate
	if s.rng.Float64() < f.SlowRate {
		d.slow = f.SlowDelay
	}
	d.conflict = s.rng.Float64() < f.ConflictRate
	return d
}

// applyEdits lets the other writer bump the version of random users at
// Faults.EditsPerSecond since the last request; the caller holds s.mu.
func (s *Server) applyEdits(now time.Time) {
	elapsed := now.Sub(s.lastEdit)
	s.lastEdit = now
	if s.faults.EditsPerSecond <= 0 || elapsed <= 0 || len(s.ids) == 0 {
		s.editCredit = 0
		return
	}
	s.editCredit += elapsed.Seconds() * s.faults.EditsPerSecond
	n := int(min(s.editCredit, float64(len(s.ids))))
	s.editCredit -= float64(n)
	for range n {
		s.users[s.ids[s.rng.IntN(len(s.ids))]].Version++
	}
	s.stats.ConcurrentEdits += int64(n)
}

// tooMany builds a 429 exactly as Genesys sends it; the caller holds s.mu.
func (s *Server) tooMany(cid string, now time.Time, wait time.Duration) reply {
	secs := max(1, int64((wait+time.Second-1)/time.Second))
	code := codeTooMany
	if s.cfg.LegacyRateCode {
		code = codeTooManyLegacy
	}
	msg := fmt.Sprintf("Rate limit exceeded the maximum. Retry the request in [%d] seconds", secs)
	rep := errorReply(cid, http.StatusTooManyRequests, code, msg)
	retry := strconv.FormatInt(secs, 10)
	if s.cfg.RetryAfterDate {
		retry = now.Add(time.Duration(secs) * time.Second).UTC().Format(http.TimeFormat)
	}
	rep.header.Set("Retry-After", retry)
	return rep
}

// faultReply builds an injected 5xx answer.
func faultReply(cid string, status int) reply {
	switch status {
	case http.StatusInternalServerError:
		return errorReply(cid, status, codeInternal, "The server encountered an unexpected error.")
	case http.StatusBadGateway:
		return errorReply(cid, status, codeBadGateway, "The upstream service did not answer.")
	case http.StatusServiceUnavailable:
		return errorReply(cid, status, codeUnavailable, msgServiceUnavailable)
	case http.StatusGatewayTimeout:
		return errorReply(cid, status, codeGatewayTimeout, "The request timed out.")
	}
	return errorReply(cid, status, codeInternal, http.StatusText(status))
}

// send writes rep and counts its status.
func (s *Server) send(w http.ResponseWriter, r *http.Request, rep reply) {
	s.count(rep.status)
	s.log.Debug("sim answer", slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", rep.status))
	writeReply(w, rep)
}

// reset drops the connection without an answer, as a network failure or a
// crashed gateway would.
func (s *Server) reset(w http.ResponseWriter, r *http.Request, counter *int64) {
	s.mu.Lock()
	*counter++
	s.mu.Unlock()
	s.log.Debug("sim reset", slog.String("method", r.Method), slog.String("path", r.URL.Path))

	hj, ok := w.(http.Hijacker)
	if !ok {
		// net/http recovers this value silently and drops the connection.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // send RST rather than FIN
	}
	_ = conn.Close()
}

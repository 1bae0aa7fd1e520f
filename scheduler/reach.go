package scheduler

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/gcbulk/gcbulk/genesys"
)

// unreachableOpens is how many times the breaker may open, with no answer
// ever seen in the session, before the run stops as unreachable. Once any
// answer has come, outages never end the run: it waits them out.
const unreachableOpens = 3

// answerWatch is an API that notes whether any request got an answer: a
// success or any HTTP status, as opposed to a transport failure.
type answerWatch struct {
	API
	answered *atomic.Bool
}

// note marks an answer when the call got one.
func (w answerWatch) note(meta genesys.Meta, err error) {
	var ge *genesys.Error
	if err == nil || meta.Status != 0 || (errors.As(err, &ge) && ge.Status != 0) {
		w.answered.Store(true)
	}
}

// GetUsers reads users and notes the answer.
func (w answerWatch) GetUsers(ctx context.Context, ids []string) ([]genesys.User,
	genesys.Meta, error) {
	us, meta, err := w.API.GetUsers(ctx, ids)
	w.note(meta, err)
	return us, meta, err
}

// GetUser reads a user and notes the answer.
func (w answerWatch) GetUser(ctx context.Context, id string) (genesys.User, genesys.Meta,
	error) {
	u, meta, err := w.API.GetUser(ctx, id)
	w.note(meta, err)
	return u, meta, err
}

// PatchUser patches a user and notes the answer.
func (w answerWatch) PatchUser(ctx context.Context, id string, p genesys.Patch) (genesys.User,
	genesys.Meta, error) {
	u, meta, err := w.API.PatchUser(ctx, id, p)
	w.note(meta, err)
	return u, meta, err
}

// MoveUsers moves users and notes the answer.
func (w answerWatch) MoveUsers(ctx context.Context, div string, ids []string) (genesys.Meta,
	error) {
	meta, err := w.API.MoveUsers(ctx, div, ids)
	w.note(meta, err)
	return meta, err
}

// ResolveEmails resolves e-mails and notes the answer.
func (w answerWatch) ResolveEmails(ctx context.Context, emails []string) (map[string]string,
	error) {
	m, err := w.API.ResolveEmails(ctx, emails)
	w.note(genesys.Meta{}, err)
	return m, err
}

// unreachable returns an *UnreachableError when no request of this session
// has got an answer and the breaker has opened unreachableOpens times since
// the session started; nil otherwise.
func (s *Scheduler) unreachable() error {
	if s.answered.Load() {
		return nil
	}
	opens := s.gov.BreakerOpens() - s.opensAtStart
	if opens < unreachableOpens {
		return nil
	}
	return &UnreachableError{Opens: opens, LastError: s.gov.Snapshot().LastError}
}

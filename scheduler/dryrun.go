package scheduler

import (
	"context"
	"fmt"
	"sort"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

// dryRun reads every waiting item's user and works out what a run would
// change, writing nothing to Genesys or the ledger. res is an in-memory
// resolution, nil when the ledger is already resolved.
func (s *Scheduler) dryRun(ctx context.Context, res *resolution) (Summary, error) {
	sum := s.summary()
	sum.DryRun = true
	var batch []*store.Item
	err := s.l.EachInState(store.Waiting, func(it *store.Item) error {
		if res != nil {
			if res.deleted[it.Seq] {
				sum.Counts[store.Waiting]--
				return nil
			}
			if r := res.items[it.Seq]; r != nil {
				it = r
			}
		}
		if it.State != store.Waiting {
			sum.Counts[store.Waiting]--
			sum.Counts[it.State]++
			return nil
		}
		batch = append(batch, it)
		return nil
	})
	if err != nil {
		return sum, fmt.Errorf("read waiting items: %w", err)
	}

	for len(batch) > 0 {
		n := min(len(batch), s.cfg.BatchSize)
		if err := s.dryBatch(ctx, batch[:n], &sum); err != nil {
			return sum, err
		}
		batch = batch[n:]
	}
	sum.Counters = s.counters()
	sum.Governor = s.gov.Snapshot()
	sum.Elapsed, sum.Total = s.elapsed()
	return sum, nil
}

// dryBatch reads one batch and tallies what it would change.
func (s *Scheduler) dryBatch(ctx context.Context, items []*store.Item, sum *Summary) error {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = userID(it)
	}
	list, err := s.readRetrying(ctx, ids)
	if err != nil {
		return err
	}
	users := make(map[string]genesys.User, len(list))
	for _, u := range list {
		users[u.ID] = u
	}
	refused, err := s.confirmDry(ctx, items, users)
	if err != nil {
		return err
	}

	for _, it := range items {
		u := users[userID(it)]
		diff := u.Diff(it.Desired)
		switch st, ok := refused[it.Seq]; {
		case ok:
			sum.Counts[store.Waiting]--
			sum.Counts[st]++
		case len(diff) == 0:
			sum.Counts[store.Waiting]--
			sum.Counts[store.Unchanged]++
		default:
			sum.WouldChange++
			s.sample(sum, it, u, diff)
		}
	}
	return nil
}

// confirmDry reads, one at a time, the users a batch read left out, as a
// real run does before it calls a user not found. A user found now joins
// users; a refusal gives the state a real run would end the item in, which
// confirmDry returns by item. A failure that outlasts the retries stops
// the dry run.
func (s *Scheduler) confirmDry(ctx context.Context, items []*store.Item,
	users map[string]genesys.User) (map[uint64]store.State, error) {
	refused := map[uint64]store.State{}
	for _, it := range items {
		id := userID(it)
		if _, ok := users[id]; ok {
			continue
		}
		u, err := retryCall(ctx, s, "confirm user", &s.reads, func() (genesys.User, error) {
			u, _, err := s.api.GetUser(ctx, id)
			return u, err
		})
		if err == nil {
			users[id] = u
			continue
		}
		switch genesys.ClassOf(err) {
		case genesys.ClassNotFound:
			refused[it.Seq] = store.NotFound
		case genesys.ClassForbidden:
			refused[it.Seq] = store.Forbidden
		case genesys.ClassInvalid:
			refused[it.Seq] = store.Invalid
		default:
			return nil, err
		}
	}
	return refused, nil
}

// sample adds an item's changes to the summary, up to SampleSize.
func (s *Scheduler) sample(sum *Summary, it *store.Item, u genesys.User, diff map[string]string) {
	fields := make([]string, 0, len(diff))
	for f := range diff {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		if len(sum.Changes) >= s.cfg.SampleSize {
			return
		}
		sum.Changes = append(sum.Changes, Change{
			Seq: it.Seq, Line: it.Line(), UserID: u.ID,
			Field: f, Before: u.Field(f), After: diff[f],
		})
	}
}

// readRetrying reads users for a dry run, waiting out pauses and retrying
// transient failures up to MaxAttempts.
func (s *Scheduler) readRetrying(ctx context.Context, ids []string) ([]genesys.User, error) {
	return retryCall(ctx, s, "read users", &s.reads, func() ([]genesys.User, error) {
		list, _, err := s.api.GetUsers(ctx, ids)
		return list, err
	})
}

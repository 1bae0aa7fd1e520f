package scheduler

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

// resolution is what the resolve phase changed: items to save (ids filled
// in, manager e-mails replaced, lines merged, or ended) and items merged
// into an earlier one, to delete.
type resolution struct {
	items   map[uint64]*store.Item
	deleted map[uint64]bool
}

// resolve maps e-mail keys and manager e-mails to user ids with one
// ResolveEmails call, merges or refuses items that turn out to name the
// same user, and marks the run resolved. A dry run keeps it all in memory.
func (s *Scheduler) resolve(ctx context.Context) (*resolution, error) {
	emails, err := s.collectEmails()
	if err != nil {
		return nil, err
	}
	var found map[string]string
	if len(emails) > 0 {
		if found, err = s.resolveEmails(ctx, emails); err != nil {
			return nil, err
		}
	}
	res, err := s.applyResolution(found)
	if err != nil || s.cfg.DryRun {
		return res, err
	}
	if err := s.commitResolution(res); err != nil {
		return nil, err
	}
	s.log.Info("e-mails resolved", slog.Int("emails", len(emails)),
		slog.Int("found", len(found)), slog.Int("merged", len(res.deleted)))
	return res, s.refreshCounts()
}

// collectEmails returns the lower-cased e-mails to resolve: keys and
// manager values.
func (s *Scheduler) collectEmails() ([]string, error) {
	set := map[string]bool{}
	err := s.l.Each(func(it *store.Item) error {
		if it.State.Terminal() {
			return nil
		}
		if it.KeyKind == store.KeyEmail && it.UserID == "" {
			set[strings.ToLower(it.Key)] = true
		}
		if m := it.Desired[genesys.FieldManager]; strings.Contains(m, "@") {
			set[strings.ToLower(m)] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("collect e-mails: %w", err)
	}
	out := make([]string, 0, len(set))
	for e := range set {
		out = append(out, e)
	}
	sort.Strings(out)
	return out, nil
}

// resolveEmails calls ResolveEmails, waiting out pauses and retrying
// transient failures up to MaxAttempts.
func (s *Scheduler) resolveEmails(ctx context.Context, emails []string) (map[string]string, error) {
	return retryCall(ctx, s, "resolve e-mails", &s.resolves, func() (map[string]string, error) {
		return s.api.ResolveEmails(ctx, emails)
	})
}

// firstSeen is the first item found for a user.
type firstSeen struct {
	seq  uint64
	line int
	sum  [32]byte
}

// applyResolution fills in ids and settles duplicates, in memory.
func (s *Scheduler) applyResolution(found map[string]string) (*resolution, error) {
	res := &resolution{items: map[uint64]*store.Item{}, deleted: map[uint64]bool{}}
	seen := map[string]firstSeen{}
	merges := map[uint64][]int{} // earlier seq → lines to merge in
	err := s.l.Each(func(it *store.Item) error {
		if it.State.Terminal() {
			return nil
		}
		changed, ended := s.resolveItem(it, found)
		if ended {
			res.items[it.Seq] = it
			return nil
		}
		uid, sum := userID(it), desiredSum(it.Desired)
		f, dup := seen[uid]
		switch {
		case !dup:
			seen[uid] = firstSeen{seq: it.Seq, line: it.Line(), sum: sum}
		case f.sum == sum:
			merges[f.seq] = append(merges[f.seq], it.Lines...)
			res.deleted[it.Seq] = true
			delete(res.items, it.Seq)
			return nil
		default:
			s.finish(it, store.Invalid, "duplicate.user", fmt.Sprintf(
				"line %d names the same user as line %d with different values", it.Line(), f.line))
			changed = true
		}
		if changed {
			res.items[it.Seq] = it
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resolve items: %w", err)
	}
	return res, s.mergeLines(res, merges)
}

// resolveItem fills in one item's id and manager. ended reports an item
// that resolution ended (no such user, or no such manager).
func (s *Scheduler) resolveItem(it *store.Item, found map[string]string) (changed, ended bool) {
	now := wall(s.clock.Now())
	if it.KeyKind == store.KeyEmail && it.UserID == "" {
		id, ok := found[strings.ToLower(it.Key)]
		a := store.Attempt{At: now, Op: opResolve, Outcome: outcomeOK}
		if !ok {
			a.Outcome = genesys.ClassNotFound.String()
		}
		it.History = append(it.History, a)
		if !ok {
			s.finish(it, store.NotFound, "not.found", fmt.Sprintf("no user has e-mail %s", it.Key))
			return true, true
		}
		it.UserID, changed = id, true
	}
	if m := it.Desired[genesys.FieldManager]; strings.Contains(m, "@") {
		id, ok := found[strings.ToLower(m)]
		if !ok {
			s.finish(it, store.Invalid, "manager.not.found",
				fmt.Sprintf("manager e-mail %s matches no user", m))
			return true, true
		}
		it.Desired[genesys.FieldManager], changed = id, true
	}
	return changed, false
}

// mergeLines adds merged items' plan lines to the item they merged into.
func (s *Scheduler) mergeLines(res *resolution, merges map[uint64][]int) error {
	for seq, lines := range merges {
		it := res.items[seq]
		if it == nil {
			var err error
			if it, err = s.l.Get(seq); err != nil {
				return fmt.Errorf("merge into item %d: %w", seq, err)
			}
		}
		it.Lines = append(it.Lines, lines...)
		slices.Sort(it.Lines)
		it.Lines = slices.Compact(it.Lines)
		res.items[seq] = it
	}
	return nil
}

// desiredSum is a digest of desired values, equal for equal maps.
func desiredSum(m map[string]string) [32]byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q\n", k, m[k])
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// commitResolution saves a resolution. Saves come before deletes and the
// resolved mark last, so a crash in between is repaired by resolving again.
func (s *Scheduler) commitResolution(res *resolution) error {
	items := make([]*store.Item, 0, len(res.items))
	for _, it := range res.items {
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b *store.Item) int { return cmp.Compare(a.Seq, b.Seq) })
	for len(items) > 0 {
		n := min(len(items), 1000)
		if err := s.l.Commit(items[:n], s.checkpointState()); err != nil {
			return fmt.Errorf("save resolution: %w", err)
		}
		items = items[n:]
	}
	for seq := range res.deleted {
		if err := s.l.Delete(seq); err != nil {
			return fmt.Errorf("delete merged item %d: %w", seq, err)
		}
	}
	if err := s.l.SetMeta(func(m *store.RunMeta) { m.Resolved = true }); err != nil {
		return fmt.Errorf("mark resolved: %w", err)
	}
	return nil
}

package sim

import "time"

// limiter admits at most limit requests per key per window, in fixed
// windows aligned to multiples of the window, or in a sliding window.
// A refused request does not count. The caller serialises access.
type limiter struct {
	limit   int
	span    time.Duration
	sliding bool
	keys    map[string]*window
}

// window is one key's recent admissions.
type window struct {
	start time.Time   // fixed: start of the current window
	count int         // fixed: admitted in the current window
	hits  []time.Time // sliding: admission times, a ring of up to limit
	head  int         // sliding: index of the oldest hit once the ring is full
}

// newLimiter returns a limiter; limit 0 admits everything.
func newLimiter(limit int, span time.Duration, sliding bool) *limiter {
	return &limiter{limit: limit, span: span, sliding: sliding, keys: map[string]*window{}}
}

// admit takes one request under key at now. When the limit is reached it
// admits nothing and returns how long until a request would be admitted.
func (l *limiter) admit(key string, now time.Time) (bool, time.Duration) {
	if l.limit <= 0 {
		return true, 0
	}
	w := l.keys[key]
	if w == nil {
		w = &window{}
		l.keys[key] = w
	}
	if l.sliding {
		return l.admitSliding(w, now)
	}
	return l.admitFixed(w, now)
}

// wait returns how long until key could be admitted at now, without
// taking anything; 0 means it would be admitted.
func (l *limiter) wait(key string, now time.Time) time.Duration {
	if l.limit <= 0 {
		return 0
	}
	w := l.keys[key]
	if w == nil {
		return 0
	}
	if l.sliding {
		if len(w.hits) < l.limit {
			return 0
		}
		return max(0, w.hits[w.head].Add(l.span).Sub(now))
	}
	if !now.Truncate(l.span).Equal(w.start) || w.count < l.limit {
		return 0
	}
	return w.start.Add(l.span).Sub(now)
}

// admitFixed counts requests in the window now falls in.
func (l *limiter) admitFixed(w *window, now time.Time) (bool, time.Duration) {
	if start := now.Truncate(l.span); !start.Equal(w.start) {
		w.start, w.count = start, 0
	}
	if w.count >= l.limit {
		return false, w.start.Add(l.span).Sub(now)
	}
	w.count++
	return true, 0
}

// admitSliding admits when fewer than limit requests were admitted in the
// span before now.
func (l *limiter) admitSliding(w *window, now time.Time) (bool, time.Duration) {
	if len(w.hits) < l.limit {
		w.hits = append(w.hits, now)
		return true, 0
	}
	oldest := w.hits[w.head]
	if until := oldest.Add(l.span).Sub(now); until > 0 {
		return false, until
	}
	w.hits[w.head] = now
	w.head = (w.head + 1) % l.limit
	return true, 0
}

package store

// valid reports whether s is one of the defined states.
func (s State) valid() bool { return s >= Waiting && s <= Exhausted }

// CanTransition reports whether Save may move an item from one state to
// another. Staying in a state is always allowed (to record a re-read or a
// resolved id). Waiting and InFlight may move anywhere; nothing leaves a
// terminal state except Ledger.Retry, which does not go through this check.
func CanTransition(from, to State) bool {
	if !from.valid() || !to.valid() {
		return false
	}
	if from == to {
		return true
	}
	return !from.Terminal()
}

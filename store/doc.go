// Package store is gcbulk's ledger: one bbolt file per run that records
// what the plan asked, what was done, what failed and why. It is the single
// source of truth for resuming after a crash and for the audit afterwards.
//
// Import checks a whole plan (CSV or JSON Lines) and, only when every row
// is valid, writes a new ledger beside the target and moves it into place.
// Open reopens a ledger; a second writer gets a *LockedError naming the
// holder's pid instead of hanging.
//
// The file holds these buckets:
//
//	meta    format marker, run metadata (RunMeta), checkpoint bytes
//	items   8-byte seq → versioned item record (version byte, then JSON)
//	due     8-byte unix nanos + 8-byte seq, Waiting items only
//	state   state byte + 8-byte seq
//	counts  state byte → 8-byte count
//	keys    normalised plan key → seq, first line, hash of the values
//
// Every Save keeps the records, both indexes and the counts in one
// transaction, so Due and Counts never scan the items. Many transitions
// may share one transaction (group commit) and one fsync. A Ledger is safe
// for concurrent use; bbolt runs one write transaction at a time.
package store

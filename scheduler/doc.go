// Package scheduler runs a bulk change against Genesys Cloud at the pace
// the tenant allows.
//
// The Governor implements genesys.Pacer: the API client consults it around
// every request. It holds one adaptive rate for the whole run (the limit
// that matters is the tenant's, per token), learns that limit from the
// 429s, pauses all sending for a Retry-After, bounds requests in flight and
// keeps a circuit breaker and a retry budget.
//
// The Scheduler takes due items from the ledger, reads their users in
// batches of 100, records its intent (InFlight) before any write, sends the
// PATCHes and batched division moves, and records each outcome in grouped
// commits together with the checkpoint (learned rate, counters, elapsed).
//
// Wire them as:
//
//	gov := scheduler.NewGovernor(cfg)
//	client, err := genesys.NewClient(genesys.Config{..., Pacer: gov})
//	s := scheduler.New(ledger, client, gov, cfg)
//	sum, err := s.Run(ctx)
package scheduler

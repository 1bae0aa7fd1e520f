// Package checkpoint is what lets a run pick up exactly where it stopped
// after a kill -9, a power loss, SIGTERM or a full disk.
//
// The run state that must survive besides the items themselves (the
// learned rate, request counters and elapsed time) is a State, stored as
// JSON with a version field inside the ledger by Save, in the same
// transactions as the scheduler's outcome commits, and read back by Load.
//
// Recover settles the items a crash left InFlight before the scheduler
// starts. Their write may or may not have reached Genesys, so nothing is
// sent again blindly: the users are re-read in batches of 100, an item
// whose user already holds the desired values is Applied and Verified, any
// other goes back to Waiting (the scheduler re-reads before every write),
// and a user that no longer exists ends NotFound. A read that keeps failing
// leaves its items InFlight for the next start.
package checkpoint

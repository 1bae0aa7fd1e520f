// Package genesys is gcbulk's client for the Genesys Cloud Platform API:
// the user types a plan changes, the classified errors the scheduler acts
// on, and a Client that reads, patches, moves and resolves users with one
// shared OAuth token.
//
// The Client spends one request per call and never retries on its own,
// with two exceptions: a 401 is answered by fetching one new token and
// sending once more, and ResolveEmails retries its pages and searches a
// few times. Pacing, backoff and rate adaptation belong to the Pacer the
// caller passes in. Package sim holds a simulator of the same API.
package genesys

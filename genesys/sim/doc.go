// Package sim is an in-process Genesys Cloud simulator: the OAuth token
// endpoint, the users and division endpoints gcbulk uses, the platform's
// rate limits and 429 answers, and deterministic faults (5xx answers,
// latency, connection resets around a write, slow answers, concurrent
// edits and outages).
//
// Every test, benchmark and demo of gcbulk runs against it on loopback, so
// it follows the platform's documented behaviour: the same status codes,
// error bodies, headers and version rules. Two endpoints are its own and
// not Genesys API: GET /sim/stats (counters, see Stats) and GET /sim/users
// (every user's current state as JSON Lines). POST /sim/revoke revokes
// every token and POST /sim/outage?for=30s starts an outage at once.
//
// A Server is an http.Handler safe for many clients at once; Start serves
// one on 127.0.0.1 with a free port.
package sim

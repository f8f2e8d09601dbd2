// Package policy is the data plane's decisions as plain functions and
// plain state, with no I/O, no clock and no goroutine of its own: which
// holder of a chunk to ask first ([Order], [Round], [Stats]), which
// chunk to fetch next ([RarestFirst]), whether a holder serves a peer's
// request or sends it elsewhere and where ([Slots], [Origin],
// [CopiesOf]), how long to wait after busy answers ([BusyPause],
// [Backoff]), where durable copies go ([SpreadPick]), and how much a
// capped link may burst ([Burst]).
//
// node/transfer and node's prefetcher decide through this package, and
// the fleet simulator (package sim) runs the same code on a virtual
// clock: whatever changes here changes both. Time is always passed in
// (a time.Time the agents read from the wall clock, the simulator from
// its own), and randomness comes from a [Rand] the caller gives
// ([Global] in the agents, a seeded generator in the simulator).
//
// Types that keep state ([Stats], [Origin], [Slots]) are safe for
// concurrent use; everything else is a function of its arguments.
package policy

// Package faults holds the fault tests that run on real agent processes.
//
// `make test-faults` (go test ./faults -faults) builds the p2pglance
// binary once, starts clusters of `p2pglance agent` processes with their
// production timers, each in its own Linux network namespace on one bridge,
// and while clients write through them it kills them (SIGKILL), freezes
// them (SIGSTOP past the election timeout), cuts the network between them
// (nftables rules in their namespaces, both ways and one way), fills one
// node's disk (a tmpfs data directory) and restarts one on a torn copy of
// its data directory. Afterwards every write a client was answered 2xx for
// is on every node, no write was applied twice, no Raft term had two
// leaders, and every active image downloads byte-exact from every node.
//
// The tests need root, ip (iproute2) and nft (nftables); without the
// -faults flag they skip, so `make test` does not run them.
package faults

// Package fsmtest runs the catalog state machine without Raft, for the
// tests of packages that write the catalog (api, metadefs): every
// command is encoded as a node encodes it, checked with raftfsm.Validate
// as a leader checks forwarded commands, and applied at the next log
// index. Only tests import it.
package fsmtest

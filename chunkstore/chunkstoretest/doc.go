// Package chunkstoretest holds a conformance suite that every
// chunkstore.Store implementation must pass, and helpers to damage stored
// chunks in tests.
//
// The suite is what a chunkstore.Store must do, written once: the tests of
// chunkstore.BadgerStore and chunkstore.MemStore both run it, and a new
// implementation is done when it passes. FlipOnDisk damages a Badger
// store's files for crash and corruption tests (testcluster uses it).
//
// It imports only chunkstore and the standard library (testing among
// them). Production code must never import it, and it must not import
// node, api or any package above chunkstore.
package chunkstoretest

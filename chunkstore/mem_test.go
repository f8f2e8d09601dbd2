package chunkstore_test

import (
	"testing"

	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/chunkstore/chunkstoretest"
)

func TestMemStoreSuite(t *testing.T) {
	chunkstoretest.Run(t, func(*testing.T) chunkstore.Store { return chunkstore.NewMemStore() })
}

func TestMemStoreCorruptMissing(t *testing.T) {
	m := chunkstore.NewMemStore()
	d, data := chunkstoretest.Chunk(1, 0)
	if m.Corrupt(d) {
		t.Fatal("Corrupt(absent chunk) = true")
	}
	if err := m.Put(t.Context(), d, data); err != nil {
		t.Fatal(err)
	}
	if m.Corrupt(d) {
		t.Fatal("Corrupt(empty chunk) = true")
	}
}

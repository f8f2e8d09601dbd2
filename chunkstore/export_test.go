package chunkstore

import "github.com/dgraph-io/badger/v4"

// Corrupt flips a byte of the first segment of the held copy of d,
// bypassing verification, so that the conformance suite can test
// corruption handling (it implements chunkstoretest.Corrupter). Defined
// in a test file, it exists only in test binaries.
func (s *BadgerStore) Corrupt(d Digest) bool {
	release, err := s.acquire()
	if err != nil {
		return false
	}
	defer release()
	mu := s.stripe(d)
	mu.Lock()
	defer mu.Unlock()
	flipped := false
	s.writeMu.RLock()
	defer s.writeMu.RUnlock()
	err = s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(segKey(d, 0))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil || len(v) == 0 {
			return err
		}
		v[len(v)/2] ^= 0xff
		flipped = true
		return txn.Set(segKey(d, 0), v)
	})
	return err == nil && flipped
}

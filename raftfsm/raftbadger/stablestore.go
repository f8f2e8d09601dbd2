package raftbadger

import (
	"bytes"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Set implements raft.StableStore. Setting a nil value deletes the key, so
// that, as with raft.InmemStore, a later Get reports it as not found.
func (s *Store) Set(key []byte, val []byte) error {
	k := prefixed(prefixBytes, key)
	err := s.db.Update(func(txn *badger.Txn) error {
		if val == nil {
			return txn.Delete(k)
		}
		return txn.Set(k, bytes.Clone(val))
	})
	if err != nil {
		return fmt.Errorf("set key %q: %w", key, err)
	}
	s.compact.Wrote()
	return nil
}

// Get implements raft.StableStore. A missing key yields a nil value and
// ErrKeyNotFound (unwrapped, as raft matches its message); an empty value
// yields a non-nil empty slice.
func (s *Store) Get(key []byte) ([]byte, error) {
	var val []byte
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		val, err = getValue(txn, prefixed(prefixBytes, key))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get key %q: %w", key, err)
	}
	if val == nil {
		return nil, ErrKeyNotFound
	}
	return val, nil
}

// SetUint64 implements raft.StableStore. Uint64 values live in their own
// namespace: Get(k) does not see SetUint64(k, v), as with raft.InmemStore.
func (s *Store) SetUint64(key []byte, val uint64) error {
	k := prefixed(prefixUint, key)
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(k, encodeUint64(val))
	})
	if err != nil {
		return fmt.Errorf("set key %q: %w", key, err)
	}
	s.compact.Wrote()
	return nil
}

// GetUint64 implements raft.StableStore. A missing key yields 0 and a nil
// error, as with raft.InmemStore.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	var val []byte
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		val, err = getValue(txn, prefixed(prefixUint, key))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("get key %q: %w", key, err)
	}
	if val == nil {
		return 0, nil
	}
	v, err := decodeUint64(val)
	if err != nil {
		return 0, fmt.Errorf("get key %q: %w", key, err)
	}
	return v, nil
}

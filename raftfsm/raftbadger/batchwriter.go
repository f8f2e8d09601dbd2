package raftbadger

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// batchWriter writes through a Badger transaction. If split is set it
// commits and starts a new transaction whenever the current one is full;
// otherwise it returns badger.ErrTxnTooBig.
type batchWriter struct {
	db      *badger.DB
	wrote   func() // called after each commit
	split   bool
	txn     *badger.Txn
	n       int // writes in txn
	commits int // transactions committed
}

func (w *batchWriter) set(key, val []byte) error { return w.do(key, val, false) }

func (w *batchWriter) del(key []byte) error { return w.do(key, nil, true) }

func (w *batchWriter) do(key, val []byte, del bool) error {
	if w.txn == nil {
		w.txn, w.n = w.db.NewTransaction(true), 0
	}
	err := w.apply(key, val, del)
	if errors.Is(err, badger.ErrTxnTooBig) && w.split && w.n > 0 {
		if err := w.flush(); err != nil {
			return err
		}
		w.txn, w.n = w.db.NewTransaction(true), 0
		err = w.apply(key, val, del)
	}
	if err != nil {
		return err
	}
	w.n++
	return nil
}

func (w *batchWriter) apply(key, val []byte, del bool) error {
	if del {
		return w.txn.Delete(key)
	}
	return w.txn.Set(key, val)
}

// flush commits the current transaction, if it holds any write.
func (w *batchWriter) flush() error {
	txn := w.txn
	w.txn = nil
	if txn == nil {
		return nil
	}
	if w.n == 0 {
		txn.Discard()
		return nil
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	w.wrote()
	w.commits++
	return nil
}

func (w *batchWriter) discard() {
	if w.txn != nil {
		w.txn.Discard()
		w.txn = nil
	}
}

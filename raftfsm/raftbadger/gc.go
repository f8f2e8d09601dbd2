package raftbadger

import (
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// gcLoop runs value-log garbage collection every interval until Close.
func (s *Store) gcLoop(interval time.Duration) {
	defer close(s.gcDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.gcStop:
			return
		case <-t.C:
			s.runValueLogGC()
		}
	}
}

// runValueLogGC rewrites value-log files that are at least half garbage,
// one file per round, until Badger finds nothing more to do.
func (s *Store) runValueLogGC() {
	for range gcMaxRounds {
		select {
		case <-s.gcStop:
			return
		default:
		}
		err := s.db.RunValueLogGC(gcDiscardRatio)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			return
		}
		if err != nil {
			s.logger.Warn("raftbadger: value log GC failed", "error", err)
			return
		}
		s.compact.Wrote() // the live entries were written again
	}
}

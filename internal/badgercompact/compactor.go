// Package badgercompact runs a Badger database's LSM compactions when
// writes have made them due, in place of Badger's own compactor
// goroutines.
//
// Badger's compactors (Options.NumCompactors, at least two) each wake
// every 50 ms for as long as the database is open, whether anything was
// written or not: on an idle agent with two databases that is 80 wake-ups
// a second and about half of its idle CPU. A database opened with
// [Options] has no compactor goroutines; its store tells the [Compactor]
// after every write ([Compactor.Wrote]) and the compactor compacts when
// Badger scores a level as due (the level-0 table count or a level's size
// over its target, the rule Badger's compactors follow), checking again
// while writes continue and once after they stop. An idle database costs
// nothing.
//
// A due compaction runs [badger.DB.Flatten], Badger's only public
// compaction call, which merges the tree into its last level, one merge
// at a time. The chunk store's tree holds keys and value pointers only;
// the Raft log's holds entries under 64 KiB and is kept at two levels
// (raftbadger's base level size), so a merge is level 0 into the last
// level. Under a sustained burst of Raft log writes this costs more CPU
// than Badger's two compactors (600 MiB of 2 KiB entries with log
// truncation: 7.7-8.8 s of user time against 6.4-7.0 s); an idle
// database costs none instead of a wake-up every 25 ms.
package badgercompact

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// DefaultSettle is how often a Compactor looks at the tree while writes
// continue, and how long after the last write it looks once more: Badger
// flushes a full memtable to a level-0 table in the background, after
// the write that filled it returned.
const DefaultSettle = time.Second

// Options returns o for a database that a Compactor compacts: without
// Badger's compactor goroutines.
func Options(o badger.Options) badger.Options {
	return o.WithNumCompactors(0)
}

// Compactor compacts one Badger database opened with [Options]. Its
// methods are safe for concurrent use.
type Compactor struct {
	db     *badger.DB
	log    *slog.Logger
	settle time.Duration

	// mu is held while a compaction runs and by Exclusive.
	mu sync.Mutex

	wrote    chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// Start starts compacting db, which must have been opened with
// [Options]: once now (the tree may hold tables from before), then after
// writes. log receives compaction failures. Call Stop before closing db.
func Start(db *badger.DB, log *slog.Logger) *Compactor {
	return start(db, log, DefaultSettle)
}

func start(db *badger.DB, log *slog.Logger, settle time.Duration) *Compactor {
	c := &Compactor{
		db:     db,
		log:    log,
		settle: settle,
		wrote:  make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go c.run()
	return c
}

// Wrote tells the compactor that a write was committed. It never blocks.
func (c *Compactor) Wrote() {
	select {
	case c.wrote <- struct{}{}:
	default:
	}
}

// Exclusive runs fn while no compaction runs and none starts: for
// Badger calls that must not overlap one (DropPrefix, Flatten).
func (c *Compactor) Exclusive(fn func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fn()
}

// Stop stops the compactor, waiting for a compaction in progress. Later
// calls do nothing.
func (c *Compactor) Stop() {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
}

// run compacts what is due now, then waits for writes; while they
// continue it looks every settle, and once more a settle after the last.
func (c *Compactor) run() {
	defer close(c.done)
	c.compactIfDue()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wrote:
		}
		for active := true; active; {
			c.compactIfDue()
			t := time.NewTimer(c.settle)
			select {
			case <-c.stop:
				t.Stop()
				return
			case <-t.C:
			}
			select {
			case <-c.wrote:
			default:
				c.compactIfDue()
				active = false
			}
		}
	}
}

// compactIfDue compacts the tree if Badger scores any level as due.
func (c *Compactor) compactIfDue() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !Due(c.db) {
		return
	}
	if err := c.db.Flatten(1); err != nil {
		c.log.Warn("compaction failed", "err", fmt.Errorf("flatten LSM tree: %w", err))
	}
}

// Due reports whether Badger would compact some level of db now: it
// scores a level (level 0 by its table count, the others by size against
// their targets) only when that score reaches 1.
func Due(db *badger.DB) bool {
	for _, l := range db.Levels() {
		if l.Score >= 1 {
			return true
		}
	}
	return false
}

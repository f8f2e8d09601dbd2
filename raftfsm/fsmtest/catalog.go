package fsmtest

import (
	"context"
	"sync"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// Catalog is the catalog state machine fed one command at a time. Its
// document methods make it a store of catalog documents (metadefs.Store);
// reads come from the FSM's state, as a node's do.
type Catalog struct {
	tb  testing.TB
	who string // who proposes, for the error on a command a leader refuses
	mu  sync.Mutex
	fsm *raftfsm.FSM
	idx uint64
	// changes counts the applied commands the FSM accepted: a refused
	// one (exists, conflict, not found) is in the log but changes nothing.
	changes uint64
	// held are entries numbered by Hold and not applied yet.
	held []*raft.Log
}

// New returns an empty catalog; who names the code under test in the
// error a command a leader would refuse reports to tb.
func New(tb testing.TB, who string) *Catalog {
	return &Catalog{tb: tb, who: who, fsm: raftfsm.New()}
}

// Reset starts over from an empty catalog.
func (c *Catalog) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fsm, c.idx, c.changes, c.held = raftfsm.New(), 0, 0, nil
}

// Changes counts the writes that changed the catalog: it moves on every
// accepted command, not on one the FSM refused.
func (c *Catalog) Changes() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changes
}

// FSM is the state machine writes go to now (Reset replaces it).
func (c *Catalog) FSM() *raftfsm.FSM {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fsm
}

// State is the current state machine's state.
func (c *Catalog) State() *raftfsm.State { return c.FSM().State() }

// Propose encodes, validates and applies one command.
func (c *Catalog) Propose(cmd any) (*raftfsm.Result, error) {
	data, err := raftfsm.Encode(cmd)
	if err != nil {
		return nil, err
	}
	if err := raftfsm.Validate(data); err != nil {
		c.tb.Errorf("%s proposed a command a leader refuses: %v: %q", c.who, err, data)
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idx++
	res := c.fsm.Apply(&raft.Log{Index: c.idx, Data: data, Type: raft.LogCommand}).(*raftfsm.Result)
	if res.Err == nil {
		c.changes++
	}
	return res, nil
}

// Hold numbers cmd at the next log index without applying it, as a
// replica that has not caught up with a write another node took, and
// returns that index; CatchUp applies what is held.
func (c *Catalog) Hold(cmd any) (uint64, error) {
	data, err := raftfsm.Encode(cmd)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idx++
	c.held = append(c.held, &raft.Log{Index: c.idx, Data: data, Type: raft.LogCommand})
	return c.idx, nil
}

// CatchUp applies every entry Hold numbered.
func (c *Catalog) CatchUp() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.held {
		c.fsm.Apply(l)
	}
	c.held = nil
}

// Sync does nothing: every write is applied when Propose returns.
func (c *Catalog) Sync(context.Context) error { return nil }

// Doc returns a document.
func (c *Catalog) Doc(_ context.Context, kind, id string) (*catalog.Doc, error) {
	return c.State().Doc(kind, id)
}

// Docs returns every document of a kind.
func (c *Catalog) Docs(_ context.Context, kind string) ([]*catalog.Doc, error) {
	return c.State().Docs(kind), nil
}

// PutDoc creates (create) or replaces a document.
func (c *Catalog) PutDoc(_ context.Context, d *catalog.Doc, create bool, expect uint64) (*catalog.Doc, error) {
	res, err := c.Propose(&raftfsm.PutDoc{Doc: d, Create: create, ExpectRevision: expect})
	if err != nil {
		return nil, err
	}
	return res.Doc, res.Err
}

// DeleteDoc removes a document.
func (c *Catalog) DeleteDoc(_ context.Context, kind, id string) error {
	res, err := c.Propose(&raftfsm.DeleteDoc{Kind: kind, ID: id})
	if err != nil {
		return err
	}
	return res.Err
}

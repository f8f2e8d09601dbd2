package node

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/p2pglance/p2pglance/node/fanout"
)

// Choosing the upstream a replica pulls the log from: fanout's ranking of
// the live members, the upstreams that failed avoided for a while, the
// voters checked for leadership before a first pull, and the start after
// a full restart (see pick).

// errLeads is why the follower leaves a voter it was about to pull from:
// the voter leads, and another voter can feed it.
var errLeads = errors.New("the voter leads Raft; pulling from another voter")

// probeVoter asks voter id at addr, before pulling the log from it, for
// nothing but where the leader is (a poll past every index, without
// waiting: no entries, only the hints). The hints a replica starts with
// may name a leader of before a restart, and one answer of the leader
// could carry a whole log's tail: a voter that leads is left while
// another voter is not avoided (errLeads); otherwise it is confirmed and
// not asked again until the hints name another leader.
func (f *follower) probeVoter(ctx context.Context, id, addr string) error {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	batch, err := f.client.Log(pctx, addr, math.MaxUint64, 0)
	cancel()
	if err != nil {
		return err
	}
	f.noteHints(batch.Hints)
	f.mu.Lock()
	defer f.mu.Unlock()
	if batch.Hints.Leader == id {
		for _, v := range f.hints.Voters {
			if _, bad := f.avoid[v.ID]; v.ID != id && !bad && v.Peer != "" {
				return errLeads
			}
		}
	}
	f.confirmed = id
	return nil
}

// isVoter reports whether id is a voter the hints name (f.mu held).
func (f *follower) isVoter(id string) bool {
	for _, v := range f.hints.Voters {
		if v.ID == id {
			return true
		}
	}
	return false
}

// fail avoids upstream id for a while: 500 ms after one failure,
// doubling with every failure in a row up to 10 s (an upstream that is
// still catching up itself, a voter before an election, is back soon).
func (f *follower) fail(id string, err error) {
	f.mu.Lock()
	k := min(f.strikes[id], 5)
	f.strikes[id]++
	wait := min(500*time.Millisecond<<k, 10*time.Second)
	if f.starting(time.Now()) {
		// Its upstreams are starting too and answer once they caught
		// up themselves: ask again soon.
		wait = min(wait, time.Second)
	}
	f.avoid[id] = time.Now().Add(wait)
	if f.upstream == id {
		f.upstream = ""
	}
	f.rankedAt = time.Time{}
	f.mu.Unlock()
	f.log.Debug("catalog upstream failed; trying another", "upstream", id, "err", err)
}

// pick returns the best upstream not avoided now, by fanout's ranking of
// the live members (the voters as the hints name them). The ranking is
// recomputed at most every rankEvery, or after a failure.
//
// Until its first answer from an upstream (at most startGrace after
// replica mode began) a replica is starting: after a full restart, every
// agent restarts its gossip and restores its own checkpoint at once, and
// every replica lacks the same tail of the log, which only the voters
// keep. Were each to pull it from the voters while gossip forms, the
// voters (and the leader, which the saved hints may not name) would send
// that tail once per replica. So a starting replica re-ranks every
// startRankEvery, never falls back to the voters the hints name while
// gossip shows none, and leaves its tree ancestors for the voters only
// when it is a head of the tree in a view of the membership that has not
// changed for startSettle; its ancestors answer once they have caught up
// themselves, and the tail comes down the tree.
func (f *follower) pick() (id, addr string) {
	f.mu.Lock()
	now := time.Now()
	for k, until := range f.avoid {
		if now.After(until) {
			delete(f.avoid, k)
		}
	}
	starting := f.starting(now)
	every := rankEvery
	if starting {
		every = startRankEvery
	}
	if now.Sub(f.rankedAt) > every {
		f.mu.Unlock()
		f.rank()
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	tree := false // the ranking holds an ancestor that is not a voter
	for _, up := range f.ranked {
		voter := f.isVoter(up)
		tree = tree || !voter
		if starting && voter && (tree || now.Sub(f.viewSince) < startSettle) {
			break // wait for the tree, or for the view to settle
		}
		if _, bad := f.avoid[up]; !bad && f.peers[up] != "" {
			id, addr = up, f.peers[up]
			break
		}
	}
	if id == "" && !starting {
		// Gossip knows no live voter yet (a start): go to a voter the
		// hints name, not avoided, the leader last.
		for _, v := range f.hints.Voters {
			if _, bad := f.avoid[v.ID]; bad || v.Peer == "" || v.ID == f.hints.Leader && id != "" {
				continue
			}
			id, addr = v.ID, v.Peer
			if v.ID != f.hints.Leader {
				break
			}
		}
	}
	if id != f.upstream && id != "" {
		f.log.Debug("catalog upstream", "upstream", id, "was", f.upstream)
	}
	f.upstream = id
	return id, addr
}

// rankEvery bounds how often the follower recomputes its upstreams from
// the membership.
const rankEvery = 2 * time.Second

// While starting (pick), the follower re-ranks every startRankEvery, and
// pulls from a voter only in a view unchanged for startSettle; starting
// ends at the first answer from an upstream, or after startGrace.
const (
	startRankEvery = 250 * time.Millisecond
	startSettle    = time.Second
	startGrace     = 10 * time.Second
)

// starting reports whether the follower is starting (pick; f.mu held).
func (f *follower) starting(now time.Time) bool {
	return f.lastContact.IsZero() && now.Sub(f.begun) < startGrace
}

// rank recomputes the upstreams of self from gossip's live members.
func (f *follower) rank() {
	h := f.Hints()
	voters := map[string]bool{}
	for _, v := range h.Voters {
		voters[v.ID] = true
	}
	var ms []fanout.Member
	peers := map[string]string{}
	for _, m := range f.gossip.Members() {
		if !m.Alive && m.Meta.ID != f.self {
			continue
		}
		ms = append(ms, fanout.Member{ID: m.Meta.ID, Zone: m.Meta.Zone, Rack: m.Meta.Rack, Voter: voters[m.Meta.ID], Leader: m.Meta.ID == h.Leader})
		peers[m.Meta.ID] = m.Meta.PeerAddr
	}
	ranked := fanout.New(ms, f.degree).Upstreams(f.self)
	f.mu.Lock()
	f.ranked, f.peers, f.rankedAt = ranked, peers, time.Now()
	if len(ms) != f.viewSize {
		f.viewSize, f.viewSince = len(ms), f.rankedAt
	}
	f.mu.Unlock()
}

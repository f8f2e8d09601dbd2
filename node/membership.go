package node

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/peer"
)

// membership keeps this node in the cluster: it answers joins (new nodes
// become voters up to the configured count, replicas outside Raft after),
// joins the nodes it is told to at start, and brings the voters that
// gossip lost back into gossip.
type membership struct {
	self     string // this node's id
	raftAddr string // this node's Raft address, as joins announce it
	join     []string
	voters   int
	// rejoinEvery is how often rejoinLoop looks for lost members.
	rejoinEvery time.Duration

	raft   *raft.Raft // nil on a replica that restarted
	gossip *gossip.Gossip
	client *peer.Client
	log    *slog.Logger
	// follower is active on a replica; becomeReplica turns a node that
	// joined with no Raft state into one.
	follower      *follower
	becomeReplica func(peer.Hints)

	// addMu serializes joins on the leader: two at once would both see
	// a free voter seat.
	addMu sync.Mutex
}

// addServer adds a node to the Raft configuration on the leader.
func (m *membership) addServer(req peer.JoinRequest) (string, error) {
	m.addMu.Lock()
	defer m.addMu.Unlock()
	f := m.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return "", fmt.Errorf("read raft configuration: %w", err)
	}
	voters := 0
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(req.ID) && s.Address == raft.ServerAddress(req.RaftAddr) {
			return s.Suffrage.String(), nil // already a member (a restart)
		}
		if s.Suffrage == raft.Voter && s.ID != raft.ServerID(req.ID) {
			voters++
		}
	}
	if voters < m.voters {
		if err := m.raft.AddVoter(raft.ServerID(req.ID), raft.ServerAddress(req.RaftAddr), 0, 10*time.Second).Error(); err != nil {
			return "", fmt.Errorf("add voter %s: %w", req.ID, err)
		}
		m.log.Info("added voter", "id", req.ID, "raft", req.RaftAddr)
		return raft.Voter.String(), nil
	}
	// Every other node is a replica: it stays out of the Raft
	// configuration, so the leader's work does not grow with it.
	m.log.Debug("joined as a replica", "id", req.ID)
	return peer.SuffrageReplica, nil
}

// known places a joining node that restarted without asking the leader:
// a replica (it has no Raft address), or a node this one's Raft
// configuration already holds at that address. ok is false for a node
// the leader must place.
func (m *membership) known(req peer.JoinRequest) (suffrage string, ok bool) {
	if req.RaftAddr == "" {
		return peer.SuffrageReplica, true
	}
	if m.follower.active.Load() {
		return "", false
	}
	f := m.raft.GetConfiguration()
	if f.Error() != nil {
		return "", false
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(req.ID) && s.Address == raft.ServerAddress(req.RaftAddr) {
			return s.Suffrage.String(), true
		}
	}
	return "", false
}

// joinCluster joins the nodes in cfg.Join (Raft and gossip), retrying
// until it succeeds or ctx ends. Without Join it only rejoins the gossip
// peers remembered from an earlier run.
func (m *membership) joinCluster(ctx context.Context) error {
	if len(m.join) == 0 {
		return nil
	}
	req := peer.JoinRequest{ID: m.self, RaftAddr: m.raftAddr, GossipAddr: m.gossip.Addr()}
	backoff := 100 * time.Millisecond
	// In a random order: a fleet starting at once names the same few
	// nodes in every --join.
	seeds := slices.Clone(m.join)
	rand.Shuffle(len(seeds), func(i, j int) { seeds[i], seeds[j] = seeds[j], seeds[i] })
	for attempt := 1; ; attempt++ {
		for _, addr := range seeds {
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			resp, err := m.client.Join(cctx, addr, req)
			cancel()
			if err != nil {
				lvl := slog.LevelDebug
				if attempt%10 == 0 {
					lvl = slog.LevelWarn // still not in after many rounds: say so
				}
				m.log.Log(ctx, lvl, "join attempt failed", "peer", addr, "attempt", attempt, "err", err)
				continue
			}
			if _, err := m.gossip.Join(ctx, resp.GossipAddrs); err != nil {
				m.log.Warn("gossip join failed", "err", err)
				continue
			}
			if resp.Suffrage == peer.SuffrageReplica {
				m.becomeReplica(resp.Hints)
			}
			m.log.Info("joined cluster", "via", addr, "suffrage", resp.Suffrage)
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// servers returns the ids of the Raft configuration's members: from Raft
// on a member, the voters named by the hints on a replica.
func (m *membership) servers() []string {
	var ids []string
	if m.follower.active.Load() {
		for _, v := range m.follower.Hints().Voters {
			ids = append(ids, v.ID)
		}
		return ids
	}
	f := m.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	for _, s := range f.Configuration().Servers {
		ids = append(ids, string(s.ID))
	}
	return ids
}

// rejoinLoop brings the members of the Raft configuration that gossip
// lost back into gossip. After a network partition that outlasted
// failure detection, each side has declared the other dead, and
// memberlist never contacts a dead node again on its own: without this
// the two sides would stay apart in gossip (no chunk holdings, no leader
// address to forward writes to) although Raft has healed. Every pass
// joins the last known gossip address of each Raft server that is not
// alive in gossip.
//
// A replica is one of hundreds doing the same against the same few
// voters, and each join is a full member-list exchange with the voter:
// a voter that looks dead for a moment (a busy host) must not draw a
// join from every replica at once. So a replica waits until a voter has
// been gone for replicaRejoinPasses passes, joins one of the lost ones
// per pass, and spreads its passes at random over the interval.
func (m *membership) rejoinLoop(ctx context.Context) {
	every := m.rejoinEvery
	st := rejoinState{known: map[string]string{}, lost: map[string]int{}}
	for pass := 1; ; pass++ {
		wait := every
		if m.follower.active.Load() {
			wait = every/2 + rand.N(every) // [every/2, 3every/2)
		}
		if !sleepCtx(ctx, wait) {
			return
		}
		if pass <= startSyncPasses {
			m.syncOne(ctx, every)
		}
		m.rejoinPass(ctx, &st, every)
	}
}

// startSyncPasses is how many of the first rejoin passes also exchange
// the member list with one random alive member. A node joins through
// three members (joinGossipAddrs); when the whole fleet starts at once
// they know only part of it yet, and memberlist's periodic exchange is
// up to a minute or more away, so without these the node could list
// only part of the fleet for that long.
const startSyncPasses = 3

// syncOne exchanges the member list with one random alive member.
func (m *membership) syncOne(ctx context.Context, timeout time.Duration) {
	addrs := joinGossipAddrs(m.gossip.Members(), m.self, 1)
	if len(addrs) == 0 {
		return
	}
	jctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := m.gossip.Join(jctx, addrs); err != nil {
		m.log.Debug("member list exchange failed", "addr", addrs[0], "err", err)
	}
}

// replicaRejoinPasses is how many rejoin passes in a row a replica must
// find a voter gone before it joins it.
const replicaRejoinPasses = 3

// rejoinState is what rejoin passes remember.
type rejoinState struct {
	known map[string]string // node id -> gossip address last seen
	lost  map[string]int    // node id -> passes in a row it was not alive
}

func (m *membership) rejoinPass(ctx context.Context, st *rejoinState, timeout time.Duration) {
	alive := map[string]bool{}
	for _, mem := range m.gossip.Members() {
		if mem.Addr != "" {
			st.known[mem.Meta.ID] = mem.Addr
		}
		alive[mem.Meta.ID] = mem.Alive
	}
	replica := m.follower.active.Load()
	need := 1
	if replica {
		need = replicaRejoinPasses
	}
	servers := m.servers()
	var addrs []string
	for _, id := range servers {
		if id == m.self || alive[id] || st.known[id] == "" {
			delete(st.lost, id)
			continue
		}
		if st.lost[id]++; st.lost[id] >= need {
			addrs = append(addrs, st.known[id])
		}
	}
	for id := range st.lost {
		if !slices.Contains(servers, id) {
			delete(st.lost, id)
		}
	}
	if len(addrs) == 0 {
		return
	}
	if replica {
		addrs = []string{addrs[rand.N(len(addrs))]}
	}
	jctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if k, err := m.gossip.Join(jctx, addrs); k > 0 {
		m.log.Info("rejoined lost gossip members", "tried", len(addrs), "reached", k)
	} else {
		m.log.Debug("gossip rejoin failed", "addrs", addrs, "err", err)
	}
}

// joinGossipPeers is how many gossip members a join's answer names.
// memberlist's Join exchanges the whole member list with every address
// it is given, so naming every member would make each join cost O(N)
// exchanges and a fleet starting at once O(N²); one exchange already
// brings the whole list, the others only cover a member that is gone.
const joinGossipPeers = 3

// joinGossipAddrs picks up to k alive members other than the joiner, at
// random so that joins spread over the whole fleet instead of landing
// on the nodes named in every --join.
func joinGossipAddrs(members []gossip.Member, joiner string, k int) []string {
	var addrs []string
	for _, m := range members {
		if m.Alive && m.Meta.ID != joiner && m.Addr != "" {
			addrs = append(addrs, m.Addr)
		}
	}
	rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	return addrs[:min(k, len(addrs))]
}

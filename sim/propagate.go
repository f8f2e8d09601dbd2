package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/p2pglance/p2pglance/node/fanout"
)

// Propagation is a steady stream of catalog writes, committed by the
// voters (hashicorp/raft) and pulled down node/fanout's tree by every
// other agent (node's follower): each replica holds one long poll open
// at its upstream, which answers it as soon as it has applied an entry
// the poll has not seen, with every such entry; the replica applies
// them and polls again at once.
type Propagation struct {
	Topology
	// Voters are nodes 0..Voters-1 (the first to join); node 0 leads.
	Voters int
	// Degree is fanout's tree degree (0: fanout.DefaultDegree).
	Degree int
	// Writes arrive at the leader every 1/Rate seconds.
	Writes int
	Rate   float64
	// Fsync is one log write on a voter; the leader commits once a
	// majority (itself included) has the entry.
	Fsync time.Duration
	// CommitTimeout: a voter learns an entry committed with the
	// leader's next AppendEntries, sent for the next entry or after
	// CommitTimeout..2xCommitTimeout.
	CommitTimeout time.Duration
	// ServeCost is a node's time to answer one poll (one at a time);
	// ApplyCost a node's time to apply one entry.
	ServeCost, ApplyCost time.Duration
	Seed                 uint64
}

// PropagationResult is what a propagation run measured. Times are from
// each write's commit on the leader.
type PropagationResult struct {
	// Last is, per write, when the last agent applied it.
	Last []time.Duration
	// Agents are the percentiles over every (agent, write) pair of
	// when the agent applied the write: p50, p99, max.
	AgentP50, AgentP99, AgentMax time.Duration
	// Commit is, per write, from its arrival at the leader to commit.
	Commit []time.Duration
	// Depth is the tree's depth (hops from the voters), MaxChildren the
	// most polls one node answers per entry.
	Depth, MaxChildren int
	// Answers is the number of poll answers sent; LeaderAnswers how many
	// of them the leader sent.
	Answers, LeaderAnswers int64
	Events                 uint64
}

// Event kinds of a propagation.
const (
	pWrite = kindModel + iota
	pLearn
	pPollArrive
	pAnswer
	pApplied
)

type propagation struct {
	cfg     Propagation
	clk     Clock
	rng     *rand.Rand
	nodes   []pnode
	commit  []time.Duration // per write, on the leader
	arrive  []time.Duration // per write, at the leader
	applied []int           // per write: agents that applied it
	res     *PropagationResult
	hist    []int64 // (agent, write) latencies in histBin bins
}

const histBin = 50 * time.Microsecond

type pnode struct {
	voter    bool
	upstream int32
	applied  int           // entries applied (writes are 1..Writes)
	sched    int           // entries applied or being applied
	applyEnd time.Duration // when the entries being applied are in
	cpuFree  time.Duration // when it has answered every poll it got
	waiting  []int32       // children whose poll waits here
}

// Propagate runs a propagation.
func Propagate(cfg Propagation) (*PropagationResult, error) {
	switch {
	case cfg.N < 2 || cfg.Zones < 1 || cfg.Racks < 1 || cfg.Voters < 1 || cfg.Voters > cfg.N:
		return nil, fmt.Errorf("%w: need N >= 2, zones, racks >= 1, 1 <= voters <= N", ErrConfig)
	case cfg.Writes < 1 || cfg.Rate <= 0:
		return nil, fmt.Errorf("%w: need writes >= 1 at a positive rate", ErrConfig)
	}
	p := &propagation{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0xca7)),
		nodes: make([]pnode, cfg.N), commit: make([]time.Duration, cfg.Writes+1),
		arrive: make([]time.Duration, cfg.Writes+1), applied: make([]int, cfg.Writes+1),
		res: &PropagationResult{Last: make([]time.Duration, cfg.Writes)}}
	members := make([]fanout.Member, cfg.N)
	ids := make(map[string]int32, cfg.N)
	for i := range cfg.N {
		z, r := cfg.Names(int32(i))
		id := fmt.Sprintf("agent-%05d", i)
		members[i] = fanout.Member{ID: id, Zone: z, Rack: r, Voter: i < cfg.Voters, Leader: i == 0}
		ids[id] = int32(i)
	}
	tree := fanout.New(members, cfg.Degree)
	children := make([]int, cfg.N)
	for i := range cfg.N {
		n := &p.nodes[i]
		n.voter = members[i].Voter
		n.upstream = -1
		if !n.voter {
			up := tree.Upstreams(members[i].ID)
			if len(up) == 0 {
				return nil, fmt.Errorf("%w: %s has no upstream", ErrConfig, members[i].ID)
			}
			n.upstream = ids[up[0]]
			children[n.upstream]++
			p.res.Depth = max(p.res.Depth, tree.Depth(members[i].ID))
			// Its first poll is already waiting upstream.
			p.nodes[n.upstream].waiting = append(p.nodes[n.upstream].waiting, int32(i))
		}
	}
	for _, c := range children {
		p.res.MaxChildren = max(p.res.MaxChildren, c)
	}
	for k := 1; k <= cfg.Writes; k++ {
		p.clk.At(time.Duration(float64(k-1)/cfg.Rate*float64(time.Second)), Event{Kind: pWrite, A: int32(k)})
	}
	p.clk.Run(p.handle, nil, 0)
	for k := 1; k <= cfg.Writes; k++ {
		if p.applied[k] != cfg.N {
			return nil, fmt.Errorf("write %d reached %d of %d agents", k, p.applied[k], cfg.N)
		}
		p.res.Commit = append(p.res.Commit, p.commit[k]-p.arrive[k])
	}
	p.res.AgentP50, p.res.AgentP99, p.res.AgentMax = p.histPct(50), p.histPct(99), p.histPct(100)
	p.res.Events = p.clk.Events()
	return p.res, nil
}

func (p *propagation) handle(ev Event) {
	switch ev.Kind {
	case pWrite:
		p.write(int(ev.A))
	case pLearn:
		// Voter A learns that entries up to B committed.
		p.applyUpTo(ev.A, int(ev.B))
	case pPollArrive:
		// A poll from B arrives at A.
		u := &p.nodes[ev.A]
		if u.applied > p.nodes[ev.B].applied {
			p.answer(ev.A, ev.B)
		} else {
			u.waiting = append(u.waiting, ev.B)
		}
	case pAnswer:
		// B's answer, up to entry C, reaches A.
		p.applyUpTo(ev.A, int(ev.C))
	case pApplied:
		p.appliedDone(ev.A, int(ev.B))
	}
}

// write k arrives at the leader: appended and fsynced there and on the
// voters; committed once a majority has it.
func (p *propagation) write(k int) {
	c := p.cfg
	now := p.clk.now
	p.arrive[k] = now
	var acks []time.Duration
	for v := range c.Voters {
		ack := c.Fsync
		if v != 0 {
			ack = 2*c.Latency(0, int32(v)) + c.Fsync
		}
		acks = append(acks, ack)
	}
	sortDurations(acks)
	commit := now + acks[c.Voters/2]
	// Commits are in log order.
	if k > 1 {
		commit = max(commit, p.commit[k-1])
	}
	p.commit[k] = commit
	p.clk.At(commit, Event{Kind: pLearn, A: 0, B: int32(k)})
	for v := 1; v < c.Voters; v++ {
		// The next AppendEntries after the commit tells the follower:
		// the next write's, or the commit timeout's.
		tell := commit + c.CommitTimeout + time.Duration(p.rng.Int64N(int64(max(1, c.CommitTimeout))))
		if next := time.Duration(float64(k) / c.Rate * float64(time.Second)); k < c.Writes && next >= commit {
			tell = min(tell, next)
		}
		p.clk.At(tell+c.Latency(0, int32(v)), Event{Kind: pLearn, A: int32(v), B: int32(k)})
	}
}

// applyUpTo: node a applies the entries it lacks up to k, ApplyCost
// each, in order.
func (p *propagation) applyUpTo(a int32, k int) {
	n := &p.nodes[a]
	if k <= n.sched {
		if !n.voter && n.sched == n.applied {
			p.poll(a) // nothing new: ask again
		}
		return
	}
	t := max(p.clk.now, n.applyEnd)
	for e := n.sched + 1; e <= k; e++ {
		t += p.cfg.ApplyCost
		p.record(e, t)
	}
	n.sched, n.applyEnd = k, t
	p.clk.At(t, Event{Kind: pApplied, A: a, B: int32(k)})
}

// appliedDone: node a has applied up to k; it answers the polls waiting
// on it and (a replica) polls its upstream again.
func (p *propagation) appliedDone(a int32, k int) {
	n := &p.nodes[a]
	n.applied = max(n.applied, k)
	w := n.waiting
	n.waiting = nil
	for _, child := range w {
		if p.nodes[child].applied < n.applied {
			p.answer(a, child)
		} else {
			n.waiting = append(n.waiting, child)
		}
	}
	if !n.voter && n.applied == n.sched {
		p.poll(a)
	}
}

// poll: replica a asks its upstream for what follows.
func (p *propagation) poll(a int32) {
	u := p.nodes[a].upstream
	p.clk.After(p.cfg.Latency(a, u), Event{Kind: pPollArrive, A: u, B: a})
}

// answer: u answers child's poll with every entry it has applied.
func (p *propagation) answer(u, child int32) {
	n := &p.nodes[u]
	n.cpuFree = max(n.cpuFree, p.clk.now) + p.cfg.ServeCost
	p.res.Answers++
	if u == 0 {
		p.res.LeaderAnswers++
	}
	p.clk.At(n.cpuFree+p.cfg.Latency(u, child), Event{Kind: pAnswer, A: child, B: u, C: int32(n.applied)})
}

// record: write e became visible on one more agent at t.
func (p *propagation) record(e int, t time.Duration) {
	lat := t - p.commit[e]
	p.applied[e]++
	p.res.Last[e-1] = max(p.res.Last[e-1], lat)
	bin := int(max(0, lat) / histBin)
	if bin >= len(p.hist) {
		p.hist = append(p.hist, make([]int64, bin-len(p.hist)+1)...)
	}
	p.hist[bin]++
}

// histPct is the p-th percentile of the (agent, write) latencies, to
// the bin's upper edge.
func (p *propagation) histPct(pc float64) time.Duration {
	var total int64
	for _, c := range p.hist {
		total += c
	}
	want := int64(math.Ceil(pc / 100 * float64(total)))
	var seen int64
	for i, c := range p.hist {
		seen += c
		if seen >= want {
			return time.Duration(i+1) * histBin
		}
	}
	return time.Duration(len(p.hist)) * histBin
}

func sortDurations(d []time.Duration) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && d[j] < d[j-1]; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}

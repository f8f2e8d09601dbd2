package node

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/node/fanout"
	"github.com/p2pglance/p2pglance/peer"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// follower keeps the catalog of an agent outside Raft (a replica) current:
// it pulls the committed log, in order, from an upstream that node/fanout
// chooses over the members gossip sees — a peer in its rack, its rack's
// or zone's head, or a voter — and applies it to the local FSM exactly as
// Raft would. An upstream that fails, answers that it is out of touch,
// or sends what does not decode is avoided for a while and the next one
// in fanout's ranking is used; every one of them is earlier in the tree's
// order, so no choice closes a cycle. An agent too far behind for its
// upstream's log installs a certified checkpoint from it (verified
// against the digest the log certified) and continues from there.
//
// The follower also remembers where the voters and the leader are (the
// hints every log answer carries), which is where this node forwards its
// writes and where it rejoins gossip after a partition.
type follower struct {
	self   string
	fsm    *raftfsm.FSM
	ckpt   *checkpoints
	gossip *gossip.Gossip
	client *peer.Client
	log    *slog.Logger
	// wait is how long one poll may wait for a new entry.
	wait time.Duration
	// degree is fanout's tree degree.
	degree int
	// saveHints persists the voters (a restart without --join still
	// finds them).
	saveHints func(peer.Hints)
	// restored is called after a checkpoint replaced the catalog.
	restored func()

	active atomic.Bool   // this node is a replica
	start  chan struct{} // closed when it becomes one
	kick   chan struct{} // wakes a follower waiting for an upstream
	once   sync.Once

	// applyMu orders what changes the catalog: the poll's entries, a
	// forwarded write's catch-up, a checkpoint's install.
	applyMu sync.Mutex

	mu          sync.Mutex
	hints       peer.Hints
	leaderPeer  string               // where writes go; "" unknown
	fwdFailed   map[string]time.Time // voter peer address -> when a forward to it failed
	avoid       map[string]time.Time // upstream id -> avoided until
	strikes     map[string]int       // upstream id -> failures in a row
	upstream    string               // the current upstream's id
	ranked      []string             // fanout's upstreams of self, best first (cached)
	peers       map[string]string    // id -> peer address of the members ranked
	rankedAt    time.Time            // when ranked was computed; zero: stale
	lastContact time.Time            // last answer from an upstream in touch
	resync      bool                 // install a certified checkpoint next
	cancelPoll  context.CancelFunc   // cuts the poll in flight (switchUpstream)

	polls, installs, catchUps atomic.Int64
	// upstreamApplied is the highest applied index an upstream answered
	// with: how far the catalog had got, as this replica last heard.
	upstreamApplied atomic.Uint64
}

func newFollower() *follower {
	return &follower{start: make(chan struct{}), kick: make(chan struct{}, 1), avoid: map[string]time.Time{}, strikes: map[string]int{}, fwdFailed: map[string]time.Time{}}
}

// begin turns replica mode on with the voters and leader in h.
func (f *follower) begin(h peer.Hints) {
	f.noteHints(h)
	f.active.Store(true)
	f.once.Do(func() { close(f.start) })
}

// noteHints records where the voters and the leader are.
func (f *follower) noteHints(h peer.Hints) {
	f.mu.Lock()
	changed := false
	if len(h.Voters) > 0 && !sameVoters(f.hints.Voters, h.Voters) {
		f.hints.Voters, changed = h.Voters, true
		f.rankedAt = time.Time{}
	}
	if h.Leader != "" && h.Leader != f.hints.Leader {
		f.hints.Leader = h.Leader
		f.rankedAt = time.Time{}
		f.leaderPeer = ""
		for _, v := range f.hints.Voters {
			if v.ID == h.Leader {
				f.leaderPeer = v.Peer
			}
		}
	}
	saved := f.hints
	f.mu.Unlock()
	if changed && f.saveHints != nil {
		f.saveHints(saved)
	}
}

func sameVoters(a, b []peer.Voter) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// redirect records the leader a voter named when it refused a write
// (peer address; "" leaves the choice to forwardTarget).
func (f *follower) redirect(leaderPeer string) {
	f.mu.Lock()
	f.leaderPeer = leaderPeer
	f.mu.Unlock()
}

// forwardTarget returns where to forward a write: the leader if known,
// else a voter (which redirects), one that did not just fail first.
func (f *follower) forwardTarget() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leaderPeer != "" {
		return f.leaderPeer
	}
	n := len(f.hints.Voters)
	if n == 0 {
		return ""
	}
	start := int(time.Now().UnixNano() % int64(n))
	for k := range n {
		v := f.hints.Voters[(start+k)%n]
		if failed, ok := f.fwdFailed[v.Peer]; !ok || time.Since(failed) > 5*time.Second {
			return v.Peer
		}
	}
	return f.hints.Voters[start].Peer
}

// forwardFailed records that a write could not be sent to addr (a
// voter, or the leader, that is down): writes go elsewhere for a while.
func (f *follower) forwardFailed(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fwdFailed[addr] = time.Now()
	if f.leaderPeer == addr {
		f.leaderPeer = ""
	}
}

// Hints returns the voters and leader as this replica knows them.
func (f *follower) Hints() peer.Hints {
	f.mu.Lock()
	defer f.mu.Unlock()
	return peer.Hints{Leader: f.hints.Leader, Voters: append([]peer.Voter(nil), f.hints.Voters...)}
}

// stale reports whether this replica has been out of touch with the
// voters (no answer from any upstream) too long to feed others.
func (f *follower) stale() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.Since(f.lastContact) > 3*f.wait+2*time.Second
}

// lastAnswer returns when an upstream in touch last answered.
func (f *follower) lastAnswer() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastContact
}

// wantResync asks the follower to install a certified checkpoint (its
// own capture diverged).
func (f *follower) wantResync() {
	f.mu.Lock()
	f.resync = true
	f.mu.Unlock()
}

// run pulls the log until ctx ends; it idles until replica mode begins.
func (f *follower) run(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-f.start:
	}
	for ctx.Err() == nil {
		id, addr := f.pick()
		if addr == "" {
			// Every candidate failed a moment ago: wait for the first
			// to come back, or a kick (a write waiting on this replica).
			select {
			case <-ctx.Done():
				return
			case <-f.kick:
			case <-time.After(f.nextRetry()):
			}
			continue
		}
		if err := f.pollOnce(ctx, id, addr); err != nil {
			if ctx.Err() != nil {
				return
			}
			f.fail(id, err)
		}
	}
}

// nextRetry returns how long until the first avoided upstream may be
// tried again (at least 50 ms, at most 5 s).
func (f *follower) nextRetry() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	wait := 5 * time.Second
	for _, until := range f.avoid {
		wait = min(wait, time.Until(until))
	}
	return max(wait, 50*time.Millisecond)
}

// pollOnce asks upstream id at addr for what follows this node's applied
// index and applies it.
func (f *follower) pollOnce(ctx context.Context, id, addr string) error {
	f.mu.Lock()
	resync := f.resync
	f.mu.Unlock()
	after := f.fsm.AppliedIndex()
	if resync {
		after = 0
	}
	f.polls.Add(1)
	pctx, cancel := context.WithTimeout(ctx, f.wait+10*time.Second)
	f.mu.Lock()
	f.cancelPoll = cancel
	f.mu.Unlock()
	batch, err := f.client.Log(pctx, addr, after, f.wait)
	cancel()
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.lastContact = time.Now()
	delete(f.strikes, id)
	f.mu.Unlock()
	f.noteHints(batch.Hints)
	if batch.Applied > f.upstreamApplied.Load() {
		f.upstreamApplied.Store(batch.Applied)
	}
	if batch.Checkpoint != nil {
		return f.install(ctx, addr, *batch.Checkpoint)
	}
	if resync {
		// The upstream keeps the whole log: nothing certified to
		// install yet; the next checkpoint will tell.
		f.mu.Lock()
		f.resync = false
		f.mu.Unlock()
		return nil
	}
	return f.apply(batch.Entries)
}

// apply applies, in order, the committed commands of entries that follow
// this replica's applied index; those it has applied already are
// skipped. Log indexes have gaps (Raft's own entries carry no command):
// entries must be every command after an index this replica had applied
// when it asked, as a log answer and a catch-up are.
func (f *follower) apply(entries []peer.LogEntry) error {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	for _, e := range entries {
		if e.Index <= f.fsm.AppliedIndex() {
			continue
		}
		if _, err := f.fsm.ApplyEntry(raftfsm.Entry{Index: e.Index, Data: e.Data}); err != nil {
			return err
		}
	}
	return nil
}

// catchUp applies the entries the leader sent back with a write this
// replica forwarded: the replica then answers its client at once instead
// of waiting for the write to come down the tree. The upstream's poll
// brings the same entries again, and skips them.
func (f *follower) catchUp(entries []peer.LogEntry) {
	if len(entries) == 0 || !f.active.Load() {
		return
	}
	if err := f.apply(entries); err != nil {
		f.log.Warn("the leader's catch-up entries did not apply; waiting for the upstream", "err", err)
		return
	}
	f.catchUps.Add(1)
}

// install fetches the certified checkpoint info from the upstream at addr
// and restores the catalog from it. An upstream that does not hold it yet
// (it is joining too) is asked again after a moment.
func (f *follower) install(ctx context.Context, addr string, info peer.CheckpointInfo) error {
	for {
		body, _, err := f.client.Checkpoint(ctx, addr, info.Index)
		if errors.Is(err, peer.ErrNotFound) {
			if !sleepCtx(ctx, 500*time.Millisecond) {
				return ctx.Err()
			}
			continue
		}
		if err != nil {
			return err
		}
		f.applyMu.Lock()
		err = f.ckpt.install(info, body)
		f.applyMu.Unlock()
		body.Close()
		if err != nil {
			return err
		}
		f.installs.Add(1)
		f.mu.Lock()
		f.resync = false
		f.mu.Unlock()
		f.log.Info("installed a certified catalog checkpoint from a peer", "index", info.Index, "bytes", info.Size, "from", addr)
		if f.restored != nil {
			f.restored()
		}
		return nil
	}
}

// fail avoids upstream id for a while: 500 ms after one failure,
// doubling with every failure in a row up to 10 s (an upstream that is
// still catching up itself, a voter before an election, is back soon).
func (f *follower) fail(id string, err error) {
	f.mu.Lock()
	k := min(f.strikes[id], 5)
	f.strikes[id]++
	f.avoid[id] = time.Now().Add(min(500*time.Millisecond<<k, 10*time.Second))
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
func (f *follower) pick() (id, addr string) {
	f.mu.Lock()
	now := time.Now()
	for k, until := range f.avoid {
		if now.After(until) {
			delete(f.avoid, k)
		}
	}
	if now.Sub(f.rankedAt) > rankEvery {
		f.mu.Unlock()
		f.rank()
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	for _, up := range f.ranked {
		if _, bad := f.avoid[up]; !bad && f.peers[up] != "" {
			id, addr = up, f.peers[up]
			break
		}
	}
	if id == "" {
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
	f.mu.Unlock()
}

// Upstream returns the id of the upstream the follower pulls from now.
func (f *follower) Upstream() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.upstream
}

// waitFor waits until this replica applied idx (a write it forwarded, a
// read barrier), or ctx ends. An upstream that has not delivered it
// within lagAfter is left for the next one in the ranking: it may be
// alive but cut off from the voters, or slow.
func (f *follower) waitFor(ctx context.Context, idx uint64) error {
	wctx, cancel := context.WithTimeout(ctx, lagAfter)
	err := f.fsm.WaitApplied(wctx, idx)
	cancel()
	if err == nil || ctx.Err() != nil {
		return err
	}
	f.switchUpstream()
	return f.fsm.WaitApplied(ctx, idx)
}

// lagAfter is how long a replica waits for an entry it knows committed
// before it leaves its upstream.
const lagAfter = 2 * time.Second

// switchUpstream avoids the current upstream and cuts the poll in
// flight, so the follower asks the next one at once.
func (f *follower) switchUpstream() {
	f.mu.Lock()
	up, cancel := f.upstream, f.cancelPoll
	f.mu.Unlock()
	if up == "" {
		return
	}
	f.fail(up, errors.New("did not deliver a committed entry in time"))
	if cancel != nil {
		cancel()
	}
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

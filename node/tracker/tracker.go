package tracker

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/p2pglance/p2pglance/peer"
)

// Timing tunes how quickly holdings reach the trackers and answers are
// renewed. A zero field takes its default, given in brackets.
type Timing struct {
	// FlushDelay is how long changes to this node's holdings gather
	// before they are sent to the trackers, in one batch per tracker
	// [200ms].
	FlushDelay time.Duration
	// LookupTTL is how long a tracker's answer is reused for the
	// chunks of an image [1s].
	LookupTTL time.Duration
	// LookupTimeout bounds one lookup, every tracker asked included
	// [2s].
	LookupTimeout time.Duration
	// Settle is how long after a node joined or left (or this node
	// started) a tracker that may have just taken an image over
	// answers "partial", so the asker asks the next tracker too; and
	// how long after a change a tracker keeps images it no longer
	// tracks [10s].
	Settle time.Duration
	// Refresh is how often every holding is sent to its trackers again,
	// whatever they acknowledged (a repair of anything missed); a
	// tracker forgets an entry not heard of for 3 Refresh [10m].
	Refresh time.Duration
	// SendTimeout bounds one batch to one tracker [5s]. A tracker still
	// answering is left to finish while the other trackers get what
	// changed since (a flush waits at most FlushDelay for its sends).
	SendTimeout time.Duration
}

func (t *Timing) applyDefaults() {
	set := func(dst *time.Duration, def time.Duration) {
		if *dst <= 0 {
			*dst = def
		}
	}
	set(&t.FlushDelay, 200*time.Millisecond)
	set(&t.LookupTTL, time.Second)
	set(&t.LookupTimeout, 2*time.Second)
	set(&t.Settle, 10*time.Second)
	set(&t.Refresh, 10*time.Minute)
	set(&t.SendTimeout, 5*time.Second)
}

// Defaults of Config.
const (
	// DefaultTrackers is how many nodes track each image.
	DefaultTrackers = 3
	// DefaultLimit is how many holders a lookup asks for: the nearest
	// 64 are plenty to spread a download over, and bound what an
	// answer costs to send and keep.
	DefaultLimit = 64
)

// Config configures a Service.
type Config struct {
	// Self is this node's id, and Epoch its boot time (unix
	// nanoseconds), the same its gossip metadata carries.
	Self  string
	Epoch int64
	// Trackers is how many nodes track each image [DefaultTrackers];
	// every node of a cluster must use the same.
	Trackers int
	// Limit is how many holders a lookup asks for [DefaultLimit].
	Limit  int
	Timing Timing
	Logger *slog.Logger
}

// Cluster is the member list (gossip).
type Cluster interface {
	// Members lists every known node, this one included.
	Members() []Member
}

// Peers is the peer protocol's client (*peer.Client).
type Peers interface {
	// Holdings sends a batch of this node's holdings to a tracker.
	Holdings(ctx context.Context, addr string, h peer.Holdings) error
	// Holders asks a tracker who holds an image.
	Holders(ctx context.Context, addr string, q peer.HoldersQuery) (peer.HoldersAnswer, error)
}

var _ Peers = (*peer.Client)(nil)

// Service is one node's part in finding holders: the holder that tells
// its images' trackers what it holds, the tracker of the images that
// hash to it, and the asker that looks holders up (with a short cache).
// All methods are safe for concurrent use.
type Service struct {
	cfg     Config
	log     *slog.Logger
	cluster Cluster
	peers   Peers
	started time.Time

	viewMu sync.Mutex
	cur    *view
	gen    uint64 // bumped by MembershipChanged: a view built before is not kept

	lmu   sync.Mutex
	local *local

	tmu    sync.Mutex
	table  *table
	prev   map[string]int64 // live nodes (and boot) at the last change
	events []event          // joins and leaves within Settle

	fmu   sync.Mutex
	cache map[string]*lookup

	dirtyCh  chan struct{}
	changeCh chan struct{}

	sendMu  sync.Mutex
	backoff map[string]backoff // trackers that failed lately
	sending map[string]bool    // trackers a batch is on its way to
	sends   sync.WaitGroup     // batches on their way (Run waits for them)
}

// event is a node that joined or left.
type event struct {
	node uint64 // nodeHash
	at   time.Time
}

// New builds a Service; Run starts its background work.
func New(cfg Config, cluster Cluster, peers Peers) *Service {
	if cfg.Trackers <= 0 {
		cfg.Trackers = DefaultTrackers
	}
	if cfg.Limit <= 0 || cfg.Limit > peer.MaxHolders {
		cfg.Limit = DefaultLimit
	}
	cfg.Timing.applyDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		cfg: cfg, log: cfg.Logger, cluster: cluster, peers: peers, started: time.Now(),
		local: newLocal(), table: newTable(), prev: map[string]int64{},
		cache:    map[string]*lookup{},
		dirtyCh:  make(chan struct{}, 1),
		changeCh: make(chan struct{}, 1),
		backoff:  map[string]backoff{},
	}
}

// view returns the member list snapshot, renewed when older than a
// second (RTTs move) or after MembershipChanged, and dropped by Run's
// prune tick when unused.
func (s *Service) view() *view {
	s.viewMu.Lock()
	v, gen := s.cur, s.gen
	s.viewMu.Unlock()
	if v != nil && time.Since(v.at) <= time.Second {
		return v
	}
	// Built outside the lock: the member list is not ours to hold a
	// lock across.
	v = newView(s.cfg.Self, s.cluster.Members())
	s.viewMu.Lock()
	if s.gen == gen {
		s.cur = v
	}
	s.viewMu.Unlock()
	return v
}

// MembershipChanged tells the service that a node joined, left, failed
// or changed its metadata (gossip's OnChange). It does not block.
func (s *Service) MembershipChanged() {
	s.viewMu.Lock()
	s.cur = nil
	s.gen++
	s.viewMu.Unlock()
	select {
	case s.changeCh <- struct{}{}:
	default:
	}
}

// kick schedules a flush of local changes.
func (s *Service) kick() {
	select {
	case s.dirtyCh <- struct{}{}:
	default:
	}
}

// Run sends this node's holdings to their trackers as they change and
// as trackers change, and keeps the tracker's table, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := s.cfg.Timing
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	var flushAt time.Time // zero: no flush scheduled
	schedule := func(d time.Duration) {
		if at := time.Now().Add(d); flushAt.IsZero() || at.Before(flushAt) {
			flush.Reset(d)
			flushAt = at
		}
	}
	refresh := time.NewTimer(jitter(t.Refresh))
	gc := time.NewTimer(time.Hour)
	gc.Stop()
	gcSet := false
	prune := time.NewTicker(max(10*t.LookupTTL, 10*time.Second))
	defer func() { flush.Stop(); refresh.Stop(); gc.Stop(); prune.Stop() }()
	defer s.sends.Wait()            // batches on their way end with ctx
	s.membershipChanged(time.Now()) // what gossip knew before Run
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.dirtyCh:
			schedule(t.FlushDelay)
		case <-s.changeCh:
			s.membershipChanged(time.Now())
			s.lmu.Lock()
			s.local.resync(false)
			s.lmu.Unlock()
			schedule(t.FlushDelay)
			if !gcSet {
				gc.Reset(t.Settle)
				gcSet = true
			}
		case <-flush.C:
			flushAt = time.Time{}
			if retry := s.flush(ctx); retry > 0 {
				schedule(retry)
			}
		case <-refresh.C:
			refresh.Reset(jitter(t.Refresh))
			s.lmu.Lock()
			s.local.resync(true)
			s.lmu.Unlock()
			s.tmu.Lock()
			s.table.expire(time.Now().Add(-3 * t.Refresh))
			s.tmu.Unlock()
			schedule(0)
		case <-gc.C:
			gcSet = false
			s.dropUntracked()
		case <-prune.C:
			s.fmu.Lock()
			s.pruneCacheLocked(time.Now(), false)
			s.fmu.Unlock()
			// The member list snapshot is N entries: an idle node
			// does not keep one.
			s.viewMu.Lock()
			if s.cur != nil && time.Since(s.cur.at) > time.Second {
				s.cur = nil
			}
			s.viewMu.Unlock()
		}
	}
}

// jitter is d ± 10%.
func jitter(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}

// membershipChanged, on the tracker's side: a node that left or
// restarted is forgotten as a holder, and joins and leaves are noted
// for Settle (answers about the images they move are partial).
func (s *Service) membershipChanged(now time.Time) {
	v := s.view()
	s.tmu.Lock()
	defer s.tmu.Unlock()
	cur := make(map[string]int64, len(v.live))
	for _, c := range v.live {
		cur[c.m.ID] = c.m.Boot
	}
	for id, boot := range s.prev {
		if _, ok := cur[id]; !ok {
			s.table.forget(id)
			s.events = append(s.events, event{node: nodeHash(id), at: now})
		} else if cur[id] > boot {
			s.table.forgetBefore(id, cur[id])
		}
	}
	for id := range cur {
		if _, ok := s.prev[id]; !ok {
			s.events = append(s.events, event{node: nodeHash(id), at: now})
		}
	}
	// Holders gossip lists as failed or left are forgotten too (they may
	// have been announced before this node ever saw them alive).
	for id, m := range v.byID {
		if !m.Alive && id != s.cfg.Self {
			s.table.forget(id)
		}
	}
	s.prev = cur
	s.events = slices.DeleteFunc(s.events, func(e event) bool { return now.Sub(e.at) > s.cfg.Timing.Settle })
}

// dropUntracked forgets the images this node no longer tracks (a node
// joined that outranks it); holders no longer send it their changes.
func (s *Service) dropUntracked() {
	v := s.view()
	self := nodeHash(s.cfg.Self)
	s.tmu.Lock()
	defer s.tmu.Unlock()
	for image := range s.table.images {
		if score(imageHash(image), self) < v.kthScore(image, s.cfg.Trackers) {
			s.table.forgetImage(image)
		}
	}
}

// partial reports whether this node may not know every holder of
// image: it is not one of the image's trackers in its own view (the
// asker's view differs), it started within Settle, or a node that
// joined or left within Settle ranks among (or ranked above) the
// image's trackers.
func (s *Service) partial(v *view, image string, now time.Time) bool {
	settle := s.cfg.Timing.Settle
	if now.Sub(s.started) < settle {
		return true
	}
	kth := v.kthScore(image, s.cfg.Trackers)
	ih := imageHash(image)
	if score(ih, nodeHash(s.cfg.Self)) < kth {
		return true
	}
	for _, e := range s.events {
		if now.Sub(e.at) <= settle && score(ih, e.node) >= kth {
			return true
		}
	}
	return false
}

// Record applies a holder's batch (peer.Server.Holdings).
func (s *Service) Record(h peer.Holdings) {
	now := time.Now()
	s.tmu.Lock()
	s.table.record(h, now)
	s.tmu.Unlock()
}

// Answer answers a query about an image this node tracks
// (peer.Server.Holders).
func (s *Service) Answer(q peer.HoldersQuery) peer.HoldersAnswer {
	v := s.view()
	s.tmu.Lock()
	defer s.tmu.Unlock()
	return peer.HoldersAnswer{Holders: s.table.answer(v, q), Partial: s.partial(v, q.Image, time.Now())}
}

// Tracked lists the holders of image this node knows of as one of its
// trackers, sorted by id (for tests and diagnostics).
func (s *Service) Tracked(image string) []peer.Holder {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	return s.table.holdersOf(image)
}

// Trackers lists the ids of image's trackers in this node's view, best
// first.
func (s *Service) Trackers(image string) []string {
	ts := s.view().trackers(image, s.cfg.Trackers)
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// Stats counts what the service keeps.
type Stats struct {
	// Tracked is the (holder, image) entries this node keeps as a
	// tracker, TrackedBitmapBytes their bitmaps.
	Tracked, TrackedBitmapBytes int
	// Held is the images this node tells trackers about.
	Held int
	// Cached is the lookups whose answers are kept.
	Cached int
}

// Stats returns the current counts.
func (s *Service) Stats() Stats {
	var st Stats
	s.tmu.Lock()
	st.Tracked, st.TrackedBitmapBytes = s.table.size()
	s.tmu.Unlock()
	s.lmu.Lock()
	st.Held = len(s.local.images)
	s.lmu.Unlock()
	s.fmu.Lock()
	st.Cached = len(s.cache)
	s.fmu.Unlock()
	return st
}

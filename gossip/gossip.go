package gossip

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Meta is what a node tells the others about itself. It travels JSON-encoded
// as memberlist node metadata and must fit in [memberlist.MetaMaxSize] bytes.
type Meta struct {
	ID       string `json:"id"`
	APIAddr  string `json:"api"`  // Glance API host:port
	PeerAddr string `json:"peer"` // internal HTTP host:port (chunk transfer, forwarding)
	RaftAddr string `json:"raft"`
	Zone     string `json:"zone,omitempty"`
	Rack     string `json:"rack,omitempty"`
	// Labels are operator-chosen key/value pairs (e.g. a hardware class)
	// that pre-seeding jobs can target.
	Labels map[string]string `json:"labels,omitempty"`
	// Boot is when the node started (unix nanoseconds): a new value
	// tells the others that it restarted and forgot what it kept in
	// memory.
	Boot int64 `json:"boot,omitempty"`
}

// MaxNodeIDLen is the longest node id (Meta.ID), in bytes.
const MaxNodeIDLen = 128

// Config configures a [Gossip] instance.
type Config struct {
	// Meta describes this node; Meta.ID is its memberlist node name and
	// must be unique in the cluster.
	Meta Meta
	// BindAddr is the host:port memberlist listens on (TCP and UDP). Port 0
	// picks a free port; an empty or unspecified host binds every
	// interface and advertises a private address memberlist picks.
	BindAddr string
	// SecretKey, if set, must be 16, 24 or 32 bytes: all gossip is then
	// encrypted (AES) with memberlist's keyring and unencrypted or
	// differently keyed traffic is rejected.
	SecretKey []byte
	// PreviousKey, if set (with SecretKey), is the key of a cluster
	// secret being rotated out: gossip under either key is accepted,
	// and gossip is sent under PreviousKey until every other live
	// member announces that it holds SecretKey too, then under
	// SecretKey (keys.go).
	PreviousKey []byte
	// Logger receives memberlist's and this package's logs; nil discards.
	Logger *slog.Logger
	// Timing tunes failure detection and dissemination (zero fields:
	// Timing's defaults).
	Timing Timing
	// OnChange, if set, is called when membership, liveness or a member's
	// metadata changes. Calls run on a separate goroutine, one at a time,
	// and bursts of changes are coalesced.
	OnChange func()
}

// Member is a snapshot of what is known about one node.
type Member struct {
	Meta  Meta
	Alive bool
	// RTT is the latest probe round-trip time; 0 if unknown or self.
	RTT time.Duration
	// Addr is the member's gossip address (host:port).
	Addr string
}

// memberInfo is Gossip's own view of a member, fed by the EventDelegate.
type memberInfo struct {
	meta   Meta
	keys   []string // ids of the gossip keys it holds (keyID)
	addr   string   // memberlist address host:port
	alive  bool
	deadAt time.Time
}

// Gossip is a running cluster membership service. All methods are safe
// for concurrent use.
type Gossip struct {
	self     string
	meta     []byte
	log      *slog.Logger
	onChange func()
	deadKeep time.Duration // how long dead members stay listed

	ml       *memberlist.Memberlist
	rot      *rotation // nil unless a previous key is being rotated out
	selfAddr string    // our bound address, fixed at New (read without memberlist's locks)

	mu      sync.Mutex
	members map[string]*memberInfo
	rtt     map[string]time.Duration

	// life orders Join/Leave (readers) before Shutdown (writer), because
	// memberlist panics on Leave after Shutdown.
	life   sync.RWMutex
	closed bool

	changeCh chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
	shutOnce sync.Once
	shutErr  error
}

// New validates cfg, binds the gossip ports and starts memberlist. The node
// is alone until [Gossip.Join] is called (or another node joins it).
// Production passes no options (they are test seams).
func New(cfg Config, opts ...Option) (*Gossip, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	m := cfg.Meta
	if m.ID == "" || len(m.ID) > MaxNodeIDLen {
		return nil, fmt.Errorf("validate config: node id must be 1..%d bytes, got %d", MaxNodeIDLen, len(m.ID))
	}
	if len(cfg.PreviousKey) > 0 && len(cfg.SecretKey) == 0 {
		return nil, errors.New("validate config: a previous key needs a secret key")
	}
	meta, err := json.Marshal(wireMeta{Meta: m, Keys: keyIDs(cfg.SecretKey, cfg.PreviousKey)})
	if err != nil {
		return nil, fmt.Errorf("encode meta: %w", err)
	}
	if len(meta) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("validate config: meta is %d bytes, limit %d", len(meta), memberlist.MetaMaxSize)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mc := memberlist.DefaultLANConfig()
	// No LZW: memberlist compresses every packet (a probe, an ack) with a
	// new 64 KiB LZW table, for messages of tens of bytes that rarely
	// shrink; it was most of an idle node's garbage. Messages from nodes
	// that still compress are read as before.
	mc.EnableCompression = false
	cfg.Timing.apply(mc)
	if err := applyBind(mc, cfg.BindAddr); err != nil {
		return nil, err
	}
	var rot *rotation
	if len(cfg.SecretKey) > 0 {
		r, kr, err := newRotation(cfg.SecretKey, cfg.PreviousKey, logger.With("component", "gossip", "node", m.ID))
		if err != nil {
			return nil, fmt.Errorf("create keyring: %w", err)
		}
		rot, mc.Keyring = r, kr
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}
	g := &Gossip{
		self:     m.ID,
		meta:     meta,
		log:      logger.With("component", "gossip", "node", m.ID),
		onChange: cfg.OnChange,
		rot:      rot,
		deadKeep: mc.GossipToTheDeadTime,
		members:  make(map[string]*memberInfo),
		rtt:      make(map[string]time.Duration),
		changeCh: make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	d := &delegate{g: g}
	mc.Name = m.ID
	mc.Delegate = d
	mc.Events = d
	mc.Ping = d
	mc.LogOutput = nil
	mc.Logger = log.New(&logWriter{log: logger.With("component", "memberlist", "node", m.ID)}, "", 0)
	nt, err := bindTransport(mc, mc.Logger)
	if err != nil {
		return nil, err
	}
	mc.Transport = nt
	if o.wrap != nil {
		mc.Transport = o.wrap(nt)
	}

	if g.onChange != nil {
		g.wg.Add(1)
		go g.notifier()
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = mc.Transport.Shutdown()
		close(g.stop)
		g.wg.Wait()
		return nil, fmt.Errorf("create memberlist: %w", err)
	}
	g.ml = ml
	g.selfAddr = ml.LocalNode().Address()
	g.log.Debug("gossip started", "addr", g.Addr())
	return g, nil
}

// applyBind sets the bind and advertise address/port from a host:port.
func applyBind(mc *memberlist.Config, bind string) error {
	if bind == "" {
		bind = ":0"
	}
	addr, err := net.ResolveTCPAddr("tcp", bind)
	if err != nil {
		return fmt.Errorf("resolve bind address: %w", err)
	}
	mc.BindPort = addr.Port
	mc.AdvertisePort = addr.Port // memberlist replaces both when port is 0
	if addr.IP == nil || addr.IP.IsUnspecified() {
		mc.BindAddr = "0.0.0.0"
		if addr.IP != nil && addr.IP.To4() == nil {
			mc.BindAddr = "::"
		}
		mc.AdvertiseAddr = ""
		return nil
	}
	mc.BindAddr = addr.IP.String()
	mc.AdvertiseAddr = addr.IP.String()
	return nil
}

// Addr returns the gossip address (host:port) other nodes can join.
func (g *Gossip) Addr() string {
	return g.selfAddr
}

// Join contacts the given gossip addresses (host:port) and syncs state with
// each. It returns how many were contacted successfully; err is nil when at
// least one was. ctx is checked between addresses.
func (g *Gossip) Join(ctx context.Context, addrs []string) (int, error) {
	g.life.RLock()
	defer g.life.RUnlock()
	if g.closed {
		return 0, errors.New("join cluster: gossip is shut down")
	}
	n := 0
	var errs []error
	g.tryKeys(func() bool {
		errs = nil
		for _, a := range addrs {
			if err := ctx.Err(); err != nil {
				errs = append(errs, err)
				break
			}
			k, err := g.ml.Join([]string{a})
			n += k
			if err != nil {
				errs = append(errs, fmt.Errorf("join %s: %w", a, err))
			}
		}
		return n > 0 || len(addrs) == 0 || ctx.Err() != nil
	})
	if n == 0 && len(addrs) > 0 {
		return 0, fmt.Errorf("join cluster: %w", errors.Join(errs...))
	}
	return n, nil
}

// Leave announces a graceful departure and waits (bounded by ctx, or 5 s if
// ctx has no deadline) until it has been sent. The node keeps running until
// [Gossip.Shutdown].
func (g *Gossip) Leave(ctx context.Context) error {
	g.life.RLock()
	defer g.life.RUnlock()
	if g.closed {
		return errors.New("leave cluster: gossip is shut down")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("leave cluster: %w", err)
	}
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	if err := g.ml.Leave(timeout); err != nil {
		return fmt.Errorf("leave cluster: %w", err)
	}
	return nil
}

// Shutdown stops memberlist and every goroutine this package started
// (waiting for a Join or Leave in progress to return first). It is safe to
// call more than once; all other methods except Members and Member must
// not be used afterwards.
func (g *Gossip) Shutdown() error {
	g.shutOnce.Do(func() {
		g.life.Lock()
		g.closed = true
		g.life.Unlock()
		if err := g.ml.Shutdown(); err != nil {
			g.shutErr = fmt.Errorf("shut down memberlist: %w", err)
		}
		close(g.stop)
		g.wg.Wait()
	})
	return g.shutErr
}

// Members lists every known node sorted by id: self (always alive), live
// peers, and failed or departed peers (Alive false) until they are reaped.
func (g *Gossip) Members() []Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reapLocked()
	out := make([]Member, 0, len(g.members))
	for id := range g.members {
		out = append(out, g.memberLocked(id))
	}
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.Meta.ID, b.Meta.ID) })
	return out
}

// Member returns what is known about node id.
func (g *Gossip) Member(id string) (Member, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reapLocked()
	if g.members[id] == nil {
		return Member{}, false
	}
	return g.memberLocked(id), true
}

func (g *Gossip) memberLocked(id string) Member {
	mi := g.members[id]
	if id == g.self {
		return Member{Meta: mi.meta, Alive: true, Addr: g.Addr()}
	}
	m := Member{Meta: mi.meta, Alive: mi.alive, Addr: mi.addr}
	if mi.alive {
		m.RTT = g.rtt[id]
	}
	return m
}

// reapLocked drops members that have been dead longer than memberlist keeps
// gossiping to them.
func (g *Gossip) reapLocked() {
	for id, mi := range g.members {
		if !mi.alive && time.Since(mi.deadAt) > g.deadKeep {
			delete(g.members, id)
		}
	}
}

// aliveLocked reports whether id is a live member (self always is).
func (g *Gossip) aliveLocked(id string) bool {
	if id == g.self {
		return true
	}
	mi := g.members[id]
	return mi != nil && mi.alive
}

// changed schedules an OnChange call without blocking.
func (g *Gossip) changed() {
	if g.onChange == nil {
		return
	}
	select {
	case g.changeCh <- struct{}{}:
	default:
	}
}

func (g *Gossip) notifier() {
	defer g.wg.Done()
	for {
		select {
		case <-g.stop:
			return
		case <-g.changeCh:
			g.onChange()
		}
	}
}

// MemberStates counts the members as memberlist sees them now: alive
// (self included), suspect (missed probes, not yet declared dead), and
// dead or departed (until they are reaped).
func (g *Gossip) MemberStates() (alive, suspect, dead int) {
	for _, m := range g.ml.Members() {
		if m.State == memberlist.StateSuspect {
			suspect++
		} else {
			alive++
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reapLocked()
	for _, mi := range g.members {
		if !mi.alive {
			dead++
		}
	}
	return alive, suspect, dead
}

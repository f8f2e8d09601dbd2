package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/p2pglance/p2pglance/node/transfer/policy"
	"github.com/p2pglance/p2pglance/peer"
)

// Delivery is one image of Size bytes, uploaded with Replicas durable
// copies, delivered to every other node at once: a prefetch job
// targeting the fleet (every node runs Window rarest-first workers, as
// node's prefetcher does), or with Boot every node streaming the image
// in order (GET /v2/images/{id}/file: Window chunks ahead, as
// transfer's stream reader does).
type Delivery struct {
	Topology
	Size, Chunk int64
	Replicas    int
	// Link is every node's: Up is the agents' UploadBandwidth B.
	Link          Link
	Slots, Window int // UploadSlots, FetchWindow
	Boot          bool
	// NoCache: nodes keep what they fetch but never announce it or name
	// themselves to the holders (the benchmark's single-origin run).
	NoCache bool
	// Holders is how nodes learn who holds which chunk (node/tracker).
	Holders Holders
	// ReqCost is a holder's time to answer a chunk request (HTTP,
	// signing, the decision): it answers one at a time, in the order
	// they were sent, so requests queue at a popular holder; ChunkCost a requester's time from a
	// chunk's last byte to holding it (BLAKE3, the store).
	ReqCost, ChunkCost time.Duration
	// AskCost is a requester's own time per request (the client side of
	// it, the answer read), RankCost its time per holder it knows to
	// rank them at the start of a round (the agents walk every holder).
	AskCost, RankCost time.Duration
	// Start is when the job reaches a node (the catalog applying it),
	// plus up to StartJitter, uniformly.
	Start, StartJitter time.Duration
	Seed               uint64
	// Limit stops the run at this virtual time (0: 1 hour).
	Limit time.Duration
	// Progress, if set, is called about every 10 million events with
	// the virtual time and the nodes still fetching.
	Progress func(now time.Duration, left int)
}

// DeliveryResult is what a delivery measured.
type DeliveryResult struct {
	// Done and First are, per fetching node, when it held every chunk
	// and its first chunk, from the moment the job was created.
	Done, First []time.Duration
	// Ideal is S/B: one capped uplink sending the image once.
	Ideal time.Duration
	// Bytes served by the durable holders, by the others, and as last
	// resorts.
	ServedDurable, ServedOthers, LastResort float64
	// Requests are chunk requests sent; Busy and Origin the refusals;
	// NotFound asked a node named as a copy before it stored the chunk;
	// Failed rounds where no node asked held the chunk.
	Requests, Busy, Origin, NotFound, Failed int64
	// Rounds are passes over a chunk's holders; BusyRounds those every
	// node asked refused.
	Rounds, BusyRounds int64
	// Announcements of a held chunk; Batches the holdings messages
	// they made (one per flush and tracker); Lookups the lookups each
	// tracker answered (the image's trackers, best first).
	Announcements, Batches int64
	Lookups                []int64
	// Events the clock ran; Complete: every node got every chunk.
	Events   uint64
	Complete bool
}

// Event kinds of a delivery.
const (
	kStart = kindModel + iota
	kNext
	kDecide
	kRefused
	kNotFound
	kArrive
	kRetry
)

type delivery struct {
	cfg       Delivery
	clk       Clock
	net       *Net
	hold      *holders
	rng       *rand.Rand
	agents    []agent
	placement []int32
	chunks    int
	epoch     time.Time
	res       *DeliveryResult
	left      int
	err       error

	mark  []uint32 // candidates: node already added in this round (== stamp)
	stamp uint32
	named []int32 // copies: scratch
	zone  []int32 // per node
	rack  []int32 // per node, global
}

type agent struct {
	durable  bool
	have     []bool
	haveN    int
	todo     []int
	lastSort time.Duration
	sorted   bool
	stats    policy.Stats[int32]
	origin   policy.Origin[int32, int32]
	slots    *policy.Slots
	workers  []worker
	// Boot: next chunk to start, chunks consumed in order, free window.
	next, consumed, free int
	// cpuFree is when this node has answered every request it got.
	cpuFree     time.Duration
	first, done time.Duration
}

type worker struct {
	active     bool
	chunk      int
	cands      []policy.Candidate[int32]
	order      policy.Order[int32]
	round      *policy.Round[int32, int32]
	lastResort bool
	pause      policy.BusyPause
	backoff    policy.Backoff
	try        []int32
	originBusy bool
}

// ErrConfig is a delivery that cannot run.
var ErrConfig = errors.New("bad simulation config")

// Deliver runs a delivery.
func Deliver(cfg Delivery) (*DeliveryResult, error) {
	switch {
	case cfg.N < 2 || cfg.Zones < 1 || cfg.Racks < 1 || cfg.Size <= 0 || cfg.Chunk <= 0:
		return nil, fmt.Errorf("%w: N, zones, racks, size and chunk must be positive", ErrConfig)
	case cfg.Replicas < 1 || cfg.Replicas >= cfg.N || cfg.Slots < 1 || cfg.Window < 1:
		return nil, fmt.Errorf("%w: need 1 <= replicas < N, slots and window >= 1", ErrConfig)
	case cfg.Link.Wire <= 0 || cfg.Link.Up < 0 || cfg.Link.Down < 0:
		return nil, fmt.Errorf("%w: the wire must be faster than zero", ErrConfig)
	}
	if cfg.Limit <= 0 {
		cfg.Limit = time.Hour
	}
	d := &delivery{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed)), epoch: time.Unix(1<<30, 0),
		chunks: int((cfg.Size + cfg.Chunk - 1) / cfg.Chunk), mark: make([]uint32, cfg.N)}
	d.zone, d.rack = make([]int32, cfg.N), make([]int32, cfg.N)
	for i := range cfg.N {
		d.zone[i], d.rack[i] = cfg.ZoneOf(int32(i)), cfg.RackOf(int32(i))
	}
	d.res = &DeliveryResult{Ideal: secs(float64(cfg.Size) / cfg.Link.Up)}
	if cfg.Link.Up <= 0 {
		d.res.Ideal = secs(float64(cfg.Size) / cfg.Link.Wire)
	}
	links := make([]Link, cfg.N)
	for i := range links {
		links[i] = cfg.Link
	}
	d.net = NewNet(&d.clk, links, d.flowDone)
	d.agents = make([]agent, cfg.N)
	var err error
	d.hold, err = newHolders(cfg.Topology, cfg.Holders, d.chunks, fmt.Sprintf("image-%d", cfg.Seed), d.rng,
		func(n int32) *time.Duration { return &d.agents[n].cpuFree })
	if err != nil {
		return nil, err
	}
	d.placement = cfg.Placement(0, cfg.Replicas, d.rng)
	for i := range d.agents {
		a := &d.agents[i]
		a.have = make([]bool, d.chunks)
		a.slots = policy.NewSlots(cfg.Slots)
		a.workers = make([]worker, cfg.Window)
		for w := range a.workers {
			a.workers[w].pause.Max = policy.BusyPenalty
		}
	}
	for _, p := range d.placement {
		a := &d.agents[p]
		a.durable = true
		d.hold.seed(p)
		for c := range d.chunks {
			a.have[c] = true
		}
		a.haveN = d.chunks
	}
	for i := range d.agents {
		if d.agents[i].durable {
			continue
		}
		d.left++
		start := cfg.Start
		if cfg.StartJitter > 0 {
			start += time.Duration(d.rng.Int64N(int64(cfg.StartJitter)))
		}
		d.clk.At(start, Event{Kind: kStart, A: int32(i)})
	}
	stop := func() bool {
		if cfg.Progress != nil && d.clk.events%10_000_000 == 0 && d.clk.events > 0 {
			cfg.Progress(d.clk.now, d.left)
		}
		return d.left == 0 || d.err != nil
	}
	complete := d.clk.Run(d.handle, stop, cfg.Limit)
	if d.err != nil {
		return nil, d.err
	}
	d.res.Complete = complete && d.left == 0
	d.res.Batches, d.res.Lookups = d.hold.batches, d.hold.lookups
	d.res.Events = d.clk.Events()
	for i := range d.agents {
		if a := &d.agents[i]; !a.durable {
			done := a.done
			if a.haveN < d.chunks {
				done = d.clk.Now()
			}
			d.res.Done = append(d.res.Done, done)
			d.res.First = append(d.res.First, a.first)
		}
	}
	return d.res, nil
}

func (d *delivery) now() time.Time { return d.epoch.Add(d.clk.now) }

func (d *delivery) chunkBytes(c int) float64 {
	if c == d.chunks-1 {
		return float64(d.cfg.Size - int64(c)*d.cfg.Chunk)
	}
	return float64(d.cfg.Chunk)
}

func (d *delivery) handle(ev Event) {
	if ev.Kind < kindModel {
		d.net.Handle(ev)
		return
	}
	switch ev.Kind {
	case kStart:
		d.start(ev.A)
	case kNext:
		d.next(ev.A, ev.B)
	case kRetry:
		d.startRound(ev.A, ev.B)
	case kDecide:
		d.request(ev.A, ev.B, ev.C)
	case kRefused:
		d.refused(ev.A, ev.B, ev.C)
	case kNotFound:
		// Neither busy nor served: the round goes on.
		d.agents[ev.A].stats.End(ev.C)
		d.ask(ev.A, ev.B, 0)
	case kArrive:
		d.arrive(ev.A, ev.B, ev.C)
	default:
		d.err = fmt.Errorf("unknown event kind %d", ev.Kind)
	}
}

// start: the job reached node a.
func (d *delivery) start(a int32) {
	ag := &d.agents[a]
	if d.cfg.Boot {
		ag.free = d.cfg.Window
		d.fillWindow(a)
		return
	}
	for c := range d.chunks {
		ag.todo = append(ag.todo, c)
	}
	for w := range ag.workers {
		ag.workers[w].active = true
		d.next(a, int32(w))
	}
}

// next: a prefetch worker takes the rarest chunk still needed.
func (d *delivery) next(a, w int32) {
	ag := &d.agents[a]
	wk := &ag.workers[w]
	if len(ag.todo) == 0 {
		wk.active = false
		return
	}
	if !ag.sorted || d.clk.now-ag.lastSort > policy.ResortEvery {
		// The counts are tracker.Holders': the kept answer, or a lookup
		// the worker waits for.
		if at := d.hold.lookup(a, d.clk.now); at > d.clk.now {
			d.clk.At(at, Event{Kind: kNext, A: a, B: w})
			return
		}
		policy.RarestFirst(ag.todo, func(c int) int { return d.hold.count(a, c, ag.have[c]) }, d.rng)
		ag.lastSort, ag.sorted = d.clk.now, true
	}
	wk.chunk, wk.backoff = ag.todo[0], policy.Backoff{}
	ag.todo = ag.todo[1:]
	d.startRound(a, w)
}

// fillWindow: a streaming node starts the chunks its window allows.
func (d *delivery) fillWindow(a int32) {
	ag := &d.agents[a]
	for w := range ag.workers {
		if ag.free == 0 || ag.next >= d.chunks {
			return
		}
		if wk := &ag.workers[w]; !wk.active {
			wk.active, wk.chunk, wk.backoff = true, ag.next, policy.Backoff{}
			ag.next++
			ag.free--
			d.startRound(a, int32(w))
		}
	}
}

// startRound: one pass over the chunk's holders (fetchFromHolders).
func (d *delivery) startRound(a, w int32) {
	ag := &d.agents[a]
	wk := &ag.workers[w]
	if at := d.hold.lookup(a, d.clk.now); at > d.clk.now {
		d.clk.At(at, Event{Kind: kRetry, A: a, B: w})
		return
	}
	d.res.Rounds++
	wk.cands = d.candidates(a, wk.chunk, wk.cands[:0])
	wk.lastResort = ag.origin.LastResort(int32(wk.chunk), d.now())
	wk.order.Reset(wk.cands, d.rng)
	if wk.round == nil {
		wk.round = policy.NewRound(&wk.order, func(id int32) int32 { return id })
	} else {
		wk.round.Reset(&wk.order)
	}
	// Ranking costs the requester time for every holder it knows.
	d.ask(a, w, time.Duration(len(wk.cands))*d.cfg.RankCost)
}

// ask sends the round's next request, or ends the round.
func (d *delivery) ask(a, w int32, delay time.Duration) {
	ag := &d.agents[a]
	wk := &ag.workers[w]
	m, ok := wk.round.Next()
	if !ok {
		d.roundOver(a, w)
		return
	}
	ag.stats.Begin(m)
	d.res.Requests++
	// The holder answers requests one at a time, ReqCost each, in the
	// order they were sent (arrival order but for latency differences
	// of a millisecond or less; one event per request fewer).
	sv := &d.agents[m]
	sv.cpuFree = max(sv.cpuFree, d.clk.now+delay+d.cfg.AskCost+d.lat(a, m)) + d.cfg.ReqCost
	d.clk.At(sv.cpuFree, Event{Kind: kDecide, A: m, B: a, C: w})
}

// roundOver: every holder asked refused.
func (d *delivery) roundOver(a, w int32) {
	ag := &d.agents[a]
	wk := &ag.workers[w]
	if wk.round.Busy() == 0 {
		// No holder refused, none served (every one asked lacked the
		// chunk): the agents fail the fetch ("no holder could serve
		// it"); counted, and asked again after a back-off.
		d.res.Failed++
	}
	if wk.round.AllBusy() {
		d.res.BusyRounds++
	}
	if d.cfg.Boot || !wk.round.AllBusy() {
		// FetchChunk waits and asks again; so does TryFetchChunk when
		// not every holder asked was busy.
		d.clk.After(wk.backoff.Next(d.rng), Event{Kind: kRetry, A: a, B: w})
		return
	}
	// TryFetchChunk: ErrAllBusy; the chunk goes to the back of the queue.
	ag.todo = append(ag.todo, wk.chunk)
	d.clk.After(wk.pause.Busy(len(ag.todo)), Event{Kind: kNext, A: a, B: w})
}

// request: holder s gets a's request (ServeChunk).
func (d *delivery) request(s, a, w int32) {
	sv := &d.agents[s]
	wk := &d.agents[a].workers[w]
	c := int32(wk.chunk)
	if !sv.have[c] {
		// Named as a copy before it stored the chunk: not found.
		d.res.NotFound++
		d.clk.After(d.lat(s, a), Event{Kind: kNotFound, A: a, B: w, C: s})
		return
	}
	if sv.durable && sv.origin.Protects(c, wk.lastResort) {
		if try, at := d.copies(s, c); len(try) > 0 {
			d.res.Origin++
			d.refuse(s, a, w, try, true, at)
			return
		}
	}
	if !sv.slots.TryAcquire() {
		d.res.Busy++
		try, at := d.copies(s, c)
		d.refuse(s, a, w, try, false, at)
		return
	}
	d.net.Start(s, a, d.chunkBytes(int(c)), Tag{A: s, B: a, C: w})
}

// refuse sends a's request back from s, naming try, once s has the
// holders it names (at: when its lookup is in).
func (d *delivery) refuse(s, a, w int32, try []int32, origin bool, at time.Duration) {
	wk := &d.agents[a].workers[w]
	wk.try, wk.originBusy = try, origin
	d.clk.At(max(at, d.clk.now)+d.lat(s, a), Event{Kind: kRefused, A: a, B: w, C: s})
}

// copies are the nodes holder s names in a refusal (policy.CopiesOf over
// its recipients and tracker.Holders), and when s has them: its kept
// answer now, or a lookup it waits for.
func (d *delivery) copies(s, c int32) ([]int32, time.Duration) {
	at := d.hold.lookup(s, d.clk.now)
	d.named = d.hold.of(s, int(c), d.named[:0])
	hs := d.named
	return policy.CopiesOf(s, d.placement, d.agents[s].origin.Recipients(c), len(hs), func(i int) int32 { return hs[i] },
		func(int32) bool { return true }, peer.MaxTry, d.rng), at
}

// refused: a's request to s came back busy.
func (d *delivery) refused(a, w, s int32) {
	ag := &d.agents[a]
	wk := &ag.workers[w]
	ag.stats.End(s)
	if wk.originBusy {
		ag.origin.NoteRefused(int32(wk.chunk), d.now())
	} else {
		ag.stats.MarkBusy(s, d.now())
	}
	var try []int32
	for _, id := range wk.try {
		if id != a {
			try = append(try, id)
		}
	}
	wk.round.Refused(try)
	d.ask(a, w, 0)
}

// flowDone: holder s sent the chunk's last byte.
func (d *delivery) flowDone(s, a int32, bytes float64, tag Tag) {
	sv := &d.agents[s]
	wk := &d.agents[a].workers[tag.C]
	c := int32(wk.chunk)
	sv.slots.Release()
	if wk.lastResort {
		d.res.LastResort += bytes
		sv.origin.ForgetRecipients(c)
	}
	sv.origin.Add(c, a, !d.cfg.NoCache)
	if sv.durable {
		d.res.ServedDurable += bytes
	} else {
		d.res.ServedOthers += bytes
	}
	d.clk.After(d.lat(s, a)+d.cfg.ChunkCost, Event{Kind: kArrive, A: a, B: tag.C, C: s})
}

// arrive: a holds the chunk, verified and stored.
func (d *delivery) arrive(a, w, s int32) {
	ag := &d.agents[a]
	wk := &ag.workers[w]
	c := wk.chunk
	ag.stats.End(s)
	ag.origin.Got(int32(c))
	if !ag.have[c] {
		ag.have[c] = true
		ag.haveN++
		if !d.cfg.NoCache {
			d.hold.announce(a, c, d.clk.now)
			d.res.Announcements++
		}
		if ag.haveN == 1 {
			ag.first = d.clk.now
		}
		if ag.haveN == d.chunks {
			ag.done = d.clk.now
			d.left--
		}
	}
	if d.cfg.Boot {
		wk.active = false
		for ag.consumed < d.chunks && ag.have[ag.consumed] {
			ag.consumed++
			ag.free++
		}
		d.fillWindow(a)
		return
	}
	wk.pause.Progress()
	d.next(a, w)
}

// prox is policy.Proximity between nodes a and b.
func (d *delivery) prox(a, b int32) int {
	switch {
	case d.rack[a] == d.rack[b]:
		return 0
	case d.zone[a] == d.zone[b]:
		return 1
	}
	return 2
}

// lat is the one-way latency from a to b.
func (d *delivery) lat(a, b int32) time.Duration {
	return [3]time.Duration{d.cfg.Topology.Rack, d.cfg.Topology.Zone, d.cfg.Cross}[d.prox(a, b)]
}

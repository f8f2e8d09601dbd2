package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"runtime/debug"
	"slices"
	"time"

	"github.com/p2pglance/p2pglance/internal/bytesize"
	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/peer"
)

// repairConfig is the repair phase's knobs (-repair-* flags).
type repairConfig struct {
	nodes     int           // cluster size N
	zones     int           // zones az1..azZ (node i in zone i%zones)
	images    int           // images K uploaded before the loss
	size      int64         // image size S
	upBW      int64         // every node's UploadBandwidth B (bytes/s)
	replicas  int           // durable holders R
	grace     time.Duration // node.Config.RepairGrace
	chunkSize int           // node.Config.ChunkSize (0: default)
	poll      time.Duration // how often the catalog and stores are checked
	timeout   time.Duration // give up on the repair after this long
}

// repairFlags registers the -repair-* flags; the returned function checks
// and converts them once flag.Parse has run.
func repairFlags(rc *repairConfig) func() error {
	var sz, bw, chunk string
	flag.IntVar(&rc.nodes, "repair-nodes", 6, "cluster size N (repair phase)")
	flag.IntVar(&rc.zones, "repair-zones", 3, "zones the nodes are spread over (repair phase)")
	flag.IntVar(&rc.images, "repair-images", 12, "images K uploaded before a holder is lost (repair phase)")
	flag.StringVar(&sz, "repair-size", "32MiB", "image size S (repair phase)")
	flag.StringVar(&bw, "repair-bw", "8MiB", "every node's UploadBandwidth B, per second (repair phase)")
	flag.StringVar(&chunk, "repair-chunk", "0", "node chunk size; 0: the node default, 4 MiB (repair phase)")
	flag.IntVar(&rc.replicas, "repair-replicas", 3, "durable holders R of every image (repair phase)")
	flag.DurationVar(&rc.grace, "repair-grace", 2*time.Second, "node RepairGrace: how long a holder may be gone before repair (repair phase)")
	flag.DurationVar(&rc.poll, "repair-poll", 50*time.Millisecond, "how often the catalog and the stores are checked (repair phase)")
	flag.DurationVar(&rc.timeout, "repair-timeout", 90*time.Second, "give up if the repair is not complete after this long (repair phase)")
	return func() error {
		var err error
		if rc.size, err = bytesize.Parse(sz); err != nil {
			return fmt.Errorf("-repair-size: %w", err)
		}
		if rc.upBW, err = bytesize.Parse(bw); err != nil {
			return fmt.Errorf("-repair-bw: %w", err)
		}
		c, err := parseOptSize(chunk)
		if err != nil {
			return fmt.Errorf("-repair-chunk: %w", err)
		}
		rc.chunkSize = int(c)
		if rc.nodes < rc.replicas+1 || rc.replicas < 2 || rc.zones < 1 || rc.images < 1 || rc.grace <= 0 || rc.poll <= 0 {
			return fmt.Errorf("repair phase: need -repair-nodes > -repair-replicas >= 2, and positive -repair-zones, -repair-images, -repair-grace, -repair-poll")
		}
		return nil
	}
}

// repairResult is what the repair phase measured.
type repairResult struct {
	cfg       repairConfig
	chunk     int      // chunk size in use
	zoneOf    []string // zone of each node
	leader    int
	victim    int
	lost      []string // images the victim held a durable copy of
	lostBytes int64
	survivors []int // live nodes in the placements of the lost images (the repair's sources)
	newHolder map[string]int
	// baseline: the victim's chunks copied once over one capped uplink
	baseline sample
	// from the stop (cancel of the victim's context)
	gone      time.Duration // the leader's gossip no longer lists the victim alive
	firstByte time.Duration // first repair byte fetched (sum of FetchedBytes moved)
	repaired  []time.Duration
	full      time.Duration // every image back at R complete live holders
	s         sample        // the whole repair, stop to full
	fetched   int64         // bytes fetched from peers by every node meanwhile
	served    int64         // bytes served to peers meanwhile
	servedBy  map[string]int64
	repairs   int64 // the nodes' Repairs counters moved by this much
	leaders   []int // leaders seen during the repair, in order
	spreadOK  int   // images whose placement spans min(R, zones) zones after the repair
	spreadBad []string
	loadStart string
	loadEnd   string
}

// idealCopy is the lost bytes over the aggregate uplink of the surviving
// holders: the repair's floor when every survivor sends at B throughout.
func (r *repairResult) idealCopy() time.Duration {
	return time.Duration(float64(r.lostBytes) / float64(int64(len(r.survivors))*r.cfg.upBW) * float64(time.Second))
}

// benchRepair: N nodes in Z zones, every node's upload capped at B and a
// short RepairGrace; K images of S bytes uploaded with replicas R (each
// through a different node); the lost node's chunks are first copied
// once over one capped uplink (the measured baseline), then that node is
// stopped and the catalog and every node's store are polled until every
// image is back at R live holders that hold every chunk.
func benchRepair(ctx context.Context, cfg *config, dir string, rep *report) error {
	rc := cfg.repair
	res := &repairResult{cfg: rc, newHolder: map[string]int{}, servedBy: map[string]int64{}, loadStart: procLoad()}
	debug.FreeOSMemory()
	fleetLogs.stopping.Store(false)
	i := 0
	c, err := startCluster(ctx, dir, rc.nodes, func(nc *node.Config) {
		nc.Replicas = rc.replicas
		nc.Zone = fmt.Sprintf("az%d", i%rc.zones+1)
		nc.Rack = "r1"
		nc.UploadBandwidth = rc.upBW
		nc.ChunkSize = rc.chunkSize
		nc.RepairGrace = rc.grace
		nc.GCInterval = time.Hour // keep GC passes out of the timings
		nc.Logger = slog.New(fleetLogs).With("node", i)
		res.zoneOf = append(res.zoneOf, nc.Zone)
		i++
	})
	if err != nil {
		return err
	}
	victimStopped := make(chan struct{})
	stopping := false
	defer func() {
		fleetLogs.stopping.Store(true)
		if stopping {
			<-victimStopped
		}
		c.stop()
	}()
	res.chunk = orDefault(rc.chunkSize, 4<<20)

	// K images, each uploaded through node k mod N (the uploader is one
	// of its holders), so the placements vary.
	hc := newHTTPClient(8)
	data := make([]byte, rc.size)
	var ids []string
	t0 := time.Now()
	for k := range rc.images {
		fillRandom(data, uint64(700+k))
		g := &glance{base: c.url(k % rc.nodes), hc: hc}
		id, err := g.create(ctx, fmt.Sprintf("repair-%d", k))
		if err != nil {
			return err
		}
		if err := g.upload(ctx, id, data); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	log.Printf("  %d images of %s uploaded in %s", rc.images, size(rc.size), time.Since(t0).Round(time.Millisecond))
	if err := waitFor(ctx, 30*time.Second, func() bool {
		for _, nd := range c.nodes {
			for _, id := range ids {
				if _, err := nd.Image(ctx, id); err != nil {
					return false
				}
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("images not in every catalog: %w", err)
	}

	// The victim: the replica (not a Raft voter) holding durable copies of the most
	// images (the voters and the leader stay, so neither an election nor
	// a two-of-three quorum is timed along with the repair).
	res.leader = c.leader()
	if res.leader < 0 {
		return fmt.Errorf("no leader")
	}
	lead := c.nodes[res.leader]
	info, err := lead.Cluster(ctx, false)
	if err != nil {
		return err
	}
	voter := map[string]bool{}
	for _, cn := range info.Nodes {
		voter[cn.ID] = cn.Role == "voter" || cn.Role == "leader"
	}
	holds := make([]int, rc.nodes)
	for _, id := range ids {
		img, err := lead.Image(ctx, id)
		if err != nil {
			return err
		}
		if len(img.Placement) != rc.replicas {
			return fmt.Errorf("image %s placement %v: want %d holders", id, img.Placement, rc.replicas)
		}
		for _, p := range img.Placement {
			if k := c.index(p); k >= 0 {
				holds[k]++
			}
		}
	}
	res.victim = -1
	for k := range holds {
		if !voter[c.nodes[k].ID()] && (res.victim < 0 || holds[k] > holds[res.victim]) {
			res.victim = k
		}
	}
	if res.victim < 0 {
		return fmt.Errorf("no replica among %d nodes (raise -repair-nodes)", rc.nodes)
	}
	victim := c.nodes[res.victim]
	type chunkAt struct {
		image string
		idx   int
		d     string
		size  int64
	}
	var lostChunks []chunkAt
	for _, id := range ids {
		img, _ := lead.Image(ctx, id)
		if !slices.Contains(img.Placement, victim.ID()) {
			continue
		}
		res.lost = append(res.lost, id)
		res.lostBytes += img.Manifest.Size
		for j, ch := range img.Manifest.Chunks {
			lostChunks = append(lostChunks, chunkAt{id, j, ch.Digest, ch.Size})
		}
		for _, p := range img.Placement {
			if k := c.index(p); k >= 0 && k != res.victim && !slices.Contains(res.survivors, k) {
				res.survivors = append(res.survivors, k)
			}
		}
	}
	slices.Sort(res.survivors)
	log.Printf("  leader node%d; losing node%d (%s), a durable holder of %d of %d images (%s); their other holders: %v",
		res.leader, res.victim, res.zoneOf[res.victim], len(res.lost), rc.images, size(res.lostBytes), res.survivors)

	// Baseline: every chunk the victim holds of those images, copied once
	// over one capped uplink (its peer chunk endpoint, one chunk after the
	// other, BLAKE3-checked), from the node that is about to be lost.
	time.Sleep(time.Second) // its token bucket full, as the survivors' will be
	buf := make([]byte, res.chunk)
	res.baseline, err = measure(res.lostBytes, func() error {
		for _, ch := range lostChunks {
			if err := getChunk(ctx, peer.NewClient(hc, "http"), victim.PeerAddr(), ch.image, ch.idx, ch.d, buf[:ch.size]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("baseline copy: %w", err)
	}
	log.Printf("  baseline: %s over one uplink in %s (%.1f MB/s; B = %.1f MB/s)", size(res.lostBytes), res.baseline.wall.Round(time.Millisecond), res.baseline.mbps(), float64(rc.upBW)/1e6)
	// The survivors idle for more than a second before the loss, so
	// every uplink starts the repair with a full token bucket.
	time.Sleep(time.Second)

	before := make([]node.Metrics, rc.nodes)
	for k, nd := range c.nodes {
		before[k] = nd.Metrics()
	}
	complete := map[[2]string]bool{} // (node id, image) seen holding every chunk
	repairedAt := map[string]time.Duration{}
	res.s, err = measure(res.lostBytes, func() error {
		stopped := time.Now()
		stopping = true
		go func() {
			c.stopNode(res.victim)
			close(victimStopped)
		}()
		lastLog := stopped
		for {
			now := time.Since(stopped)
			if l := c.leader(); l >= 0 && l != res.victim && (len(res.leaders) == 0 || res.leaders[len(res.leaders)-1] != l) {
				res.leaders = append(res.leaders, l)
			}
			if res.gone == 0 && lead.AliveMembers() < rc.nodes {
				res.gone = now
			}
			if res.firstByte == 0 {
				var f int64
				for k, nd := range c.nodes {
					if k != res.victim {
						f += nd.Metrics().FetchedBytes - before[k].FetchedBytes
					}
				}
				if f > 0 {
					res.firstByte = now
				}
			}
			pending := 0
			for _, id := range res.lost {
				if _, ok := repairedAt[id]; ok {
					continue
				}
				ok, err := repairedOn(ctx, c, res.victim, id, rc.replicas, complete)
				if err != nil {
					return err
				}
				if ok {
					repairedAt[id] = now
				} else {
					pending++
				}
			}
			if pending == 0 {
				res.full = now
				return nil
			}
			if time.Since(lastLog) >= 5*time.Second {
				lastLog = time.Now()
				log.Printf("    %s: %d of %d images still being repaired", now.Round(time.Second), pending, len(res.lost))
			}
			if now > rc.timeout {
				return fmt.Errorf("%d of %d images not repaired after %s", pending, len(res.lost), now.Round(time.Second))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(rc.poll):
			}
		}
	})
	if err != nil {
		return err
	}
	res.loadEnd = procLoad()
	for _, id := range res.lost {
		res.repaired = append(res.repaired, repairedAt[id])
	}
	slices.Sort(res.repaired)
	for k, nd := range c.nodes {
		if k == res.victim {
			continue
		}
		m := nd.Metrics()
		res.fetched += m.FetchedBytes - before[k].FetchedBytes
		res.served += m.ServedBytes - before[k].ServedBytes
		if d := m.ServedBytes - before[k].ServedBytes; d > 0 {
			res.servedBy[fmt.Sprintf("node%d", k)] = d
		}
		res.repairs += m.Repairs - before[k].Repairs
	}
	// Zone spread, and where the new copies went, for every image.
	for _, id := range ids {
		img, err := lead.Image(ctx, id)
		if err != nil {
			return err
		}
		zones := map[string]bool{}
		for _, p := range img.Placement {
			if k := c.index(p); k >= 0 {
				zones[res.zoneOf[k]] = true
			}
		}
		if len(zones) >= min(rc.replicas, rc.zones) {
			res.spreadOK++
		} else {
			res.spreadBad = append(res.spreadBad, fmt.Sprintf("%s: %v", id, img.Placement))
		}
	}
	for _, id := range res.lost {
		img, _ := lead.Image(ctx, id)
		for _, p := range img.Placement {
			if k := c.index(p); k >= 0 && !slices.Contains(res.survivors, k) {
				res.newHolder[fmt.Sprintf("node%d (%s)", k, res.zoneOf[k])]++
			}
		}
	}
	rep.repair = res
	log.Printf("  repaired in %s (gone seen at %s, first byte at %s, images done %s..%s); ideal %s + grace %s; fetched %s; %s",
		res.full.Round(time.Millisecond), res.gone.Round(time.Millisecond), res.firstByte.Round(time.Millisecond),
		res.repaired[0].Round(time.Millisecond), res.repaired[len(res.repaired)-1].Round(time.Millisecond),
		fmtDur(res.idealCopy()), rc.grace, size(res.fetched), res.s.cpus())
	return nil
}

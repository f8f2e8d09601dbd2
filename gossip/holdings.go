package gossip

import (
	"cmp"
	"slices"
	"time"
)

// nextVersionLocked returns a fresh version: max(last+1, now in unix ns), so
// versions keep growing across restarts of a node with the same id.
func (g *Gossip) nextVersionLocked() uint64 {
	g.version = max(g.version+1, uint64(time.Now().UnixNano()))
	return g.version
}

// Announce records that this node now holds the chunk indexes have of
// imageID, which has total chunks. It is cumulative: chunks announced
// earlier stay held. Indexes outside [0,total) are ignored. If total differs
// from an earlier announcement, the new layout replaces the old one.
func (g *Gossip) Announce(imageID string, total int, have []int) {
	g.announce(imageID, total, have, false)
}

// AnnounceAll records that this node holds every chunk of imageID.
func (g *Gossip) AnnounceAll(imageID string, total int) {
	g.announce(imageID, total, nil, true)
}

func (g *Gossip) announce(imageID string, total int, have []int, all bool) {
	if imageID == "" || len(imageID) > MaxImageIDLen || total <= 0 || total > MaxChunks {
		g.log.Error("announce ignored: bad image id or chunk count",
			"image", imageID, "total", total)
		return
	}
	g.mu.Lock()
	ups, bad := g.st.localAnnounce(g.self, imageID, total, have, all, g.nextVersionLocked())
	g.mu.Unlock()
	if bad > 0 {
		g.log.Warn("announce: chunk indexes out of range ignored",
			"image", imageID, "total", total, "ignored", bad)
	}
	for _, u := range ups {
		g.queue.QueueBroadcast(newBroadcast(u, encodeUpdate(u)))
	}
}

// Withdraw records that this node no longer holds any chunk of imageID.
func (g *Gossip) Withdraw(imageID string) {
	if imageID == "" || len(imageID) > MaxImageIDLen {
		return
	}
	g.mu.Lock()
	had := g.st.localWithdraw(g.self, imageID)
	var u update
	if had {
		u = update{kind: msgWithdraw, origin: g.self, image: imageID, version: g.nextVersionLocked()}
	}
	g.mu.Unlock()
	if had {
		g.queue.QueueBroadcast(newBroadcast(u, encodeUpdate(u)))
	}
}

// Holders returns the ids, sorted, of live nodes (self included) that hold
// chunk idx of imageID.
func (g *Gossip) Holders(imageID string, idx int) []string {
	return g.collect(func(origin string) bool { return g.st.has(origin, imageID, idx) })
}

// FullHolders returns the ids, sorted, of live nodes (self included) that
// hold every chunk of imageID.
func (g *Gossip) FullHolders(imageID string) []string {
	return g.collect(func(origin string) bool { return g.st.full(origin, imageID) })
}

func (g *Gossip) collect(match func(origin string) bool) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for origin := range g.st.origins {
		if g.aliveLocked(origin) && match(origin) {
			out = append(out, origin)
		}
	}
	slices.SortFunc(out, cmp.Compare[string])
	return out
}

// Holdings returns which chunks of imageID node nodeID is known to hold
// (one entry per chunk), or nil if nothing is known.
func (g *Gossip) Holdings(nodeID, imageID string) []bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.st.bitmap(nodeID, imageID)
}

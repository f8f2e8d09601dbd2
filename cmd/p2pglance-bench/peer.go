package main

import (
	"context"
	"crypto/md5"
	"fmt"
	"log"
	"path/filepath"
	"slices"

	"github.com/p2pglance/p2pglance/node"
)

// peerResult holds the peer download figures.
type peerResult struct {
	size          int64
	local, remote []sample // GET on the holder; GET on a node without the chunks
	fetched       int64    // bytes the remote node fetched from peers per download (median run)
}

// benchPeer: three nodes (data on disk, replicas 1, NoCache so a node
// keeps nothing it fetched). One image is uploaded to node 0, then
// downloaded alternately from the node that holds it and from a node
// outside its placement, which fetches every chunk from the holder
// (verifying each) while it streams it.
func benchPeer(ctx context.Context, cfg *config, dir string, rep *report) error {
	data := make([]byte, cfg.peerSize)
	fillRandom(data, 3)
	restamp(data)
	c, err := startCluster(ctx, filepath.Join(dir, "nodes"), 3, func(c *node.Config) {
		c.Replicas = 1
		c.NoCache = true
	})
	if err != nil {
		return err
	}
	defer c.stop()
	hc := newHTTPClient(4)
	up := &glance{base: c.url(0), hc: hc}
	id, err := up.create(ctx, "bench-peer")
	if err != nil {
		return err
	}
	if err := up.upload(ctx, id, data); err != nil {
		return err
	}
	img, err := c.nodes[0].Image(ctx, id)
	if err != nil {
		return err
	}
	holder, remote := -1, -1
	for i, nd := range c.nodes {
		if slices.Contains(img.Placement, nd.ID()) {
			holder = i
		} else if remote < 0 {
			remote = i
		}
	}
	if holder < 0 || remote < 0 {
		return fmt.Errorf("placement %v: want one holder among 3 nodes", img.Placement)
	}
	log.Printf("  image on %v; local download from node%d, peer download from node%d", img.Placement, holder, remote)
	gl := &glance{base: c.url(holder), hc: hc}
	gr := &glance{base: c.url(remote), hc: hc}
	sum := md5.Sum(data)
	for _, g := range []*glance{gl, gr} {
		if err := verify(ctx, hc, g.base+"/v2/images/"+id+"/file", sum[:]); err != nil {
			return err
		}
	}
	res := &peerResult{size: cfg.peerSize}
	rep.peer = res
	var fetched []int64
	for r := range cfg.dlReps {
		ls, err := measure(cfg.peerSize, func() error { return gl.download(ctx, id, cfg.peerSize) })
		if err != nil {
			return err
		}
		before := c.nodes[remote].Metrics().FetchedBytes
		rs, err := measure(cfg.peerSize, func() error { return gr.download(ctx, id, cfg.peerSize) })
		if err != nil {
			return err
		}
		fetched = append(fetched, c.nodes[remote].Metrics().FetchedBytes-before)
		res.local, res.remote = append(res.local, ls), append(res.remote, rs)
		log.Printf("  run %d: local %.0f MB/s (%s); from peer %.0f MB/s (%s); fetched %d MiB",
			r+1, ls.mbps(), ls.cpus(), rs.mbps(), rs.cpus(), fetched[len(fetched)-1]>>20)
	}
	slices.Sort(fetched)
	res.fetched = fetched[(len(fetched)-1)/2]
	if held := c.nodes[remote].Metrics().StoredBytes; held != 0 {
		log.Printf("  warning: the remote node holds %d bytes of chunks despite NoCache", held)
	}
	return profiled(cfg.profileDir, "peer-download", func() error { return gr.download(ctx, id, cfg.peerSize) })
}

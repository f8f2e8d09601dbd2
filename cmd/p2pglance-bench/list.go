package main

import (
	"context"
	"fmt"
	"log"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node"
)

// listQuery is one list request shape.
type listQuery struct {
	label   string // as shown in the table
	query   string
	project string // X-Project-Id ("" = noauth admin)
	reqs    int    // requests (0: -list-requests)
	note    string
}

// listRow is the latency of one query at one catalog size.
type listRow struct {
	images   int
	q        listQuery
	page     int
	p50, p99 time.Duration
	max      time.Duration
	n        int
}

// listResult holds the list figures and how the catalog was loaded.
type listResult struct {
	rows  []listRow
	loads []listLoad
}

type listLoad struct {
	from, to int
	wall     time.Duration
	perSec   float64
	heap     uint64 // live Go heap of the process after the load (one node: the catalog, Raft, Badger)
}

// Catalog shape: 100 owners, 10% public, a third of the rest private,
// half raw and half qcow2, every name distinct.
const listOwners = 100

func listImage(i int) *catalog.Image {
	now := time.Now().UTC()
	name := fmt.Sprintf("img-%07d", i)
	owner := fmt.Sprintf("proj-%03d", i%listOwners)
	df := []string{"raw", "qcow2"}[i%2]
	cf := "bare"
	vis := catalog.VisibilityShared
	switch {
	case i%10 == 0:
		vis = catalog.VisibilityPublic
	case i%3 == 0:
		vis = catalog.VisibilityPrivate
	}
	return &catalog.Image{
		ID: uuid.NewString(), Name: &name, Status: catalog.StatusQueued, Visibility: vis,
		Owner: &owner, DiskFormat: &df, ContainerFormat: &cf,
		CreatedAt: now, UpdatedAt: now, Tags: []string{},
		Properties: map[string]string{"os_distro": []string{"ubuntu", "debian", "cirros", "fedora"}[i%4]},
	}
}

// benchList: one node with data on disk. The catalog is loaded by
// proposing creates straight through the node's Go API
// ((*node.Node).CreateImage, i.e. through Raft with its fsyncs, but
// without HTTP) from -loaders goroutines; list latency is then measured
// through the HTTP API, one request at a time, at each catalog size.
func benchList(ctx context.Context, cfg *config, dir string, rep *report) error {
	c, err := startCluster(ctx, filepath.Join(dir, "nodes"), 1, nil)
	if err != nil {
		return err
	}
	defer c.stop()
	nd := c.nodes[0]
	hc := newHTTPClient(4)
	res := &listResult{}
	rep.list = res
	ids := []string{}
	var mu sync.Mutex
	loaded := 0
	for _, size := range cfg.listSizes {
		if size > loaded {
			t0 := time.Now()
			if err := loadCatalog(ctx, nd, loaded, size, cfg.loaders, func(i int, id string) {
				mu.Lock()
				defer mu.Unlock()
				for len(ids) <= i {
					ids = append(ids, "")
				}
				ids[i] = id
			}); err != nil {
				return err
			}
			l := listLoad{from: loaded, to: size, wall: time.Since(t0)}
			l.perSec = float64(size-loaded) / l.wall.Seconds()
			res.loads = append(res.loads, l)
			log.Printf("  loaded images %d..%d in %s (%.0f creates/s)", loaded, size, l.wall.Round(time.Millisecond), l.perSec)
			loaded = size
			// Let the load's aftermath (Badger compactions of the Raft
			// log, the Go GC of the load's garbage) pass: the figures are
			// for lists on a settled catalog.
			time.Sleep(cfg.settle)
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			res.loads[len(res.loads)-1].heap = ms.HeapAlloc
			if err := writeHeapProfile(cfg.profileDir, fmt.Sprintf("heap-%d-images", size)); err != nil {
				return err
			}
		}
		mid := size / 2
		queries := []listQuery{
			{label: "`limit=25`", query: "limit=25"},
			{label: "`limit=25&owner=proj-042`", query: "limit=25&owner=proj-042", note: "owner index"},
			{label: fmt.Sprintf("`limit=25&name=img-%07d`", mid), query: fmt.Sprintf("limit=25&name=img-%07d", mid), note: "name index, 1 match"},
			{label: "`limit=25&disk_format=qcow2`", query: "limit=25&disk_format=qcow2", note: "disk_format index"},
			{label: "`limit=25&visibility=public`", query: "limit=25&visibility=public", note: "no index: filtered walk of created_at (10% match)"},
			{label: "`limit=25` as project proj-042", query: "limit=25", project: "proj-042", note: "visibility rules: own + public"},
			{label: "`limit=25&marker=<middle image>`", query: "limit=25&marker=" + ids[mid], note: "page from the middle"},
			{label: "`limit=1000`", query: "limit=1000", reqs: 200, note: "Glance's largest page"},
			{label: "`limit=25&sort_key=status`", query: "limit=25&sort_key=status", reqs: 200, note: "status index"},
			{label: "`limit=25&sort_key=disk_format&marker=<middle image>`", query: "limit=25&sort_key=disk_format&marker=" + ids[mid], reqs: 200, note: "disk_format index, from the middle"},
			{label: "`limit=25&sort=name:asc,status:desc`", query: "limit=25&sort=name:asc,status:desc", reqs: 200, note: "two keys: sorted order cached until the next write"},
		}
		for _, q := range queries {
			row, err := timeList(ctx, &glance{base: c.url(0), hc: hc, project: q.project}, q, cfg.listRequests)
			if err != nil {
				return err
			}
			row.images = size
			res.rows = append(res.rows, *row)
			log.Printf("  %d images, %s: page %d, p50 %s ms, p99 %s ms", size, q.label, row.page, ms(row.p50), ms(row.p99))
		}
	}
	return profiled(cfg.profileDir, "list", func() error {
		g := &glance{base: c.url(0), hc: hc}
		for range 2000 {
			if _, err := g.list(ctx, "limit=25"); err != nil {
				return err
			}
			if _, err := g.list(ctx, "limit=25&owner=proj-042"); err != nil {
				return err
			}
		}
		return nil
	})
}

// loadCatalog creates images from..to-1 through nd.CreateImage from
// workers goroutines.
func loadCatalog(ctx context.Context, nd *node.Node, from, to, workers int, record func(i int, id string)) error {
	var next atomic.Int64
	next.Store(int64(from) - 1)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i >= to || ctx.Err() != nil {
					return
				}
				img := listImage(i)
				if _, err := nd.CreateImage(ctx, img); err != nil {
					errs <- fmt.Errorf("create image %d: %w", i, err)
					return
				}
				record(i, img.ID)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// timeList sends q sequentially (after a warm-up) and returns its latencies.
func timeList(ctx context.Context, g *glance, q listQuery, defReqs int) (*listRow, error) {
	n := q.reqs
	if n == 0 {
		n = defReqs
	}
	body, err := g.list(ctx, q.query)
	if err != nil {
		return nil, err
	}
	page, err := pageSize(body)
	if err != nil {
		return nil, err
	}
	for range min(n/10, 20) {
		if _, err := g.list(ctx, q.query); err != nil {
			return nil, err
		}
	}
	lat := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if _, err := g.list(ctx, q.query); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
	}
	return &listRow{q: q, page: page, n: n, p50: percentile(lat, 50), p99: percentile(lat, 99), max: percentile(lat, 100)}, nil
}

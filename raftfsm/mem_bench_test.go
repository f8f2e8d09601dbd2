package raftfsm

import (
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/p2pglance/p2pglance/catalog"
)

// realisticImage is an image shaped like a production one: a UUID, a
// cloud-image name, an owner among 200 projects, md5 and sha512 hashes,
// ten properties (Glance's usual os_* / hw_* ones and the owner_specified
// hashes), two tags, one http location and three durable holders.
// chunks > 0 adds a manifest of that many 4 MiB chunks.
func realisticImage(rng *rand.Rand, i, chunks int) *catalog.Image {
	hexOf := func(n int) string {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		return hex.EncodeToString(b)
	}
	uuid := func() string {
		s := hexOf(16)
		return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
	}
	distros := []string{"ubuntu", "debian", "centos", "fedora", "cirros", "windows"}
	distro := distros[rng.IntN(len(distros))]
	name := fmt.Sprintf("%s-%d.%02d-server-cloudimg-amd64-%07d", distro, 18+rng.IntN(8), 4*rng.IntN(3), i)
	owner := fmt.Sprintf("%032x", rng.IntN(200)*7919)
	at := time.Unix(1600000000+int64(i)*37, int64(rng.IntN(1e9))).UTC()
	size := int64(200<<20 + rng.IntN(2<<30))
	vsize := 10 * size
	md5, sha := hexOf(16), hexOf(64)
	algo := "sha512"
	df := []string{"qcow2", "raw", "vmdk"}[rng.IntN(3)]
	cf := "bare"
	vis := []string{catalog.VisibilityPrivate, catalog.VisibilityShared, catalog.VisibilityPublic, catalog.VisibilityCommunity}[rng.IntN(4)]
	img := &catalog.Image{
		ID: uuid(), Name: &name, Status: catalog.StatusActive, Visibility: vis,
		Checksum: &md5, OSHashAlgo: &algo, OSHashValue: &sha, Owner: &owner,
		Size: &size, VirtualSize: &vsize, MinDisk: 20, MinRAM: 512,
		DiskFormat: &df, ContainerFormat: &cf,
		CreatedAt: at, UpdatedAt: at.Add(time.Duration(rng.IntN(3600)) * time.Second),
		Tags: []string{"team-" + fmt.Sprint(rng.IntN(20)), []string{"prod", "staging", "dev"}[rng.IntN(3)]},
		Properties: map[string]string{
			"os_distro":                        distro,
			"os_version":                       fmt.Sprintf("%d.%02d", 18+rng.IntN(8), 4*rng.IntN(3)),
			"os_type":                          "linux",
			"architecture":                     "x86_64",
			"hw_disk_bus":                      "virtio",
			"hw_vif_model":                     "virtio",
			"hw_qemu_guest_agent":              "yes",
			"os_require_quiesce":               "yes",
			"owner_specified.openstack.md5":    md5,
			"owner_specified.openstack.sha256": hexOf(32),
		},
		Locations: []catalog.Location{{URL: fmt.Sprintf("https://images.example.com/%s/%s.img", distro, name)}},
		Placement: []string{fmt.Sprintf("hv-%04d.rack%02d.az1", rng.IntN(1000), rng.IntN(40)), fmt.Sprintf("hv-%04d.rack%02d.az2", rng.IntN(1000), rng.IntN(40)), fmt.Sprintf("hv-%04d.rack%02d.az3", rng.IntN(1000), rng.IntN(40))},
	}
	if chunks > 0 {
		m := &catalog.Manifest{Size: size, Checksum: md5, OSHashAlgo: algo, OSHashValue: sha}
		for range chunks {
			m.Chunks = append(m.Chunks, catalog.ChunkRef{Digest: hexOf(32), Size: 4 << 20})
		}
		img.Manifest = m
	}
	return img
}

// loadRealistic applies n creates of realistic images to a new FSM and
// returns it with the ids in creation order, the live heap it added, and
// the time and bytes allocated in Apply (the commands are encoded first).
func loadRealistic(tb testing.TB, n, chunks int) (f *FSM, ids []string, heap uint64, applying time.Duration, alloc uint64) {
	rng := rand.New(rand.NewPCG(11, 12))
	before := liveHeap()
	ids = make([]string, n)
	cmds := make([][]byte, n)
	for i := range n {
		img := realisticImage(rng, i, chunks)
		ids[i] = img.ID
		data, err := Encode(&CreateImage{Image: img})
		if err != nil {
			tb.Fatal(err)
		}
		cmds[i] = data
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	alloc = ms.TotalAlloc
	t0 := time.Now()
	f = New()
	for i, data := range cmds {
		if res := f.Apply(&raft.Log{Index: uint64(i + 1), Data: data}).(*Result); res.Err != nil {
			tb.Fatal(res.Err)
		}
	}
	applying = time.Since(t0)
	runtime.ReadMemStats(&ms)
	alloc = ms.TotalAlloc - alloc
	cmds = nil
	after := liveHeap()
	runtime.KeepAlive(f)
	// ids are counted in the delta; take them out (16-byte headers in one
	// slice, each string's bytes shared with nothing else).
	var idBytes uint64
	for _, id := range ids {
		idBytes += uint64(len(id))
	}
	return f, ids, after - before - uint64(16*n) - idBytes, applying, alloc
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

var catalogImages = flag.Int("catalog.images", 100_000, "images in BenchmarkCatalogMemory's catalogs")

// BenchmarkCatalogMemory reports the live Go heap the catalog holds per
// image for 100,000 realistic images (realisticImage; -catalog.images
// changes the count), without and with a 16-chunk manifest, and the list
// latency at that size for each sort key (first page and pages from
// random markers, both directions, limit 25). Run it with -benchtime 1x:
// every figure is measured once per run.
//
//	go test ./raftfsm -run '^$' -bench CatalogMemory -benchtime 1x
func BenchmarkCatalogMemory(b *testing.B) {
	n := *catalogImages
	for _, chunks := range []int{0, 16} {
		b.Run(fmt.Sprintf("images=%d/chunks=%d", n, chunks), func(b *testing.B) {
			var heap, alloc uint64
			var applying time.Duration
			for b.Loop() {
				var f *FSM
				f, _, heap, applying, alloc = loadRealistic(b, n, chunks)
				runtime.KeepAlive(f)
			}
			b.ReportMetric(float64(heap)/float64(n), "heap-B/image")
			b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
			b.ReportMetric(float64(applying.Microseconds())/float64(n), "apply-µs/image")
			b.ReportMetric(float64(alloc)/float64(n), "apply-alloc-B/image")
		})
	}
	f, ids, _, _, _ := loadRealistic(b, n, 0)
	rng := rand.New(rand.NewPCG(13, 14))
	queries := []struct {
		name string
		q    catalog.ListQuery
	}{
		{"created_at", catalog.ListQuery{SortKey: "created_at"}},
		{"name", catalog.ListQuery{SortKey: "name"}},
		{"size", catalog.ListQuery{SortKey: "size"}},
		{"disk_format", catalog.ListQuery{SortKey: "disk_format"}},
		{"status", catalog.ListQuery{SortKey: "status"}},
		{"owner-filter", catalog.ListQuery{SortKey: "created_at", IndexField: "owner", IndexValue: fmt.Sprintf("%032x", 42*7919)}},
		{"name,status", catalog.ListQuery{SortKey: "name", Then: []catalog.SortSpec{{Key: "status", Desc: true}}}},
		{"disk_format,size", catalog.ListQuery{SortKey: "disk_format", Then: []catalog.SortSpec{{Key: "size"}}}},
	}
	for _, qq := range queries {
		b.Run(fmt.Sprintf("images=%d/list=%s", n, qq.name), func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				lat = lat[:0]
				for i := range 400 {
					q := qq.q
					q.Limit, q.Desc = 25, i%2 == 0
					if i%4 >= 2 {
						q.Marker = ids[rng.IntN(len(ids))]
					}
					t0 := time.Now()
					_, err := f.State().List(q)
					lat = append(lat, time.Since(t0))
					if err != nil {
						b.Fatalf("%+v: %v", q, err)
					}
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
	b.Run(fmt.Sprintf("images=%d/each", n), func(b *testing.B) {
		var took time.Duration
		for b.Loop() {
			t0 := time.Now()
			count := 0
			f.State().Each(func(*catalog.Image) bool { count++; return true })
			took = time.Since(t0)
			if count != n {
				b.Fatalf("Each saw %d images", count)
			}
		}
		b.ReportMetric(float64(took.Milliseconds()), "ms/pass")
	})
	// A list by two keys right after each write: the worst case of a
	// cached order (rebuilt for every list).
	b.Run(fmt.Sprintf("images=%d/list=name,status/after-each-write", n), func(b *testing.B) {
		var lat []time.Duration
		idx := uint64(n)
		for b.Loop() {
			lat = lat[:0]
			for i := range 20 {
				img, err := f.State().Image(ids[rng.IntN(len(ids))])
				if err != nil {
					b.Fatal(err)
				}
				img.Name = strp(fmt.Sprintf("renamed-%d", i))
				idx++
				data, _ := Encode(&UpdateImage{Image: img, ExpectRevision: img.Revision})
				if res := f.Apply(&raft.Log{Index: idx, Data: data}).(*Result); res.Err != nil {
					b.Fatal(res.Err)
				}
				t0 := time.Now()
				if _, err := f.State().List(catalog.ListQuery{SortKey: "name", Then: []catalog.SortSpec{{Key: "status", Desc: true}}, Limit: 25}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
	})
}

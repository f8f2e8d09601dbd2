package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"time"
)

// bootRun is one boot-time download: GET /v2/images/{id}/file on a node
// with nothing of the image local, then again on the same node once the
// first GET left every chunk in its store.
type bootRun struct {
	node            int
	cold, warm      sample
	coldTTFB        time.Duration
	warmTTFB        time.Duration
	coldFetched     int64 // bytes the node fetched from peers during the cold GET
	warmFetched     int64
	coldSources     int // distinct peers that served the cold GET
	coldSourceBytes map[string]int64
}

// fleetBoot measures boot-time downloads in a running fleet: each rep
// uploads a new image, GETs it (md5-checked) from a node with nothing of
// it local, then GETs it again from the same node, which now holds every
// chunk in its local store.
func fleetBoot(ctx context.Context, fc *fleetConfig, c *cluster, hc *http.Client, seed uint64) ([]bootRun, error) {
	data := make([]byte, fc.size)
	var out []bootRun
	for r := range fc.bootReps {
		fillRandom(data, seed*1000+uint64(r))
		up := &glance{base: c.url(0), hc: hc}
		id, err := up.create(ctx, fmt.Sprintf("boot-%d", r))
		if err != nil {
			return nil, err
		}
		if err := up.upload(ctx, id, data); err != nil {
			return nil, err
		}
		img, err := c.nodes[0].Image(ctx, id)
		if err != nil {
			return nil, err
		}
		var cands []int
		for k, nd := range c.nodes {
			if !slices.Contains(img.Placement, nd.ID()) {
				cands = append(cands, k)
			}
		}
		if len(cands) == 0 {
			return nil, fmt.Errorf("every node holds the image")
		}
		k := cands[0]
		for _, cand := range cands {
			if !slices.ContainsFunc(out, func(b bootRun) bool { return b.node == cand }) {
				k = cand
				break
			}
		}
		// Holders idle for a second (fc.idle/2): their token buckets are full, as
		// on a fleet where nothing else is being served.
		time.Sleep(fc.idle / 2)
		br := bootRun{node: k, coldSourceBytes: map[string]int64{}}
		served0 := make([]int64, len(c.nodes))
		for j, nd := range c.nodes {
			served0[j] = nd.Metrics().ServedBytes
		}
		url := c.url(k) + "/v2/images/" + id + "/file"
		sum := md5.Sum(data)
		f0 := c.nodes[k].Metrics().FetchedBytes
		br.cold, br.coldTTFB, err = timedGet(ctx, hc, url, fc.size, sum[:])
		if err != nil {
			return nil, fmt.Errorf("cold GET on node%d: %w", k, err)
		}
		f1 := c.nodes[k].Metrics().FetchedBytes
		for j, nd := range c.nodes {
			if d := nd.Metrics().ServedBytes - served0[j]; d > 0 {
				br.coldSources++
				br.coldSourceBytes[fmt.Sprintf("node%d", j)] = d
			}
		}
		br.warm, br.warmTTFB, err = timedGet(ctx, hc, url, fc.size, nil)
		if err != nil {
			return nil, fmt.Errorf("warm GET on node%d: %w", k, err)
		}
		br.coldFetched, br.warmFetched = f1-f0, c.nodes[k].Metrics().FetchedBytes-f1
		log.Printf("  boot download %d on node%d: nothing local: first byte %s, %.1f MB/s (%s, served by %v); local cache: first byte %s, %.0f MB/s (%s)",
			r+1, k, ms(br.coldTTFB), br.cold.mbps(), br.cold.cpus(), br.coldSourceBytes, ms(br.warmTTFB), br.warm.mbps(), br.warm.cpus())
		out = append(out, br)
	}
	return out, nil
}

// timedGet GETs url, reading it in 1 MiB reads, and returns the whole
// transfer's sample and the time to the first body byte. With md5sum it
// checks the content.
func timedGet(ctx context.Context, hc *http.Client, url string, want int64, md5sum []byte) (sample, time.Duration, error) {
	var ttfb time.Duration
	s, err := measure(want, func() error {
		t0 := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
		}
		h := md5.New()
		buf := make([]byte, 1<<20)
		var total int64
		for {
			k, err := resp.Body.Read(buf)
			if k > 0 && total == 0 {
				ttfb = time.Since(t0)
			}
			total += int64(k)
			if md5sum != nil {
				h.Write(buf[:k])
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		if total != want {
			return fmt.Errorf("%d bytes, want %d", total, want)
		}
		if md5sum != nil && !bytes.Equal(h.Sum(nil), md5sum) {
			return fmt.Errorf("md5 mismatch")
		}
		return nil
	})
	return s, ttfb, err
}

package main

import (
	"context"
	"crypto/md5"
	"crypto/sha512"
	"math/rand/v2"

	"github.com/p2pglance/p2pglance/chunkstore"
)

// hashResult is the single-core speed of one per-byte cost of the data
// path, in decimal MB/s.
type hashResult struct {
	name string
	mbps float64
	cpu  float64 // CPU seconds per GB
}

// benchHash measures, on one goroutine, what each byte of an upload or
// download costs: md5 and sha512 (Glance's checksum and os_hash_value,
// computed on upload), BLAKE3 (chunk names, computed on upload and
// verified on every read) and a plain memory copy.
func benchHash(ctx context.Context, cfg *config, _ string, rep *report) error {
	const chunk = 4 << 20
	const rounds = 64 // 256 MiB per figure
	src := make([]byte, chunk)
	dst := make([]byte, chunk)
	fillRandom(src, 1)
	md5h, shah := md5.New(), sha512.New()
	tests := []struct {
		name string
		fn   func()
	}{
		{"md5 (Glance checksum)", func() { md5h.Write(src) }},
		{"sha512 (Glance os_hash_value)", func() { shah.Write(src) }},
		{"BLAKE3-256 (chunk digest)", func() { _ = chunkstore.Sum(src) }},
		{"memmove", func() { copy(dst, src) }},
	}
	for _, t := range tests {
		t.fn() // warm up
		s, _ := measure(int64(chunk*rounds), func() error {
			for range rounds {
				t.fn()
			}
			return nil
		})
		rep.hash = append(rep.hash, hashResult{name: t.name, mbps: s.mbps(), cpu: s.cpuPerGB()})
	}
	return ctx.Err()
}

// fillRandom fills b with fast pseudo-random (incompressible) bytes.
func fillRandom(b []byte, seed uint64) {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	r := rand.NewChaCha8(key)
	_, _ = r.Read(b)
}

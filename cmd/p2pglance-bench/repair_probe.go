package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/peer"
)

// repairedOn reports whether image id is back at want live holders, none
// of them the victim, each holding every chunk (its store, through
// HoldsImage). complete caches holders already seen complete.
func repairedOn(ctx context.Context, c *cluster, victim int, id string, want int, complete map[[2]string]bool) (bool, error) {
	lead := c.leader()
	if lead < 0 || lead == victim {
		return false, nil
	}
	img, err := c.nodes[lead].Image(ctx, id)
	if err != nil {
		return false, err
	}
	var holders []int
	for _, p := range img.Placement {
		k := c.index(p)
		if k < 0 || k == victim || slices.Contains(holders, k) {
			return false, nil
		}
		holders = append(holders, k)
	}
	if len(holders) != want {
		return false, nil
	}
	for _, k := range holders {
		key := [2]string{c.nodes[k].ID(), id}
		if complete[key] {
			continue
		}
		held, err := c.nodes[k].HoldsImage(ctx, id)
		if err != nil || !held {
			return false, err
		}
		complete[key] = true
	}
	return true, nil
}

// getChunk GETs one chunk from a node's peer endpoint into buf and
// checks its BLAKE3 digest.
func getChunk(ctx context.Context, pc *peer.Client, peerAddr, image string, idx int, digest string, buf []byte) error {
	body, err := pc.GetChunk(ctx, peerAddr, peer.ChunkRequest{Digest: digest, Image: image, Idx: idx})
	if err != nil {
		return fmt.Errorf("get chunk %d of %s: %w", idx, image, err)
	}
	defer body.Close()
	if _, err := io.ReadFull(body, buf); err != nil {
		return fmt.Errorf("get chunk %d of %s: %w", idx, image, err)
	}
	d, err := chunkstore.ParseDigest(digest)
	if err != nil {
		return err
	}
	if chunkstore.Sum(buf) != d {
		return fmt.Errorf("chunk %d of %s: digest mismatch", idx, image)
	}
	return nil
}

package transfer

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/peer"
)

// A replica fill makes one node hold a durable copy of every chunk of an
// image. The same routine serves an upload (the R-1 replicas, fed from
// this node's store), copy-image (a node of a zone, fed from the
// holders) and repair (this node becoming a holder, fed from the
// holders): it asks the target which chunks it lacks, sends those, and
// asks again until none is missing.

// fillRounds bounds the ask-and-send rounds of one fill.
const fillRounds = 3

// replicaTarget is the node a fill makes a holder: a peer (through the
// peer protocol) or this node.
type replicaTarget interface {
	// lacking makes what the target holds durable, protects the chunks
	// for the image, and returns those of digests (ds parsed) it lacks.
	lacking(ctx context.Context, imageID string, digests []string, ds []chunkstore.Digest) ([]string, error)
	// put stores chunk idx (digest d) of an image of total chunks.
	put(ctx context.Context, imageID string, idx, total int, d chunkstore.Digest, data []byte) error
	// name is the target's node id, for errors.
	name() string
}

// chunkSource reads chunk idx (digest d) of the image being copied, its
// bytes verified, in a pooled buffer the caller releases.
type chunkSource func(ctx context.Context, idx int, d chunkstore.Digest) (*Buffer, []byte, error)

// FillLocal makes this node a durable holder of every chunk of img: the
// chunks it lacks are fetched (verified) from the holders, window at a
// time, and every chunk is protected for the image (Protector) so a
// cache eviction cannot undo the copy before the new placement commits.
func (t *Transfer) FillLocal(ctx context.Context, img *catalog.Image, window int) error {
	return t.fill(ctx, localReplica{t}, img.ID, img.Manifest, t.holderSource(img), window)
}

// fill makes tg hold a durable copy of every chunk of man, sending what
// it lacks from src, window chunks at a time.
func (t *Transfer) fill(ctx context.Context, tg replicaTarget, imageID string, man *catalog.Manifest, src chunkSource, window int) error {
	digests, index := UniqueChunks(man)
	ds := make([]chunkstore.Digest, len(digests))
	parsed := make(map[string]chunkstore.Digest, len(digests))
	for i, s := range digests {
		d, err := chunkstore.ParseDigest(s)
		if err != nil {
			return fmt.Errorf("chunk %d of %s: %w", index[s], imageID, err)
		}
		ds[i], parsed[s] = d, d
	}
	for range fillRounds {
		missing, err := tg.lacking(ctx, imageID, digests, ds)
		if err != nil {
			return err
		}
		if len(missing) == 0 {
			return nil
		}
		for _, s := range missing {
			if _, ok := parsed[s]; !ok {
				return fmt.Errorf("node %s reported an unknown chunk %q", tg.name(), s)
			}
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(window)
		for _, s := range missing {
			if gctx.Err() != nil {
				break
			}
			idx, d := index[s], parsed[s]
			g.Go(func() error {
				buf, data, err := src(gctx, idx, d)
				if err != nil {
					return err
				}
				defer buf.Release()
				return tg.put(gctx, imageID, idx, len(man.Chunks), d, data)
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	return fmt.Errorf("node %s still lacks chunks of %s after %d rounds", tg.name(), imageID, fillRounds)
}

// UniqueChunks maps each distinct digest of man to its first index; the
// digests come in manifest order.
func UniqueChunks(man *catalog.Manifest) ([]string, map[string]int) {
	index := map[string]int{}
	var digests []string
	for i, c := range man.Chunks {
		if _, dup := index[c.Digest]; !dup {
			index[c.Digest] = i
			digests = append(digests, c.Digest)
		}
	}
	return digests, index
}

// localSource reads the chunks from this node's store (an upload's
// replicas).
func (t *Transfer) localSource() chunkSource {
	return func(ctx context.Context, _ int, d chunkstore.Digest) (*Buffer, []byte, error) {
		buf := t.bufs.get()
		data, err := t.chunks.Get(ctx, d, buf.b)
		if err != nil {
			buf.Release()
			return nil, nil, fmt.Errorf("read local chunk for replica: %w", err)
		}
		return buf, data, nil
	}
}

// holderSource reads the chunks of img locally or from its holders,
// verified (FetchChunk).
func (t *Transfer) holderSource(img *catalog.Image) chunkSource {
	return func(ctx context.Context, idx int, _ chunkstore.Digest) (*Buffer, []byte, error) {
		return t.FetchChunk(ctx, img, idx)
	}
}

// peerReplica is another node as a fill's target.
type peerReplica struct {
	t *Transfer
	m Member
}

func (p peerReplica) lacking(ctx context.Context, imageID string, digests []string, _ []chunkstore.Digest) ([]string, error) {
	return p.t.peers.Missing(ctx, p.m.PeerAddr, peer.MissingRequest{Image: imageID, Digests: digests})
}

func (p peerReplica) put(ctx context.Context, imageID string, idx, total int, d chunkstore.Digest, data []byte) error {
	return p.t.peers.PutChunk(ctx, p.m.PeerAddr, peer.ChunkPut{Digest: d.String(), Image: imageID, Idx: idx, Total: total}, data)
}

func (p peerReplica) name() string { return p.m.ID }

// localReplica is this node as a fill's target.
type localReplica struct{ t *Transfer }

func (l localReplica) lacking(ctx context.Context, imageID string, digests []string, ds []chunkstore.Digest) ([]string, error) {
	return l.t.Lacking(ctx, imageID, digests, ds)
}

// put stores the chunk unless the source already did (FetchChunk keeps
// what it fetches unless NoCache).
func (l localReplica) put(ctx context.Context, _ string, idx, _ int, d chunkstore.Digest, data []byte) error {
	if ok, err := l.t.chunks.Has(ctx, d); err == nil && ok {
		return nil
	}
	if err := l.t.chunks.Put(ctx, d, data); err != nil {
		return fmt.Errorf("store chunk %d: %w", idx, storeErr(err))
	}
	return nil
}

func (l localReplica) name() string { return l.t.self() }

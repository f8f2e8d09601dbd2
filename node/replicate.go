package node

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/gossip"
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
// bytes verified, in a pooled buffer the caller puts back.
type chunkSource func(ctx context.Context, idx int, d chunkstore.Digest) (*buffer, []byte, error)

// fillReplica makes t hold a durable copy of every chunk of man, sending
// what it lacks from src, window chunks at a time.
func (n *Node) fillReplica(ctx context.Context, t replicaTarget, imageID string, man *catalog.Manifest, src chunkSource, window int) error {
	digests, index := uniqueChunks(man)
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
		missing, err := t.lacking(ctx, imageID, digests, ds)
		if err != nil {
			return err
		}
		if len(missing) == 0 {
			return nil
		}
		for _, s := range missing {
			if _, ok := parsed[s]; !ok {
				return fmt.Errorf("node %s reported an unknown chunk %q", t.name(), s)
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
				defer n.bufs.put(buf)
				return t.put(gctx, imageID, idx, len(man.Chunks), d, data)
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	return fmt.Errorf("node %s still lacks chunks of %s after %d rounds", t.name(), imageID, fillRounds)
}

// uniqueChunks maps each distinct digest of man to its first index.
func uniqueChunks(man *catalog.Manifest) ([]string, map[string]int) {
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
func (n *Node) localSource() chunkSource {
	return func(ctx context.Context, _ int, d chunkstore.Digest) (*buffer, []byte, error) {
		buf := n.bufs.get()
		data, err := n.chunks.Get(ctx, d, buf.b)
		if err != nil {
			n.bufs.put(buf)
			return nil, nil, fmt.Errorf("read local chunk for replica: %w", err)
		}
		return buf, data, nil
	}
}

// holderSource reads the chunks of img locally or from its holders,
// verified (fetchChunk).
func (n *Node) holderSource(img *catalog.Image) chunkSource {
	return func(ctx context.Context, idx int, _ chunkstore.Digest) (*buffer, []byte, error) {
		return n.fetchChunk(ctx, img, idx)
	}
}

// peerReplica is another node as a fill's target.
type peerReplica struct {
	n *Node
	m gossip.Member
}

func (p peerReplica) lacking(ctx context.Context, imageID string, digests []string, _ []chunkstore.Digest) ([]string, error) {
	return p.n.peerClient.Missing(ctx, p.m.Meta.PeerAddr, peer.MissingRequest{Image: imageID, Digests: digests})
}

func (p peerReplica) put(ctx context.Context, imageID string, idx, total int, d chunkstore.Digest, data []byte) error {
	return p.n.peerClient.PutChunk(ctx, p.m.Meta.PeerAddr, peer.ChunkPut{Digest: d.String(), Image: imageID, Idx: idx, Total: total}, data)
}

func (p peerReplica) name() string { return p.m.Meta.ID }

// localReplica is this node as a fill's target.
type localReplica struct{ n *Node }

func (l localReplica) lacking(ctx context.Context, imageID string, digests []string, ds []chunkstore.Digest) ([]string, error) {
	return l.n.lacking(ctx, imageID, digests, ds)
}

// put stores the chunk unless the source already did (fetchChunk keeps
// what it fetches unless NoCache).
func (l localReplica) put(ctx context.Context, _ string, idx, _ int, d chunkstore.Digest, data []byte) error {
	if ok, err := l.n.chunks.Has(ctx, d); err == nil && ok {
		return nil
	}
	if err := l.n.chunks.Put(ctx, d, data); err != nil {
		return fmt.Errorf("store chunk %d: %w", idx, err)
	}
	return nil
}

func (l localReplica) name() string { return l.n.id }

// lacking makes everything this node holds durable (fsync), protects the
// chunks ds (digests, parsed) for imageID (if set), and returns those it
// lacks: none means it holds a durable copy of every one.
func (n *Node) lacking(ctx context.Context, imageID string, digests []string, ds []chunkstore.Digest) ([]string, error) {
	if err := n.chunks.Sync(ctx); err != nil {
		return nil, fmt.Errorf("sync chunks: %w", err)
	}
	var missing []string
	for i, d := range ds {
		if imageID != "" {
			n.protect(imageID, d)
		}
		ok, err := n.chunks.Has(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("look up chunk: %w", err)
		}
		if !ok {
			missing = append(missing, digests[i])
		}
	}
	return missing, nil
}

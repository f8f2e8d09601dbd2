package tracker

import "time"

// Member is one node of the cluster as the tracker sees it (gossip's
// member list, adapted by node).
type Member struct {
	ID       string
	PeerAddr string // the node's peer API (host:port); "" if unknown
	Zone     string
	Rack     string
	Alive    bool
	RTT      time.Duration // latest probe round trip; 0 if unknown or self
	// Boot is the node's boot time (unix nanoseconds) from its gossip
	// metadata: a new value means it restarted (0: unknown).
	Boot int64
}

// Rendezvous (highest-random-weight) hashing: every node scores every
// image, and the k live nodes with the highest scores track it. Every
// node computes the same set from the same member list, with no
// coordination; a node that joins or leaves moves only the images whose
// top k it enters or leaves (about k/N of them).

// hashString is 64-bit FNV-1a.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix is splitmix64's finalizer: it spreads FNV's weak low bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// nodeHash is what score needs of a node id (computed once per view).
func nodeHash(id string) uint64 { return mix(hashString(id)) }

// imageHash is what score needs of an image id.
func imageHash(image string) uint64 { return hashString(image) }

// score is node's weight for image; ties are broken by node id.
func score(img, node uint64) uint64 { return mix(img ^ node) }

// candidate is a live node with its precomputed hash.
type candidate struct {
	m Member
	h uint64
}

// topK returns the k candidates with the highest score for image, best
// first (fewer when there are fewer candidates).
func topK(image string, cands []candidate, k int) []candidate {
	ih := imageHash(image)
	best := make([]candidate, 0, k+1)
	scores := make([]uint64, 0, k+1)
	for _, c := range cands {
		s := score(ih, c.h)
		// Insertion into the short sorted list.
		i := len(best)
		for i > 0 && (scores[i-1] < s || (scores[i-1] == s && best[i-1].m.ID > c.m.ID)) {
			i--
		}
		if i >= k {
			continue
		}
		best = append(best, candidate{})
		scores = append(scores, 0)
		copy(best[i+1:], best[i:])
		copy(scores[i+1:], scores[i:])
		best[i], scores[i] = c, s
		if len(best) > k {
			best, scores = best[:k], scores[:k]
		}
	}
	return best
}

// Trackers returns the ids of the k live members (with a peer address)
// that track image, best first: what every node computes from the same
// member list.
func Trackers(image string, members []Member, k int) []string {
	var cands []candidate
	for _, m := range members {
		if m.Alive && m.PeerAddr != "" {
			cands = append(cands, candidate{m: m, h: nodeHash(m.ID)})
		}
	}
	top := topK(image, cands, k)
	out := make([]string, len(top))
	for i, c := range top {
		out[i] = c.m.ID
	}
	return out
}

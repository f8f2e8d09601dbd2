package peer

// JoinRequest asks the cluster to add a node to the Raft configuration.
type JoinRequest struct {
	ID string `json:"id"`
	// RaftAddr is empty for a replica that restarted: it has no Raft
	// transport and only rejoins gossip.
	RaftAddr   string `json:"raft_addr"`
	GossipAddr string `json:"gossip_addr"`
}

// JoinResponse tells a joining node whom to gossip with, and whether it
// joined as a voter.
type JoinResponse struct {
	GossipAddrs []string `json:"gossip_addrs"`
	// Suffrage is Raft's name for the joining node's place ("Voter",
	// "Nonvoter"), or SuffrageReplica for an agent outside Raft, which
	// then gets the catalog from its peers.
	Suffrage string `json:"suffrage"`
	Hints
}

// SuffrageReplica in JoinResponse.Suffrage: the node is not in the Raft
// configuration; it pulls the committed log from its peers.
const SuffrageReplica = "Replica"

// CatchUp asks, with a forwarded write, for the committed entries the
// sender lacks up to its write (ApplyResponse.Entries): a replica then
// answers its client without waiting for the write to come down the
// tree of log polls.
type CatchUp struct {
	After uint64 // the sender's applied index
}

// The most a forwarded write's answer carries to catch its sender up.
const (
	MaxCatchUpEntries = 64
	MaxCatchUpBytes   = 256 << 10
)

// CodeNotLeader in ApplyResponse.Code: the node asked is not the leader
// (the command was not appended; the sender may propose it again).
const CodeNotLeader = "not_leader"

// ApplyResponse is the outcome of a forwarded command: the log index it
// committed at and the command's own result (Code and Msg as raftfsm's
// ErrorCode and error text), or CodeNotLeader.
type ApplyResponse struct {
	Index uint64 `json:"index"`
	Code  string `json:"code,omitempty"`
	Msg   string `json:"msg,omitempty"`
	// Leader is, with CodeNotLeader, the peer address of the node the
	// answering node believes leads ("" if none).
	Leader string `json:"leader,omitempty"`
	// Entries, when the sender asked to catch up (CatchUp), are the
	// committed commands after its applied index up to and including
	// Index, if the leader still keeps them and they are few
	// (MaxCatchUpEntries, MaxCatchUpBytes); otherwise none, and the
	// sender gets them from its upstream as usual.
	Entries []LogEntry `json:"entries,omitempty"`
}

// MissingRequest lists chunks (hex digests) that a node should hold
// durably for an image.
type MissingRequest struct {
	Image   string   `json:"image"`
	Digests []string `json:"digests"`
}

// missingResponse lists the chunks a node lacks.
type missingResponse struct {
	Missing []string `json:"missing"`
}

// replicateRequest asks a node to become a durable holder of an image;
// the answer repeats the image id.
type replicateRequest struct {
	ImageID string `json:"image_id"`
}

// Usage is how a node's chunk store is used.
type Usage struct {
	Chunks      int64 `json:"chunks"`
	Bytes       int64 `json:"bytes"`
	PinnedBytes int64 `json:"pinned_bytes"` // chunks held as durable copies
	CacheBytes  int64 `json:"cache_bytes"`  // everything else: evictable cache
	CacheBudget int64 `json:"cache_budget"` // 0: unlimited
	// ServedBytes counts the chunk bytes the node served to peers,
	// FetchedBytes those it fetched from peers, since it started (a
	// dashboard's bandwidth is their rate).
	ServedBytes  int64 `json:"served_bytes,omitempty"`
	FetchedBytes int64 `json:"fetched_bytes,omitempty"`
	// Ready is the node's /p2p/v1/ready answer; AppliedIndex the last
	// catalog entry it applied.
	Ready        bool   `json:"ready,omitempty"`
	AppliedIndex uint64 `json:"applied_index,omitempty"`
}

// Progress is one node's progress on a prefetch job (the fields of the
// Glance extension's per-node entry).
type Progress struct {
	ID          string `json:"id"`
	State       string `json:"state"` // pending, running, done, failed, cancelled
	BytesDone   int64  `json:"bytes_done"`
	BytesTotal  int64  `json:"bytes_total"`
	ChunksDone  int    `json:"chunks_done"`
	ChunksTotal int    `json:"chunks_total"`
	Error       string `json:"error,omitempty"`
}

// ChunkRequest is a GET of one chunk.
type ChunkRequest struct {
	// Digest is the chunk's hex BLAKE3 digest.
	Digest string
	// Image and Idx name the image and the chunk's index in it, for
	// origin protection and busy hints; Idx is -1 when the request
	// names no valid index.
	Image string
	Idx   int
	// From is the requester's id when it keeps what it fetches (others
	// may be sent to it); "" otherwise.
	From string
	// LastResort asks to be served even if the chunk was served before.
	LastResort bool
}

// Located reports whether the request names an image and a chunk index.
func (r ChunkRequest) Located() bool { return r.Image != "" && r.Idx >= 0 }

// ChunkPut is a PUT of one chunk pushed by an uploading (or replicating)
// node. Image, when set, protects the chunk from garbage collection while
// the upload runs; with Total > 0 the receiver also announces chunk Idx
// of Total.
type ChunkPut struct {
	Digest string
	Image  string
	Idx    int
	Total  int
}

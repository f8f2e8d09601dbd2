package catalog

import "time"

// Prefetch job states.
const (
	PrefetchRunning   = "running"
	PrefetchDone      = "done"
	PrefetchFailed    = "failed"
	PrefetchCancelled = "cancelled"
)

// PrefetchTarget selects the nodes a pre-seeding job fills: every node, or
// those matching all of zone, rack and labels that are set.
type PrefetchTarget struct {
	All    bool              `json:"all,omitempty"`
	Zone   string            `json:"zone,omitempty"`
	Rack   string            `json:"rack,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// PrefetchNode is one target node's progress in a job.
type PrefetchNode struct {
	ID          string `json:"id"`
	State       string `json:"state"` // pending, running, done, failed, cancelled
	BytesDone   int64  `json:"bytes_done"`
	BytesTotal  int64  `json:"bytes_total"`
	ChunksDone  int    `json:"chunks_done"`
	ChunksTotal int    `json:"chunks_total"`
	Error       string `json:"error,omitempty"`
}

// PrefetchJob is a pre-seeding job: put an image on a set of nodes.
type PrefetchJob struct {
	ID        string         `json:"id"`
	ImageID   string         `json:"image_id"`
	Target    PrefetchTarget `json:"target"`
	State     string         `json:"state"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
	Nodes     []PrefetchNode `json:"nodes"`
}

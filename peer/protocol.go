package peer

import "strings"

// Paths of the internal API. The chunk and prefetch paths take the
// digest or the job id as their last element.
const (
	PathApply     = "/internal/v1/apply"     // POST: a forwarded write (a raftfsm command) to the leader
	PathJoin      = "/internal/v1/join"      // POST: add a node to the cluster
	PathChunks    = "/internal/v1/chunks/"   // GET, PUT + digest: one chunk
	PathMissing   = "/internal/v1/missing"   // POST: which of these chunks do you lack (durably)?
	PathPrefetch  = "/internal/v1/prefetch/" // GET + job id: this node's progress on a prefetch job
	PathReplicate = "/internal/v1/replicate" // POST: become a durable holder of an image
	PathStats     = "/internal/v1/stats"     // GET: the node's store usage
	PathHoldings  = "/internal/v1/holdings"  // POST: a holder tells a tracker which chunks of its images it holds
	PathHolders   = "/internal/v1/holders"   // POST: ask a tracker who holds an image
)

// Headers of the protocol. Every header with headerPrefix is covered by
// the request signature (auth.go): they steer handlers.
const (
	headerPrefix = "X-P2pglance-"
	// HeaderBusy marks a 503 that means "every upload slot is taken" (or,
	// with HeaderOrigin, "served already").
	HeaderBusy = "X-P2pglance-Busy"
	// HeaderOrigin marks a 503 of origin protection: the durable holder
	// served the chunk already, take it from a cached copy.
	HeaderOrigin = "X-P2pglance-Origin"
	// HeaderTry lists, on a 503 (origin or busy), ids of nodes holding
	// copies of the chunk, comma-separated.
	HeaderTry = "X-P2pglance-Try"
	// HeaderLastResort on a chunk GET asks to be served even if the
	// chunk was served before.
	HeaderLastResort = "X-P2pglance-Last-Resort"
)

// Query parameters of the chunk routes.
const (
	queryImage = "image" // the image the chunk belongs to
	queryIdx   = "idx"   // the chunk's index in the image
	queryTotal = "total" // PUT: the image's chunk count (for the announcement)
	queryFrom  = "from"  // GET: the requester's id, when it keeps what it fetches
)

// queryCatchUp on a forwarded write: the sender's applied index; the
// answer may carry the entries from there up to the write's own
// (ApplyResponse.Entries).
const queryCatchUp = "catch_up_after"

// MaxTry bounds the nodes named in one busy or origin answer.
const MaxTry = 4

// Body caps of the JSON requests (a longer body is refused with 400).
const (
	MaxJoinBody      = 64 << 10
	MaxReplicateBody = 4 << 10
	// MaxMissingBody fits the digests of a 1 TiB image (262,144 chunks
	// of 4 MiB, about 70 bytes each as JSON) with room to spare.
	MaxMissingBody = 64 << 20
	// MaxApplyBody is as much of a forwarded command as is read.
	MaxApplyBody = 16 << 20
	// MaxHoldingsBody fits a batch of holdings with the bitmap of the
	// largest image (MaxChunks bits, 2 MiB, base64 in JSON) several
	// times over; senders split their batches far below it.
	MaxHoldingsBody = 16 << 20
	// MaxHoldersQueryBody is as much of a holders query as is read.
	MaxHoldersQueryBody = 4 << 10
)

// Limits of the holdings a tracker keeps and answers with.
const (
	// MaxImageIDLen is the longest image id, in bytes, a holder may
	// announce or a query name.
	MaxImageIDLen = 256
	// MaxChunks is the largest chunk count an announced image may have.
	MaxChunks = 1 << 24
	// MaxHolders bounds the holders of one answer (a query's Limit).
	MaxHolders = 1024
	// MaxHoldersBitmapBytes bounds the bitmap bytes of one answer: a
	// tracker stops adding holders of part of an image beyond it (holders
	// of every chunk cost no bitmap).
	MaxHoldersBitmapBytes = 4 << 20
)

// Body caps of the JSON answers the Client decodes (a longer answer is
// an error, whether or not the cluster secret signs it): a missing
// answer lists at most the digests asked about, so it has the request's
// cap; a holders answer is bounded by MaxHolders and
// MaxHoldersBitmapBytes; every other answer is small.
const (
	MaxAnswerBody        = 1 << 20
	MaxMissingAnswerBody = MaxMissingBody
	// MaxHoldersAnswerBody fits MaxHolders holders and
	// MaxHoldersBitmapBytes of bitmaps (base64 in JSON).
	MaxHoldersAnswerBody = 8 << 20
)

// joinTry renders the nodes of a busy or origin answer.
func joinTry(try []string) string { return strings.Join(try, ",") }

// parseTry reads the nodes of a busy or origin answer (at most MaxTry).
func parseTry(h string) []string {
	var out []string
	for _, id := range strings.Split(h, ",") {
		if id = strings.TrimSpace(id); id != "" && len(out) < MaxTry {
			out = append(out, id)
		}
	}
	return out
}

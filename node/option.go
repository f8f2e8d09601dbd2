package node

// Option is a hook New takes beside Config, for tests and benchmarks.
// Production passes none: Config holds every production setting. See
// "Test seams" in the package documentation.
type Option func(*options)

type options struct {
	net      Network
	inMemory bool
}

// WithNetwork carries the node's traffic with other nodes over nw
// instead of the host's network (node/nodetest.Network, whose links tests
// cut).
func WithNetwork(nw Network) Option { return func(o *options) { o.net = nw } }

// InMemory keeps the chunk store, the Raft log and Raft snapshots in
// memory, and makes up a node id unless Config.NodeID is set; DataDir is
// not used. Nothing survives the node, so it suits only tests and
// benchmarks, where it saves disk I/O.
func InMemory() Option { return func(o *options) { o.inMemory = true } }

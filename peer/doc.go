// Package peer is the nodes' internal protocol, spoken on the peer port:
// chunk transfer (GET and PUT of a chunk named by its BLAKE3 digest),
// the replica check (which listed chunks does a node lack, held durably),
// joins, writes forwarded to the Raft leader, repair copies, prefetch
// progress, store usage, and who holds which chunk (a holder's bitmaps
// sent to an image's trackers, a downloader's question to one of them:
// holdings.go).
//
// The package owns the whole wire: paths, query parameters and headers
// (protocol.go), the request and answer types and their body limits
// (types.go, decode.go), the routes ([Handler]) that call a [Server] with
// typed arguments and map its errors to statuses in one table
// (server.go), the typed [Client] every caller uses (client.go, with
// [BusyError], [ErrNotFound] and [StatusError] for refusals), and what
// the cluster secret protects of it ([SignTransport] and [Guard] give
// package clusterauth the content-addressed chunk routes and the signed
// headers: auth.go).
//
// Origin protection and busy answers: a node at its upload limit, or a
// durable holder that served a chunk already, answers a chunk GET with
// 503 and the nodes holding copies ([BusyError] with Try); a requester
// sets LastResort to be served regardless.
//
// # Dependencies
//
// peer imports only the standard library, gorilla/mux and clusterauth.
// It deals in strings, byte slices and readers — digests are hex strings
// the Server parses and checks, chunk data is read and written by the
// caller — so it must not import node, api, chunkstore or gossip: node
// implements Server and uses Client.
package peer

// Package clusterauth authenticates the traffic between the nodes of one
// p2pglance cluster with a secret they share.
//
// [Derive] turns the cluster secret into one independent key per use:
// the memberlist keyring (gossip is encrypted and authenticated with
// AES-GCM), the internal HTTP API, and the Raft stream handshake.
//
// Internal HTTP: [Transport] signs every request (HMAC-SHA256 over the
// method, path and query, sender, time, a random nonce, the SHA-256 of
// the body and the headers the protocol signs) and checks the MAC on
// every answer; [Verifier] refuses with 401, before any handler runs, a
// request that is unsigned, badly signed, outside the allowed clock skew
// or replayed, and MACs the answers it lets through. The package knows no
// route: a [Protocol], given by the protocol carried (package peer for
// the nodes' internal API), names the headers that are signed and the
// content-addressed bodies (a chunk named by its digest in the path and
// re-hashed by the receiver), whose requests and answers are not hashed
// again here.
//
// Streams (Raft): [ClientHandshake] and [ServerHandshake] run a mutual
// challenge-response at the start of a connection; a peer that does not
// know the key is refused before any byte reaches Raft. The handshake
// authenticates the connection, it does not encrypt it: TLS does that.
//
// Rotation: a node may hold the keys of two secrets, the current one and
// one being rotated out. [Transport] then signs each request with both,
// [Verifier] accepts a request signed with any key it holds and MACs the
// answer with that key, and the handshake settles on a key both sides
// hold; so while the secret changes node by node, any two nodes that
// share a key talk. With one key, the wire is what it was before.
//
// # Dependencies
//
// clusterauth imports only the standard library. It must not import any
// other p2pglance package: node wires it into its HTTP client and server,
// memberlist and the Raft transport.
package clusterauth

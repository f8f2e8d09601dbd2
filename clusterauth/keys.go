package clusterauth

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// MinSecretLen is the length, in bytes, of the shortest cluster secret
// accepted.
const MinSecretLen = 16

// Keys are the keys derived from one cluster secret, one per use, so
// that no key serves two protocols.
type Keys struct {
	// Gossip is the memberlist keyring key (32 bytes: AES-256-GCM).
	Gossip []byte
	// Peer signs internal HTTP requests and their answers.
	Peer []byte
	// Raft keys the Raft stream handshake.
	Raft []byte
}

// keySalt fixes the derivation to this protocol and version.
const keySalt = "p2pglance cluster secret v1"

// Derive derives the cluster's keys from its secret with HKDF-SHA256,
// one label per use. The secret must be at least MinSecretLen bytes.
func Derive(secret []byte) (Keys, error) {
	if len(secret) < MinSecretLen {
		return Keys{}, fmt.Errorf("derive keys: cluster secret is %d bytes, want at least %d", len(secret), MinSecretLen)
	}
	var k Keys
	for _, d := range []struct {
		label string
		dst   *[]byte
	}{{"gossip", &k.Gossip}, {"peer-http", &k.Peer}, {"raft-stream", &k.Raft}} {
		key, err := hkdf.Key(sha256.New, secret, []byte(keySalt), d.label, 32)
		if err != nil {
			return Keys{}, fmt.Errorf("derive %s key: %w", d.label, err)
		}
		*d.dst = key
	}
	return k, nil
}

package clusterauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// The stream handshake, on a fresh connection, before anything else:
//
//	client -> server: magic (8 bytes) | client nonce (32)
//	server -> client: server nonce (32) | HMAC(key, "server" | nonces) (32)
//	client -> server: HMAC(key, "client" | nonces) (32)
//	server -> client: handshakeOK (1)
//
// Each side proves it holds the key over a nonce the other chose, so no
// answer can be replayed; the roles are in the MACs, so neither can be
// reflected back.
//
// While a secret is rotated a node holds two keys, and the two sides of
// a connection share at least one of them. The client nonce names the
// client's current key: its first half is random, its second half a tag
// of the first under that key (hintTag). The server proves with the key
// the tag names if it holds it, else with its own current key; the
// client checks the proof against each key it holds and proves with the
// one that matched. A nonce from a client that sends no tag (random
// through) names no key, so a single-key node's handshake is the same
// with and without the tag.
const handshakeMagic = "P2GRAFT1"

const (
	nonceLen    = 32
	hintLen     = nonceLen / 2
	macLen      = sha256.Size
	handshakeOK = 0x01
)

// ErrHandshake is a stream handshake refused or broken off.
var ErrHandshake = errors.New("stream handshake failed")

// ClientHandshake runs the dialing side of the handshake on conn within
// timeout. keys are the Raft keys (Keys.Raft) the node holds, the
// current one first. On error the caller must close conn.
func ClientHandshake(conn net.Conn, keys [][]byte, timeout time.Duration) error {
	if len(keys) == 0 {
		return fmt.Errorf("%w: no key", ErrHandshake)
	}
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	hello := make([]byte, len(handshakeMagic)+nonceLen)
	copy(hello, handshakeMagic)
	nc := hello[len(handshakeMagic):]
	if _, err := rand.Read(nc[:hintLen]); err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	copy(nc[hintLen:], hintTag(keys[0], nc[:hintLen]))
	if _, err := conn.Write(hello); err != nil {
		return fmt.Errorf("%w: send hello: %w", ErrHandshake, err)
	}
	reply := make([]byte, nonceLen+macLen)
	if _, err := io.ReadFull(conn, reply); err != nil {
		return fmt.Errorf("%w: read server proof (wrong cluster secret on either side?): %w", ErrHandshake, err)
	}
	ns, proof := reply[:nonceLen], reply[nonceLen:]
	var key []byte
	for _, k := range keys {
		if hmac.Equal(proof, handshakeMAC(k, "server", nc, ns)) {
			key = k
			break
		}
	}
	if key == nil {
		return fmt.Errorf("%w: server does not know the cluster secret", ErrHandshake)
	}
	if _, err := conn.Write(handshakeMAC(key, "client", nc, ns)); err != nil {
		return fmt.Errorf("%w: send proof: %w", ErrHandshake, err)
	}
	ok := make([]byte, 1)
	if _, err := io.ReadFull(conn, ok); err != nil || ok[0] != handshakeOK {
		return fmt.Errorf("%w: refused by server (wrong cluster secret?)", ErrHandshake)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	return nil
}

// ServerHandshake runs the accepting side of the handshake on conn
// within timeout. keys are the Raft keys the node holds, the current one
// first. On error the caller must close conn.
func ServerHandshake(conn net.Conn, keys [][]byte, timeout time.Duration) error {
	if len(keys) == 0 {
		return fmt.Errorf("%w: no key", ErrHandshake)
	}
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	hello := make([]byte, len(handshakeMagic)+nonceLen)
	if _, err := io.ReadFull(conn, hello); err != nil {
		return fmt.Errorf("%w: read hello: %w", ErrHandshake, err)
	}
	if string(hello[:len(handshakeMagic)]) != handshakeMagic {
		return fmt.Errorf("%w: not a p2pglance handshake", ErrHandshake)
	}
	nc := hello[len(handshakeMagic):]
	key := keys[0]
	for _, k := range keys {
		if hmac.Equal(nc[hintLen:], hintTag(k, nc[:hintLen])) {
			key = k
			break
		}
	}
	reply := make([]byte, nonceLen, nonceLen+macLen)
	if _, err := rand.Read(reply); err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	ns := reply[:nonceLen]
	reply = append(reply, handshakeMAC(key, "server", nc, ns)...)
	if _, err := conn.Write(reply); err != nil {
		return fmt.Errorf("%w: send proof: %w", ErrHandshake, err)
	}
	proof := make([]byte, macLen)
	if _, err := io.ReadFull(conn, proof); err != nil {
		return fmt.Errorf("%w: read client proof: %w", ErrHandshake, err)
	}
	if !hmac.Equal(proof, handshakeMAC(key, "client", nc, ns)) {
		return fmt.Errorf("%w: client does not know the cluster secret", ErrHandshake)
	}
	if _, err := conn.Write([]byte{handshakeOK}); err != nil {
		return fmt.Errorf("%w: send ok: %w", ErrHandshake, err)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	return nil
}

// hintTag is the second half of a client nonce whose first half is r:
// it names key to a server that holds it and to no one else.
func hintTag(key, r []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(handshakeMagic))
	m.Write([]byte("key hint"))
	m.Write(r)
	return m.Sum(nil)[:hintLen]
}

func handshakeMAC(key []byte, role string, nc, ns []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(handshakeMagic))
	m.Write([]byte(role))
	m.Write(nc)
	m.Write(ns)
	return m.Sum(nil)
}

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
const handshakeMagic = "P2GRAFT1"

const (
	nonceLen    = 32
	macLen      = sha256.Size
	handshakeOK = 0x01
)

// ErrHandshake is a stream handshake refused or broken off.
var ErrHandshake = errors.New("stream handshake failed")

// ClientHandshake runs the dialing side of the handshake on conn within
// timeout. On error the caller must close conn.
func ClientHandshake(conn net.Conn, key []byte, timeout time.Duration) error {
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	hello := make([]byte, len(handshakeMagic)+nonceLen)
	copy(hello, handshakeMagic)
	nc := hello[len(handshakeMagic):]
	if _, err := rand.Read(nc); err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if _, err := conn.Write(hello); err != nil {
		return fmt.Errorf("%w: send hello: %w", ErrHandshake, err)
	}
	reply := make([]byte, nonceLen+macLen)
	if _, err := io.ReadFull(conn, reply); err != nil {
		return fmt.Errorf("%w: read server proof (wrong cluster secret on either side?): %w", ErrHandshake, err)
	}
	ns, proof := reply[:nonceLen], reply[nonceLen:]
	if !hmac.Equal(proof, handshakeMAC(key, "server", nc, ns)) {
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
// within timeout. On error the caller must close conn.
func ServerHandshake(conn net.Conn, key []byte, timeout time.Duration) error {
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

func handshakeMAC(key []byte, role string, nc, ns []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(handshakeMagic))
	m.Write([]byte(role))
	m.Write(nc)
	m.Write(ns)
	return m.Sum(nil)
}

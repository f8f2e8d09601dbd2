package peer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
)

// decodeJSON decodes one JSON value of at most limit bytes from r into
// v: a longer body, or anything after the value, is refused.
func decodeJSON(r io.Reader, limit int64, v any) error {
	dec := json.NewDecoder(io.LimitReader(r, limit+1))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the JSON value (or over %d bytes)", ErrBadRequest, limit)
	}
	return nil
}

// validHostPort accepts host:port with a port from 1 to 65535.
func validHostPort(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || len(addr) > 512 {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && p > 0 && p <= 65535
}

// DecodeJoin decodes and checks the body of a join as the handler does:
// at most MaxJoinBody bytes of one JSON value, a Raft address that can
// be dialled (Raft would otherwise take any string as a voter's address
// and lose quorum dialling it) and, if set, a gossip address that can.
// The node id is the Server's to check.
func DecodeJoin(r io.Reader) (JoinRequest, error) {
	var req JoinRequest
	if err := decodeJSON(r, MaxJoinBody, &req); err != nil {
		return req, err
	}
	switch {
	case req.RaftAddr != "" && !validHostPort(req.RaftAddr):
		// A replica that restarted has no Raft address: it rejoins gossip.
		return req, fmt.Errorf("%w: raft address %q", ErrBadRequest, req.RaftAddr)
	case req.GossipAddr != "" && !validHostPort(req.GossipAddr):
		return req, fmt.Errorf("%w: gossip address %q", ErrBadRequest, req.GossipAddr)
	}
	return req, nil
}

// DecodeMissing decodes the body of a missing request as the handler
// does (at most MaxMissingBody bytes); the image id and the digests are
// the Server's to check.
func DecodeMissing(r io.Reader) (MissingRequest, error) {
	var req MissingRequest
	err := decodeJSON(r, MaxMissingBody, &req)
	return req, err
}

// DecodeReplicate decodes the body of a replicate request as the
// handler does (at most MaxReplicateBody bytes) and returns the image
// id, which is the Server's to check.
func DecodeReplicate(r io.Reader) (string, error) {
	var req replicateRequest
	err := decodeJSON(r, MaxReplicateBody, &req)
	return req.ImageID, err
}

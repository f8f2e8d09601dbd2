package raftfsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// CommandType is the first byte of every log entry this FSM applies.
type CommandType byte

// IgnoreUnknownFlag marks a command type that an older FSM which does not
// know it may skip instead of panicking (for rolling upgrades).
const IgnoreUnknownFlag CommandType = 0x80

// Command types.
const (
	CmdCreateImage CommandType = 1
	CmdUpdateImage CommandType = 2
	CmdDeleteImage CommandType = 3
	CmdNoop        CommandType = 4 | IgnoreUnknownFlag
)

// CreateImage adds a new image. It fails with ErrExists if the id is, or
// was ever, in use.
type CreateImage struct {
	Image *catalog.Image `json:"image"`
}

// UpdateImage replaces an image's record with Image, provided its current
// revision equals ExpectRevision; otherwise it fails with ErrConflict.
type UpdateImage struct {
	Image          *catalog.Image `json:"image"`
	ExpectRevision uint64         `json:"expect_revision"`
}

// DeleteImage removes an image and leaves a tombstone. ExpectRevision 0
// deletes whatever the current revision is.
type DeleteImage struct {
	ID             string    `json:"id"`
	ExpectRevision uint64    `json:"expect_revision,omitempty"`
	DeletedAt      time.Time `json:"deleted_at"`
}

// Encode returns the log entry for a command value (one of the command
// structs above, or nil for CmdNoop).
func Encode(cmd any) ([]byte, error) {
	var t CommandType
	switch cmd.(type) {
	case *CreateImage:
		t = CmdCreateImage
	case *UpdateImage:
		t = CmdUpdateImage
	case *DeleteImage:
		t = CmdDeleteImage
	case *PutMember:
		t = CmdPutMember
	case *DeleteMember:
		t = CmdDeleteMember
	case *PutDoc:
		t = CmdPutDoc
	case *DeleteDoc:
		t = CmdDeleteDoc
	case *Checkpoint:
		t = CmdCheckpoint
	case *CheckpointDigest:
		t = CmdCheckpointDigest
	case *TrimOutbox:
		t = CmdTrimOutbox
	case nil:
		return []byte{byte(CmdNoop)}, nil
	default:
		return nil, fmt.Errorf("encode command %T: %w", cmd, ErrBadCommand)
	}
	body, err := json.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	return append([]byte{byte(t)}, body...), nil
}

// Result is what Apply returns for every command: the index it was
// applied at, the image as it now is (nil after delete), and the domain
// error if the command was refused.
type Result struct {
	Index  uint64
	Image  *catalog.Image
	Member *catalog.Member
	Doc    *catalog.Doc
	Err    error

	id      string         // the image (or document) the command touched
	prev    *catalog.Image // the image before the command
	docKind string         // set when the command touched a document
	// checkpoint is set by a Checkpoint command, certify by a
	// CheckpointDigest (checkpoint.go).
	checkpoint bool
	certify    *CheckpointDigest
}

// errorCodes names sentinel errors so a refused command's outcome can
// cross the wire when a write is forwarded to the leader.
var errorCodes = map[string]error{
	"not_found":   catalog.ErrNotFound,
	"exists":      catalog.ErrExists,
	"conflict":    catalog.ErrConflict,
	"bad_command": ErrBadCommand,
}

// ErrorCode returns the wire name of a domain error ("" for nil).
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	for code, e := range errorCodes {
		if errors.Is(err, e) {
			return code
		}
	}
	return "internal"
}

// CodeError maps a wire name back to its sentinel error.
func CodeError(code, msg string) error {
	if code == "" {
		return nil
	}
	if e, ok := errorCodes[code]; ok {
		return fmt.Errorf("%s: %w", msg, e)
	}
	return errors.New(msg)
}

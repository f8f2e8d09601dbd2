package raftfsm

import (
	"encoding/json"
	"errors"
	"fmt"
)

// applier decodes and applies commands to a State. It holds no state of
// its own, so tests can replay a log against a State without Raft.
type applier struct{}

// skipped is the decoded form of a command this FSM does not know but
// may skip (its type has IgnoreUnknownFlag), and of CmdNoop.
type skipped struct{}

// decode parses one log entry into a pointer to its command struct (or
// skipped). It is the only decoder of log entries: apply panics on what
// it refuses, Validate reports it.
func decode(data []byte) (any, error) {
	if len(data) == 0 {
		return nil, errors.New("empty log entry")
	}
	t := CommandType(data[0])
	var cmd any
	switch t {
	case CmdNoop:
		return skipped{}, nil
	case CmdCreateImage:
		cmd = &CreateImage{}
	case CmdUpdateImage:
		cmd = &UpdateImage{}
	case CmdDeleteImage:
		cmd = &DeleteImage{}
	case CmdPutMember:
		cmd = &PutMember{}
	case CmdDeleteMember:
		cmd = &DeleteMember{}
	case CmdPutDoc:
		cmd = &PutDoc{}
	case CmdDeleteDoc:
		cmd = &DeleteDoc{}
	case CmdCheckpoint:
		cmd = &Checkpoint{}
	case CmdCheckpointDigest:
		cmd = &CheckpointDigest{}
	case CmdTrimOutbox:
		cmd = &TrimOutbox{}
	default:
		if t&IgnoreUnknownFlag != 0 {
			return skipped{}, nil
		}
		return nil, fmt.Errorf("unknown command type %d", t)
	}
	if err := json.Unmarshal(data[1:], cmd); err != nil {
		return nil, fmt.Errorf("command type %d: %w", t, err)
	}
	return cmd, nil
}

// Validate reports whether data is a log entry this FSM can apply (or may
// skip): a known command type with a body that decodes. Whoever proposes
// bytes it did not encode itself (a leader serving forwarded writes) must
// check them first: a committed entry that does not decode stops every
// replica. The error wraps ErrBadCommand.
func Validate(data []byte) error {
	if _, err := decode(data); err != nil {
		return fmt.Errorf("validate log entry: %w: %w", ErrBadCommand, err)
	}
	return nil
}

// apply runs one log entry against st at log index idx. A committed entry
// that cannot be decoded is a bug and panics; a domain refusal is returned
// in the Result.
func (a applier) apply(st *State, idx uint64, data []byte) *Result {
	cmd, err := decode(data)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: undecodable log entry at index %d: ", idx) + err.Error())
	}
	return a.applyDecoded(st, idx, cmd)
}

// applyDecoded runs one decoded command against st at log index idx, and
// records its events in the outbox when that is on (outbox.go).
func (a applier) applyDecoded(st *State, idx uint64, cmd any) *Result {
	before := st.version()
	res := a.applyCmd(st, idx, cmd)
	if res.Err == nil && before.notificationsOn() {
		st.recordEvents(idx, eventsOf(before, cmd, res))
	}
	return res
}

// applyCmd runs one decoded command (decode's answer) against st at log
// index idx.
func (applier) applyCmd(st *State, idx uint64, cmd any) *Result {
	switch c := cmd.(type) {
	case *CreateImage:
		img, err := st.createImage(idx, c.Image)
		return &Result{Index: idx, Image: img, Err: err, id: idOrEmpty(img)}
	case *UpdateImage:
		prev, img, err := st.updateImage(idx, c.Image, c.ExpectRevision)
		return &Result{Index: idx, Image: img, Err: err, id: idOrEmpty(img), prev: prev}
	case *DeleteImage:
		prev, err := st.deleteImage(idx, c.ID, c.ExpectRevision, c.DeletedAt)
		return &Result{Index: idx, Err: err, id: idOrEmpty(prev), prev: prev}
	case *PutMember:
		m, err := st.putMember(idx, c)
		return &Result{Index: idx, Member: m, Err: err}
	case *DeleteMember:
		return &Result{Index: idx, Err: st.deleteMember(c)}
	case *PutDoc:
		d, err := st.putDoc(idx, c)
		res := &Result{Index: idx, Doc: d, Err: err}
		if c.Doc != nil {
			res.docKind, res.id = c.Doc.Kind, c.Doc.ID
		}
		return res
	case *DeleteDoc:
		return &Result{Index: idx, Err: st.deleteDoc(c), docKind: c.Kind, id: c.ID}
	case *Checkpoint:
		return &Result{Index: idx, checkpoint: true}
	case *CheckpointDigest:
		return &Result{Index: idx, certify: c}
	case *TrimOutbox:
		st.trimOutbox(c)
		return &Result{Index: idx}
	}
	return &Result{Index: idx} // skipped
}

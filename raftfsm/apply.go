package raftfsm

import (
	"encoding/json"
	"fmt"
)

// applier decodes and applies commands to a State. It holds no state of
// its own, so tests can replay a log against a State without Raft.
type applier struct{}

// apply runs one log entry against st at log index idx. A committed entry
// that cannot be decoded is a bug and panics; a domain refusal is returned
// in the Result.
func (applier) apply(st *State, idx uint64, data []byte) *Result {
	if len(data) == 0 {
		panic(fmt.Sprintf("raftfsm: empty log entry at index %d", idx))
	}
	t := CommandType(data[0])
	body := data[1:]
	switch t {
	case CmdNoop:
		return &Result{Index: idx}
	case CmdCreateImage:
		var c CreateImage
		mustDecode(idx, body, &c)
		img, err := st.createImage(idx, c.Image)
		return &Result{Index: idx, Image: img, Err: err, id: img.idOrEmpty()}
	case CmdUpdateImage:
		var c UpdateImage
		mustDecode(idx, body, &c)
		prev, img, err := st.updateImage(idx, c.Image, c.ExpectRevision)
		return &Result{Index: idx, Image: img, Err: err, id: img.idOrEmpty(), prev: prev}
	case CmdDeleteImage:
		var c DeleteImage
		mustDecode(idx, body, &c)
		prev, err := st.deleteImage(idx, c.ID, c.ExpectRevision, c.DeletedAt)
		return &Result{Index: idx, Err: err, id: prev.idOrEmpty(), prev: prev}
	case CmdPutMember:
		var c PutMember
		mustDecode(idx, body, &c)
		m, err := st.putMember(idx, &c)
		return &Result{Index: idx, Member: m, Err: err}
	case CmdDeleteMember:
		var c DeleteMember
		mustDecode(idx, body, &c)
		return &Result{Index: idx, Err: st.deleteMember(&c)}
	case CmdPutDoc:
		var c PutDoc
		mustDecode(idx, body, &c)
		d, err := st.putDoc(idx, &c)
		res := &Result{Index: idx, Doc: d, Err: err}
		if c.Doc != nil {
			res.docKind, res.id = c.Doc.Kind, c.Doc.ID
		}
		return res
	case CmdDeleteDoc:
		var c DeleteDoc
		mustDecode(idx, body, &c)
		return &Result{Index: idx, Err: st.deleteDoc(&c), docKind: c.Kind, id: c.ID}
	default:
		if t&IgnoreUnknownFlag != 0 {
			return &Result{Index: idx}
		}
		panic(fmt.Sprintf("raftfsm: unknown command type %d at index %d", t, idx))
	}
}

func mustDecode(idx uint64, body []byte, v any) {
	if err := json.Unmarshal(body, v); err != nil {
		panic(fmt.Sprintf("raftfsm: undecodable command at index %d: ", idx) + err.Error())
	}
}

package testcluster_test

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// This file is the sequential specification of the image catalog that the
// linearizability and soak tests check histories against with porcupine.
//
// The model is restricted to what those tests do with an image: its
// existence and one "token", a custom property named t_<token> that every
// write replaces. Tokens are unique per write, so a read names the write
// it observed. Per image id the catalog goes through
//
//	absent -> live(token) -> live(token') -> ... -> deleted (forever)
//
// since Glance (and p2pglance) never reuse a deleted image's id.
//
// Operations and what each answer means:
//
//   - create(id, tok): POST /v2/images with that id and property t_tok.
//     201: the image did not exist and now holds tok. 409: the id is live
//     or was deleted.
//   - cas(id, old, new): PATCH [remove /t_old, add /t_new]. Removing a
//     property the image lacks is Glance's 409 "Property ... does not
//     exist", so this is a compare-and-set on the token. 200: it held old
//     and now holds new. 409 "does not exist": it is live with another
//     token. 409 "changed by another request": the revision moved between
//     the node's read and its write, nothing changed. 404: not live.
//   - delete(id): DELETE. 204: it was live and is now deleted. 404: not
//     live. 409 "changed by another request": nothing changed.
//   - get(id) with X-P2pglance-Consistency: linearizable: 200 with the
//     current token, or 404 when not live.
//   - read(id): a plain GET, served from the node's local replica. It may
//     be stale, so it is not checked as linearizable; see below.
//
// A write whose outcome the client cannot know (503, a timeout, a cut
// connection, a 500) is given the result "unknown" and a return time
// after every other operation: it may take effect at any point after it
// was sent, or never.
//
// Plain reads. Each node applies the Raft log in order, so a node's
// replica is always a prefix of the log, and that prefix only grows
// while the node runs. The model keeps every key's whole sequence of
// versions (each write's token; a delete is "~" and its own token) and,
// per node incarnation (a node between two restarts), how many of those
// versions the node is known to have applied. A plain 200 must name a
// version already written and no older than that count, and raises the
// count to its own version: it is placed at the moment the node read its
// replica. A plain 404 comes after a read barrier (the API syncs on a
// local miss) and is checked as linearizable.
//
// What a node acknowledged raises its count too, but only from the
// moment it answered, not from the operation's linearization point (the
// leader commits a write before the node that took it has applied it):
// each acknowledged write and each linearizable 200 is followed in the
// history by an "ack" pseudo-operation at its return time that names the
// version the node had then applied (ackFor). So a plain read on a node
// never goes back in time and always shows the writes that node
// acknowledged. Across a restart the count starts from zero: a restarted
// node rebuilds its replica from its snapshot and log and may briefly
// serve an older state than before it stopped. Monotonicity is checked
// per image, not across images.

// catKind is an operation of the model.
type catKind uint8

const (
	opCreate catKind = iota
	opCAS
	opDelete
	opGet  // linearizable read
	opRead // plain (possibly stale) read
	opAck  // pseudo-operation: node Inc has applied version Tok
)

func (k catKind) String() string {
	return [...]string{"create", "cas", "delete", "get", "read", "ack"}[k]
}

// catResult is what an answer means for the model.
type catResult uint8

const (
	resOK       catResult = iota // 201, 200, 204
	resNotFound                  // 404
	resExists                    // create: 409 already exists
	resPrecond                   // cas: 409 property does not exist
	resConflict                  // cas, delete: 409 changed by another request
	resUnknown                   // no answer, 503, 500: may or may not have happened
)

func (r catResult) String() string {
	return [...]string{"ok", "404", "exists", "precondition", "conflict", "unknown"}[r]
}

// catInput is one operation as sent.
type catInput struct {
	Kind catKind
	Key  string // image id
	Tok  string // create, cas, delete: the new version; ack: the version applied
	Old  string // cas: the expected token
	Inc  string // the node incarnation that answered ("" when unsure)
}

// catOutput is the answer.
type catOutput struct {
	Res catResult
	Tok string // get, read (resOK): the token seen
}

// keyState is the model's state of one image id.
type keyState struct {
	vers   []string       // every version in order: a token, or "~"+token for the delete
	floors map[string]int // incarnation -> versions it is known to have applied
}

func (s keyState) live() bool {
	return len(s.vers) > 0 && !strings.HasPrefix(s.vers[len(s.vers)-1], "~")
}
func (s keyState) absent() bool { return len(s.vers) == 0 }
func (s keyState) cur() string {
	if len(s.vers) == 0 {
		return ""
	}
	return s.vers[len(s.vers)-1]
}

// with returns a copy of s with version v appended (when add) and inc's
// count raised to at least n.
func (s keyState) with(add bool, v, inc string, n int) keyState {
	out := keyState{vers: s.vers, floors: s.floors}
	if add {
		out.vers = append(slices.Clip(s.vers), v)
	}
	if inc != "" && out.floors[inc] < n {
		out.floors = maps.Clone(s.floors)
		if out.floors == nil {
			out.floors = map[string]int{}
		}
		out.floors[inc] = n
	}
	return out
}

// catalogStep is the sequential specification of one image id.
func catalogStep(st keyState, in catInput, out catOutput) (bool, keyState) {
	switch in.Kind {
	case opCreate:
		switch out.Res {
		case resOK:
			return st.absent(), st.with(true, in.Tok, "", 0)
		case resExists:
			return !st.absent(), st
		case resUnknown:
			if st.absent() {
				return true, st.with(true, in.Tok, "", 0)
			}
			return true, st
		}
	case opCAS:
		match := st.live() && st.cur() == in.Old
		switch out.Res {
		case resOK:
			return match, st.with(true, in.Tok, "", 0)
		case resNotFound:
			return !st.live(), st
		case resPrecond:
			return st.live() && !match, st
		case resConflict:
			return true, st
		case resUnknown:
			if match {
				return true, st.with(true, in.Tok, "", 0)
			}
			return true, st
		}
	case opDelete:
		switch out.Res {
		case resOK:
			return st.live(), st.with(true, "~"+in.Tok, "", 0)
		case resNotFound:
			return !st.live(), st
		case resConflict:
			return true, st
		case resUnknown:
			if st.live() {
				return true, st.with(true, "~"+in.Tok, "", 0)
			}
			return true, st
		}
	case opGet:
		switch out.Res {
		case resOK:
			return st.live() && st.cur() == out.Tok, st
		case resNotFound:
			return !st.live(), st
		}
	case opRead:
		switch out.Res {
		case resOK:
			p := slices.Index(st.vers, out.Tok)
			if p < 0 || strings.HasPrefix(out.Tok, "~") || p+1 < st.floors[in.Inc] {
				return false, st
			}
			return true, st.with(false, "", in.Inc, p+1)
		case resNotFound:
			return !st.live(), st
		}
	case opAck:
		p := slices.Index(st.vers, in.Tok)
		return p >= 0, st.with(false, "", in.Inc, p+1)
	}
	return false, st
}

// ackFor returns the ack pseudo-operation that follows op in a history,
// if op shows that its node had applied a version when it answered: an
// acknowledged write, or a linearizable 200, from a known incarnation.
func ackFor(op porcupine.Operation) (porcupine.Operation, bool) {
	in, out := op.Input.(catInput), op.Output.(catOutput)
	if in.Inc == "" || out.Res != resOK {
		return porcupine.Operation{}, false
	}
	ack := catInput{Kind: opAck, Key: in.Key, Inc: in.Inc}
	switch in.Kind {
	case opCreate, opCAS:
		ack.Tok = in.Tok
	case opDelete:
		ack.Tok = "~" + in.Tok
	case opGet:
		ack.Tok = out.Tok
	default:
		return porcupine.Operation{}, false
	}
	return porcupine.Operation{ClientId: op.ClientId, Input: ack, Output: catOutput{Res: resOK}, Call: op.Return, Return: op.Return}, true
}

// catalogModel is the porcupine model, partitioned by image id.
var catalogModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(catInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return keyState{} },
	Step: func(state, input, output any) (bool, any) {
		return catalogStep(state.(keyState), input.(catInput), output.(catOutput))
	},
	Equal: func(a, b any) bool {
		x, y := a.(keyState), b.(keyState)
		if !slices.Equal(x.vers, y.vers) || len(x.floors) != len(y.floors) {
			return false
		}
		for k, v := range x.floors {
			if w, ok := y.floors[k]; !ok || w != v {
				return false
			}
		}
		return true
	},
	Hash: func(state any) uint64 {
		s := state.(keyState)
		h := fnv.New64a()
		for _, v := range s.vers {
			h.Write([]byte(v))
			h.Write([]byte{0})
		}
		var sum uint64
		for k, v := range s.floors { // order-independent
			f := fnv.New64a()
			fmt.Fprintf(f, "%s=%d", k, v)
			sum += f.Sum64()
		}
		return h.Sum64() ^ sum
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(catInput), output.(catOutput)
		var b strings.Builder
		fmt.Fprintf(&b, "%s", in.Kind)
		switch in.Kind {
		case opCreate:
			fmt.Fprintf(&b, "(%s)", in.Tok)
		case opCAS:
			fmt.Fprintf(&b, "(%s->%s)", in.Old, in.Tok)
		case opDelete, opAck:
			fmt.Fprintf(&b, "(%s)", in.Tok)
		}
		if in.Inc != "" {
			fmt.Fprintf(&b, "@%s", in.Inc)
		}
		fmt.Fprintf(&b, " -> %s", out.Res)
		if out.Tok != "" {
			fmt.Fprintf(&b, " %s", out.Tok)
		}
		return b.String()
	},
	DescribeState: func(state any) string {
		s := state.(keyState)
		vers := make([]string, len(s.vers))
		for i, v := range s.vers {
			vers[i] = v
		}
		return fmt.Sprintf("%s %v", strings.Join(vers, ","), s.floors)
	},
}

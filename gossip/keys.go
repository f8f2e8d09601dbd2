package gossip

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/hashicorp/memberlist"
)

// wireMeta is Meta as it travels: with the ids of the gossip keys the
// node holds (keyID), which members that rotate their key look at.
type wireMeta struct {
	Meta
	Keys []string `json:"keys,omitempty"`
}

// keyID names a gossip key in node metadata without revealing it.
func keyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("p2pglance gossip key id"))
	return hex.EncodeToString(m.Sum(nil)[:6])
}

// rotation chooses the key gossip is sent under while a node holds two:
// the current one and one being rotated out. memberlist sends everything
// under one key (the keyring's primary) and accepts any it holds. A
// member that has not been given the current key yet understands only
// the previous one, so the node sends under the previous key until every
// other member announces (in its metadata) that it holds the current
// one; then, and for as long as that stays true, under the current key.
// Members that failed or left count, by what they announced last, until
// they are forgotten: a node that knows only the previous key and is
// restarting, or cut off for a while, is still spoken to in a key it
// knows when it is back. A node that holds only the current key sends under it,
// and every member that holds both switches to it once such a node is
// the only kind left, so a rolling restart onto the new secret, then
// one without the old, keeps gossip flowing both ways throughout.
type rotation struct {
	keyring           *memberlist.Keyring
	current, previous []byte
	currentID         string
	usingCurrent      atomic.Bool
	log               *slog.Logger
}

// newRotation builds the keyring for current and previous (nil: none),
// primary previous while it is set.
func newRotation(current, previous []byte, log *slog.Logger) (*rotation, *memberlist.Keyring, error) {
	primary := current
	var others [][]byte
	if len(previous) > 0 {
		primary, others = previous, [][]byte{current}
	}
	kr, err := memberlist.NewKeyring(others, primary)
	if err != nil {
		return nil, nil, err
	}
	if len(previous) == 0 {
		return nil, kr, nil
	}
	return &rotation{keyring: kr, current: current, previous: previous, currentID: keyID(current), log: log}, kr, nil
}

// keyIDs are the ids a node with current and previous announces.
func keyIDs(current, previous []byte) []string {
	var ids []string
	for _, k := range [][]byte{current, previous} {
		if len(k) > 0 {
			ids = append(ids, keyID(k))
		}
	}
	return ids
}

// use sends gossip under the current key (or the previous one).
func (r *rotation) use(current bool) {
	if r.usingCurrent.Load() == current {
		return
	}
	key, name := r.previous, "previous"
	if current {
		key, name = r.current, "current"
	}
	if err := r.keyring.UseKey(key); err != nil {
		r.log.Error("switch gossip key", "err", err)
		return
	}
	r.usingCurrent.Store(current)
	r.log.Info("gossip is now sent under the " + name + " cluster secret's key")
}

// settleKey chooses the key gossip is sent under from what the members
// announce (see rotation); a node alone keeps its choice.
func (g *Gossip) settleKey() {
	r := g.rot
	if r == nil {
		return
	}
	g.mu.Lock()
	g.reapLocked()
	others, all := 0, true
	for id, mi := range g.members {
		if id == g.self {
			continue
		}
		others++
		all = all && slices.Contains(mi.keys, r.currentID)
	}
	g.mu.Unlock()
	if others > 0 {
		r.use(all)
	}
}

// tryKeys runs join, which reports whether it reached anyone, under the
// key gossip is sent under and, if that reached no one while a key is
// being rotated, under the other key: a member may hold only that one.
// The key that reached someone is kept.
func (g *Gossip) tryKeys(join func() bool) {
	if join() || g.rot == nil {
		return
	}
	was := g.rot.usingCurrent.Load()
	g.rot.use(!was)
	if !join() {
		g.rot.use(was)
	}
}

// decodeMeta decodes a member's metadata (best effort: a bad peer still
// gets listed) and the ids of the keys it holds.
func decodeMeta(b []byte) (Meta, []string) {
	var w wireMeta
	if len(b) > 0 {
		_ = json.Unmarshal(b, &w)
	}
	return w.Meta, w.Keys
}

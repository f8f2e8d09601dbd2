package node

import (
	"slices"
	"sync"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// imageIndex files the images of the local replica under keys a function
// of the image gives (none: not filed), so that the loops that look for a
// few images every few seconds visit those instead of decoding the whole
// catalog each time: a full pass costs in proportion to the catalog, and
// at 100k images several of them every few seconds were most of an idle
// agent, and up to a third of a core on the leader.
//
// The index follows every applied change (note, from the FSM's observer)
// and is rebuilt from a full pass whenever the catalog was replaced (a
// snapshot or checkpoint restored: no change is observed for it) or was
// never read.
type imageIndex struct {
	fsm  *raftfsm.FSM
	keys func(*catalog.Image) []string

	mu    sync.Mutex
	built *raftfsm.State                 // the catalog byKey follows; nil: not built
	byKey map[string]map[string]struct{} // key -> image ids
}

func newImageIndex(fsm *raftfsm.FSM, keys func(*catalog.Image) []string) *imageIndex {
	return &imageIndex{fsm: fsm, keys: keys}
}

// note records one applied change. It runs synchronously in the FSM's
// Apply, after the change is in the catalog.
func (x *imageIndex) note(c raftfsm.Change) {
	if c.DocKind != "" {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.built == nil || x.built != x.fsm.State() {
		return // the next read rebuilds from the catalog
	}
	if c.Prev != nil {
		for _, k := range x.keys(c.Prev) {
			if ids := x.byKey[k]; ids != nil {
				delete(ids, c.ID)
				if len(ids) == 0 {
					delete(x.byKey, k)
				}
			}
		}
	}
	if c.Image != nil {
		x.add(c.Image)
	}
}

func (x *imageIndex) add(img *catalog.Image) {
	for _, k := range x.keys(img) {
		ids := x.byKey[k]
		if ids == nil {
			ids = map[string]struct{}{}
			x.byKey[k] = ids
		}
		ids[img.ID] = struct{}{}
	}
}

// current returns the catalog and, with x.mu held, an index that
// follows it. Changes wait in Apply while the catalog is read: the index
// and the catalog stay in step.
func (x *imageIndex) current() *raftfsm.State {
	st := x.fsm.State()
	x.mu.Lock()
	if x.built != st {
		x.built, x.byKey = st, map[string]map[string]struct{}{}
		st.Each(func(img *catalog.Image) bool {
			x.add(img)
			return true
		})
	}
	return st
}

// keyList returns the keys some image is filed under now.
func (x *imageIndex) keyList() []string {
	x.current()
	defer x.mu.Unlock()
	out := make([]string, 0, len(x.byKey))
	for k := range x.byKey {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// each calls fn, in id order, for every image filed under key, as the
// catalog has it now, until fn returns false.
func (x *imageIndex) each(key string, fn func(*catalog.Image) bool) {
	st := x.current()
	list := make([]string, 0, len(x.byKey[key]))
	for id := range x.byKey[key] {
		list = append(list, id)
	}
	x.mu.Unlock()
	slices.Sort(list)
	for _, id := range list {
		img, err := st.Image(id)
		if err != nil || !slices.Contains(x.keys(img), key) {
			continue // changed since
		}
		if !fn(img) {
			return
		}
	}
}

// lockedKey files the images holding an upload lock (catalog.Image.Upload:
// an upload, stage, import or location pull under way): the importer's
// recovery and the leader's requeue of dead uploaders look for
// interrupted ones among them.
const lockedKey = "locked"

// lockedKeys files an image under lockedKey while it holds an upload
// lock.
func lockedKeys(img *catalog.Image) []string {
	if img.Upload != nil {
		return []string{lockedKey}
	}
	return nil
}

// shortKey files the images with data committed on fewer than R nodes
// (ShortPlacement); no node id is empty, so it is never a holder's key.
const shortKey = ""

// placedKeys files an image with data under each of its durable holders
// (its placement) and, while it has fewer than R, under shortKey: the
// leader's repair pass looks at the images of gone holders and short
// placements, a node's healer at its own images.
func placedKeys(img *catalog.Image) []string {
	if img.Manifest == nil || len(img.Manifest.Chunks) == 0 {
		return nil
	}
	keys := slices.Clone(img.Placement)
	if img.ShortPlacement {
		keys = append(keys, shortKey)
	}
	return keys
}

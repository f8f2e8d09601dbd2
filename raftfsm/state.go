package raftfsm

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"
	"github.com/p2pglance/p2pglance/catalog"
)

// btreeDegree is the degree of every index: nodes of up to 63 entries.
const btreeDegree = 32

// tables is one version of the catalog: every index. A published version
// is never modified; writers change their own copy (copy-on-write B-trees,
// so a version costs only the nodes a write touched).
type tables struct {
	images   [numIndexes]*btree.BTreeG[*imageRec]
	tombs    *btree.BTreeG[Tombstone]
	members  *btree.BTreeG[*catalog.Member] // by image id, member id
	memberOf *btree.BTreeG[*catalog.Member] // by member id, image id
	docs     *btree.BTreeG[*catalog.Doc]    // by kind, id
	// orders caches the sorted orders of multi-key lists over this
	// version's images (versions with the same images share it).
	orders *orderCache
	// dict decodes the records (the State's, shared by every version).
	dict *strDict
}

// Dirty bits: one per tree of tables.
const (
	dirtyTombs = 1 << (numIndexes + iota)
	dirtyMembers
	dirtyDocs
	dirtyImages = 1<<numIndexes - 1
)

// State is the catalog held in memory: images (compact records, see
// imageRec) with an ordered index per sort key and filter field,
// tombstones, members and documents. Reads run on the last published
// version, so they never block Apply; every write publishes a new one.
type State struct {
	mu    sync.Mutex // serializes writers
	w     tables     // the writer's trees, changed in place under mu
	dict  *strDict   // codes for the strings records repeat
	dirty uint32     // trees changed since the last publish
	cur   atomic.Pointer[tables]

	// outboxN is the outbox's length once outboxCounted (outbox.go).
	outboxN       int
	outboxCounted bool
}

// NewState returns an empty catalog.
func NewState() *State {
	s := &State{dict: newStrDict()}
	for ix := range numIndexes {
		s.w.images[ix] = btree.NewG(btreeDegree, func(a, b *imageRec) bool { return compare(ix, a, b) < 0 })
	}
	s.w.tombs = btree.NewG(btreeDegree, func(a, b Tombstone) bool { return a.ID < b.ID })
	s.w.members = btree.NewG(btreeDegree, func(a, b *catalog.Member) bool {
		return a.ImageID < b.ImageID || a.ImageID == b.ImageID && a.MemberID < b.MemberID
	})
	s.w.memberOf = btree.NewG(btreeDegree, func(a, b *catalog.Member) bool {
		return a.MemberID < b.MemberID || a.MemberID == b.MemberID && a.ImageID < b.ImageID
	})
	s.w.docs = btree.NewG(btreeDegree, func(a, b *catalog.Doc) bool {
		return a.Kind < b.Kind || a.Kind == b.Kind && a.ID < b.ID
	})
	s.cur.Store(&tables{dict: s.dict})
	s.dirty = ^uint32(0)
	s.publish()
	return s
}

// publish makes the writer's changes visible: the changed trees are
// cloned (lazily: the clone shares every node until one side writes).
func (s *State) publish() {
	if s.dirty == 0 {
		return
	}
	next := *s.cur.Load()
	for ix := range numIndexes {
		if s.dirty&(1<<ix) != 0 {
			next.images[ix] = s.w.images[ix].Clone()
		}
	}
	if s.dirty&dirtyImages != 0 {
		next.orders = &orderCache{}
	}
	if s.dirty&dirtyTombs != 0 {
		next.tombs = s.w.tombs.Clone()
	}
	if s.dirty&dirtyMembers != 0 {
		next.members, next.memberOf = s.w.members.Clone(), s.w.memberOf.Clone()
	}
	if s.dirty&dirtyDocs != 0 {
		next.docs = s.w.docs.Clone()
	}
	s.dirty = 0
	s.cur.Store(&next)
}

// version returns the catalog as last published.
func (s *State) version() *tables { return s.cur.Load() }

// get returns the record of a live image.
func (t *tables) get(id string) (*imageRec, bool) {
	return t.images[ixID].Get(&imageRec{id: id})
}

// Image returns the live image with id, or ErrNotFound. The image is the
// caller's: the catalog keeps no reference to it.
func (s *State) Image(id string) (*catalog.Image, error) {
	r, ok := s.version().get(id)
	if !ok {
		return nil, fmt.Errorf("get image %q: %w", id, catalog.ErrNotFound)
	}
	return decodeImage(r, s.dict), nil
}

// Tombstoned reports whether id belonged to an image that was deleted.
func (s *State) Tombstoned(id string) bool {
	return s.version().tombs.Has(Tombstone{ID: id})
}

// Count returns the number of live images.
func (s *State) Count() int { return s.version().images[ixID].Len() }

// Each calls fn for every live image in id order until fn returns false.
// The images are the caller's.
func (s *State) Each(fn func(*catalog.Image) bool) {
	s.version().images[ixID].Ascend(func(r *imageRec) bool { return fn(decodeImage(r, s.dict)) })
}

// idOrEmpty returns img's id, or "" for a nil image.
func idOrEmpty(img *catalog.Image) string {
	if img == nil {
		return ""
	}
	return img.ID
}

// insertRec adds r to every index (w.images[ixOwner] only holds images
// with an owner).
func (s *State) insertRec(r *imageRec) {
	for ix := range numIndexes {
		if ix == ixOwner && r.owner == (interned{}) {
			continue
		}
		s.w.images[ix].ReplaceOrInsert(r)
	}
	s.dirty |= dirtyImages
}

// removeRec takes r out of every index.
func (s *State) removeRec(r *imageRec) {
	for ix := range numIndexes {
		s.w.images[ix].Delete(r)
	}
	s.dirty |= dirtyImages
}

// replaceRec puts cur in prev's place: where both sort alike, one
// replace; elsewhere a delete and an insert.
func (s *State) replaceRec(prev, cur *imageRec) {
	for ix := range numIndexes {
		t := s.w.images[ix]
		switch {
		case ix == ixOwner && cur.owner == (interned{}):
			t.Delete(prev)
		case compare(ix, prev, cur) == 0:
			t.ReplaceOrInsert(cur)
		default:
			t.Delete(prev)
			t.ReplaceOrInsert(cur)
		}
	}
	s.dirty |= dirtyImages
}

func (s *State) createImage(idx uint64, img *catalog.Image) (*catalog.Image, error) {
	if img == nil || img.ID == "" {
		return nil, fmt.Errorf("create image: missing id: %w", ErrBadCommand)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.w.images[ixID].Get(&imageRec{id: img.ID}); ok {
		return nil, fmt.Errorf("create image %q: %w", img.ID, catalog.ErrExists)
	}
	if s.w.tombs.Has(Tombstone{ID: img.ID}) {
		return nil, fmt.Errorf("create image %q: %w", img.ID, catalog.ErrExists)
	}
	r := encodeImage(img, idx, s.dict)
	s.insertRec(r)
	s.publish()
	return decodeImage(r, s.dict), nil
}

func (s *State) updateImage(idx uint64, img *catalog.Image, expect uint64) (prev, cur *catalog.Image, err error) {
	if img == nil || img.ID == "" {
		return nil, nil, fmt.Errorf("update image: missing id: %w", ErrBadCommand)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.w.images[ixID].Get(&imageRec{id: img.ID})
	if !ok {
		return nil, nil, fmt.Errorf("update image %q: %w", img.ID, catalog.ErrNotFound)
	}
	if old.rev != expect {
		return nil, nil, fmt.Errorf("update image %q: at revision %d, not %d: %w", img.ID, old.rev, expect, catalog.ErrConflict)
	}
	r := encodeImage(img, idx, s.dict)
	s.replaceRec(old, r)
	s.publish()
	return decodeImage(old, s.dict), decodeImage(r, s.dict), nil
}

func (s *State) deleteImage(idx uint64, id string, expect uint64, at time.Time) (*catalog.Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.w.images[ixID].Get(&imageRec{id: id})
	if !ok {
		return nil, fmt.Errorf("delete image %q: %w", id, catalog.ErrNotFound)
	}
	if expect != 0 && old.rev != expect {
		return nil, fmt.Errorf("delete image %q: at revision %d, not %d: %w", id, old.rev, expect, catalog.ErrConflict)
	}
	s.removeRec(old)
	s.deleteMembers(id)
	s.w.tombs.ReplaceOrInsert(Tombstone{ID: id, DeletedAt: at})
	s.dirty |= dirtyTombs
	s.publish()
	return decodeImage(old, s.dict), nil
}

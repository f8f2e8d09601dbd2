package node

import (
	"sync"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// lockedImages knows which images of the local replica hold an upload
// lock (catalog.Image.Upload: an upload, stage, import or location pull
// under way), so that the loops looking for interrupted ones every few
// seconds (importer recovery, the leader's requeue of dead uploaders)
// visit those few images instead of decoding the whole catalog each
// time: a full pass costs in proportion to the catalog, and at 100k
// images several of them every 5 seconds were most of an idle agent.
//
// The set follows every applied change (note, from the FSM's observer)
// and is rebuilt from a full pass whenever the catalog was replaced
// (a snapshot or checkpoint restored: no change is observed for it) or
// was never read.
type lockedImages struct {
	fsm *raftfsm.FSM

	mu    sync.Mutex
	built *raftfsm.State      // the catalog ids follows; nil: not built
	ids   map[string]struct{} // images with Upload != nil
}

func newLockedImages(fsm *raftfsm.FSM) *lockedImages { return &lockedImages{fsm: fsm} }

// note records one applied change. It runs synchronously in the FSM's
// Apply, after the change is in the catalog.
func (l *lockedImages) note(c raftfsm.Change) {
	if c.DocKind != "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.built == nil || l.built != l.fsm.State() {
		return // the next each rebuilds from the catalog
	}
	if c.Image != nil && c.Image.Upload != nil {
		l.ids[c.ID] = struct{}{}
	} else {
		delete(l.ids, c.ID)
	}
}

// each calls fn for every image of the local replica that holds an
// upload lock, as the catalog has it now, until fn returns false.
func (l *lockedImages) each(fn func(*catalog.Image) bool) {
	st := l.fsm.State()
	l.mu.Lock()
	if l.built != st {
		// Changes wait in Apply while the catalog is read: the set and
		// the catalog stay in step.
		ids := map[string]struct{}{}
		st.Each(func(img *catalog.Image) bool {
			if img.Upload != nil {
				ids[img.ID] = struct{}{}
			}
			return true
		})
		l.built, l.ids = st, ids
	}
	list := make([]string, 0, len(l.ids))
	for id := range l.ids {
		list = append(list, id)
	}
	l.mu.Unlock()
	for _, id := range list {
		img, err := st.Image(id)
		if err != nil || img.Upload == nil {
			continue // changed since
		}
		if !fn(img) {
			return
		}
	}
}

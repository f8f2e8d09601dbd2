package node

import (
	"sync"
	"time"

	"github.com/p2pglance/p2pglance/chunkstore"
)

// inflightSet holds the chunks that uploads, copies and replications in
// progress protect from garbage collection and cache eviction until their
// manifest is committed or they fail. Its zero value is not ready: use
// newInflightSet.
type inflightSet struct {
	mu      sync.Mutex
	byImage map[string]*inflightUpload // image id -> chunks of an upload in progress
}

// inflightUpload is the chunks one image's upload in progress protects.
type inflightUpload struct {
	digests map[chunkstore.Digest]struct{}
	touched time.Time
}

func newInflightSet() *inflightSet {
	return &inflightSet{byImage: map[string]*inflightUpload{}}
}

// protect records d as part of an upload of image in progress.
func (s *inflightSet) protect(image string, d chunkstore.Digest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.byImage[image]
	if u == nil {
		u = &inflightUpload{digests: map[chunkstore.Digest]struct{}{}}
		s.byImage[image] = u
	}
	u.digests[d] = struct{}{}
	u.touched = time.Now()
}

// unprotect forgets the upload of image.
func (s *inflightSet) unprotect(image string) {
	s.mu.Lock()
	delete(s.byImage, image)
	s.mu.Unlock()
}

// retain forgets every upload keep refuses (given its image and when it
// last protected a chunk) and calls live for each chunk the others
// protect.
func (s *inflightSet) retain(keep func(image string, touched time.Time) bool, live func(chunkstore.Digest)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for image, u := range s.byImage {
		if !keep(image, u.touched) {
			delete(s.byImage, image)
			continue
		}
		for d := range u.digests {
			live(d)
		}
	}
}

// empty reports whether no chunk is protected.
func (s *inflightSet) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byImage) == 0
}

// hold calls fn with every protected chunk while nothing can be protected
// or unprotected: what fn deletes cannot be a chunk a peer has just been
// told this node holds.
func (s *inflightSet) hold(fn func(protected map[chunkstore.Digest]bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	protected := map[chunkstore.Digest]bool{}
	for _, u := range s.byImage {
		for d := range u.digests {
			protected[d] = true
		}
	}
	fn(protected)
}

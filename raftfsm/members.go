package raftfsm

import (
	"fmt"

	"github.com/p2pglance/p2pglance/catalog"
)

// Member and doc commands.
const (
	CmdPutMember    CommandType = 5
	CmdDeleteMember CommandType = 6
	CmdPutDoc       CommandType = 7
	CmdDeleteDoc    CommandType = 8
)

// PutMember adds a member (Create: fails with ErrExists if present) or
// replaces one (fails with ErrNotFound if absent, ErrConflict if its
// revision is not ExpectRevision, unless that is 0). The image must exist.
type PutMember struct {
	Member         *catalog.Member `json:"member"`
	Create         bool            `json:"create,omitempty"`
	ExpectRevision uint64          `json:"expect_revision,omitempty"`
}

// DeleteMember removes a member.
type DeleteMember struct {
	ImageID  string `json:"image_id"`
	MemberID string `json:"member_id"`
}

// PutDoc creates (Create) or replaces a document, with the same
// preconditions as PutMember.
type PutDoc struct {
	Doc            *catalog.Doc `json:"doc"`
	Create         bool         `json:"create,omitempty"`
	ExpectRevision uint64       `json:"expect_revision,omitempty"`
}

// DeleteDoc removes a document.
type DeleteDoc struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Member returns one member of an image, or ErrNotFound.
func (s *State) Member(imageID, memberID string) (*catalog.Member, error) {
	m, ok := s.version().members.Get(&catalog.Member{ImageID: imageID, MemberID: memberID})
	if !ok {
		return nil, fmt.Errorf("member %s of image %s: %w", memberID, imageID, catalog.ErrNotFound)
	}
	return m, nil
}

// Members returns an image's members, ordered by member id.
func (s *State) Members(imageID string) []*catalog.Member {
	var out []*catalog.Member
	s.version().members.AscendGreaterOrEqual(&catalog.Member{ImageID: imageID}, func(m *catalog.Member) bool {
		if m.ImageID != imageID {
			return false
		}
		out = append(out, m)
		return true
	})
	return out
}

// Memberships returns the images a project is a member of, by image id.
func (s *State) Memberships(project string) map[string]*catalog.Member {
	out := map[string]*catalog.Member{}
	s.version().memberOf.AscendGreaterOrEqual(&catalog.Member{MemberID: project}, func(m *catalog.Member) bool {
		if m.MemberID != project {
			return false
		}
		out[m.ImageID] = m
		return true
	})
	return out
}

// Doc returns a document, or ErrNotFound.
func (s *State) Doc(kind, id string) (*catalog.Doc, error) {
	d, ok := s.version().docs.Get(&catalog.Doc{Kind: kind, ID: id})
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", kind, id, catalog.ErrNotFound)
	}
	return d, nil
}

// Docs returns every document of a kind, ordered by id.
func (s *State) Docs(kind string) []*catalog.Doc {
	var out []*catalog.Doc
	s.version().docs.AscendGreaterOrEqual(&catalog.Doc{Kind: kind}, func(d *catalog.Doc) bool {
		if d.Kind != kind {
			return false
		}
		out = append(out, d)
		return true
	})
	return out
}

func (s *State) putMember(idx uint64, c *PutMember) (*catalog.Member, error) {
	m := c.Member
	if m == nil || m.ImageID == "" || m.MemberID == "" {
		return nil, fmt.Errorf("put member: missing ids: %w", ErrBadCommand)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.w.images[ixID].Has(&imageRec{id: m.ImageID}) {
		return nil, fmt.Errorf("put member of image %s: %w", m.ImageID, catalog.ErrNotFound)
	}
	old, exists := s.w.members.Get(m)
	if err := checkPut(exists, c.Create, func() uint64 { return old.Revision }, c.ExpectRevision); err != nil {
		return nil, fmt.Errorf("put member %s of image %s: %w", m.MemberID, m.ImageID, err)
	}
	cp := *m
	cp.Revision = idx
	s.w.members.ReplaceOrInsert(&cp)
	s.w.memberOf.ReplaceOrInsert(&cp)
	s.dirty |= dirtyMembers
	s.publish()
	return &cp, nil
}

// checkPut applies the create / replace preconditions shared by members
// and documents.
func checkPut(exists, create bool, rev func() uint64, expect uint64) error {
	switch {
	case create && exists:
		return catalog.ErrExists
	case !create && !exists:
		return catalog.ErrNotFound
	case !create && expect != 0 && rev() != expect:
		return catalog.ErrConflict
	}
	return nil
}

func (s *State) deleteMember(c *DeleteMember) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.w.members.Delete(&catalog.Member{ImageID: c.ImageID, MemberID: c.MemberID})
	if !ok {
		return fmt.Errorf("delete member %s of image %s: %w", c.MemberID, c.ImageID, catalog.ErrNotFound)
	}
	s.w.memberOf.Delete(m)
	s.dirty |= dirtyMembers
	s.publish()
	return nil
}

func (s *State) putDoc(idx uint64, c *PutDoc) (*catalog.Doc, error) {
	d := c.Doc
	if d == nil || d.Kind == "" || d.ID == "" {
		return nil, fmt.Errorf("put doc: missing kind or id: %w", ErrBadCommand)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.w.docs.Get(d)
	if err := checkPut(exists, c.Create, func() uint64 { return old.Revision }, c.ExpectRevision); err != nil {
		return nil, fmt.Errorf("put %s %s: %w", d.Kind, d.ID, err)
	}
	cp := *d
	cp.Revision = idx
	s.w.docs.ReplaceOrInsert(&cp)
	s.dirty |= dirtyDocs
	s.publish()
	return &cp, nil
}

func (s *State) deleteDoc(c *DeleteDoc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.w.docs.Delete(&catalog.Doc{Kind: c.Kind, ID: c.ID}); !ok {
		return fmt.Errorf("delete %s %s: %w", c.Kind, c.ID, catalog.ErrNotFound)
	}
	s.dirty |= dirtyDocs
	s.publish()
	return nil
}

// deleteMembers removes every member of an image (the writer holds mu).
func (s *State) deleteMembers(imageID string) {
	var gone []*catalog.Member
	s.w.members.AscendGreaterOrEqual(&catalog.Member{ImageID: imageID}, func(m *catalog.Member) bool {
		if m.ImageID != imageID {
			return false
		}
		gone = append(gone, m)
		return true
	})
	for _, m := range gone {
		s.w.members.Delete(m)
		s.w.memberOf.Delete(m)
	}
	if len(gone) > 0 {
		s.dirty |= dirtyMembers
	}
}

package raftfsm

import (
	"fmt"

	memdb "github.com/hashicorp/go-memdb"
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

const (
	tableMembers = "members"
	tableDocs    = "docs"
)

func memberDocSchema() map[string]*memdb.TableSchema {
	return map[string]*memdb.TableSchema{
		tableMembers: {Name: tableMembers, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
				&memdb.StringFieldIndex{Field: "ImageID"}, &memdb.StringFieldIndex{Field: "MemberID"},
			}}},
			"member": {Name: "member", Indexer: &memdb.StringFieldIndex{Field: "MemberID"}},
		}},
		tableDocs: {Name: tableDocs, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
				&memdb.StringFieldIndex{Field: "Kind"}, &memdb.StringFieldIndex{Field: "ID"},
			}}},
		}},
	}
}

// Member returns one member of an image, or ErrNotFound.
func (s *State) Member(imageID, memberID string) (*catalog.Member, error) {
	raw, err := s.db.Txn(false).First(tableMembers, "id", imageID, memberID)
	if err != nil {
		return nil, fmt.Errorf("get member: %w", err)
	}
	if raw == nil {
		return nil, fmt.Errorf("member %s of image %s: %w", memberID, imageID, catalog.ErrNotFound)
	}
	return raw.(*catalog.Member), nil
}

// Members returns an image's members, ordered by member id.
func (s *State) Members(imageID string) []*catalog.Member {
	it, err := s.db.Txn(false).Get(tableMembers, "id_prefix", imageID)
	if err != nil {
		return nil
	}
	var out []*catalog.Member
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if m := raw.(*catalog.Member); m.ImageID == imageID {
			out = append(out, m)
		}
	}
	return out
}

// Memberships returns the images a project is a member of, by image id.
func (s *State) Memberships(project string) map[string]*catalog.Member {
	it, err := s.db.Txn(false).Get(tableMembers, "member", project)
	if err != nil {
		return nil
	}
	out := map[string]*catalog.Member{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		m := raw.(*catalog.Member)
		out[m.ImageID] = m
	}
	return out
}

// Doc returns a document, or ErrNotFound.
func (s *State) Doc(kind, id string) (*catalog.Doc, error) {
	raw, err := s.db.Txn(false).First(tableDocs, "id", kind, id)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", kind, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("%s %s: %w", kind, id, catalog.ErrNotFound)
	}
	return raw.(*catalog.Doc), nil
}

// Docs returns every document of a kind, ordered by id.
func (s *State) Docs(kind string) []*catalog.Doc {
	it, err := s.db.Txn(false).Get(tableDocs, "id_prefix", kind)
	if err != nil {
		return nil
	}
	var out []*catalog.Doc
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if d := raw.(*catalog.Doc); d.Kind == kind {
			out = append(out, d)
		}
	}
	return out
}

func (s *State) putMember(idx uint64, c *PutMember) (*catalog.Member, error) {
	m := c.Member
	if m == nil || m.ImageID == "" || m.MemberID == "" {
		return nil, fmt.Errorf("put member: missing ids: %w", ErrBadCommand)
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	if raw, _ := txn.First(tableImages, "id", m.ImageID); raw == nil {
		return nil, fmt.Errorf("put member of image %s: %w", m.ImageID, catalog.ErrNotFound)
	}
	raw, _ := txn.First(tableMembers, "id", m.ImageID, m.MemberID)
	if err := checkPut(raw != nil, c.Create, func() uint64 { return raw.(*catalog.Member).Revision }, c.ExpectRevision); err != nil {
		return nil, fmt.Errorf("put member %s of image %s: %w", m.MemberID, m.ImageID, err)
	}
	cp := *m
	cp.Revision = idx
	if err := txn.Insert(tableMembers, &cp); err != nil {
		return nil, fmt.Errorf("put member: %w", err)
	}
	txn.Commit()
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
	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, _ := txn.First(tableMembers, "id", c.ImageID, c.MemberID)
	if raw == nil {
		return fmt.Errorf("delete member %s of image %s: %w", c.MemberID, c.ImageID, catalog.ErrNotFound)
	}
	if err := txn.Delete(tableMembers, raw); err != nil {
		return fmt.Errorf("delete member: %w", err)
	}
	txn.Commit()
	return nil
}

func (s *State) putDoc(idx uint64, c *PutDoc) (*catalog.Doc, error) {
	d := c.Doc
	if d == nil || d.Kind == "" || d.ID == "" {
		return nil, fmt.Errorf("put doc: missing kind or id: %w", ErrBadCommand)
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, _ := txn.First(tableDocs, "id", d.Kind, d.ID)
	if err := checkPut(raw != nil, c.Create, func() uint64 { return raw.(*catalog.Doc).Revision }, c.ExpectRevision); err != nil {
		return nil, fmt.Errorf("put %s %s: %w", d.Kind, d.ID, err)
	}
	cp := *d
	cp.Revision = idx
	if err := txn.Insert(tableDocs, &cp); err != nil {
		return nil, fmt.Errorf("put doc: %w", err)
	}
	txn.Commit()
	return &cp, nil
}

func (s *State) deleteDoc(c *DeleteDoc) error {
	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, _ := txn.First(tableDocs, "id", c.Kind, c.ID)
	if raw == nil {
		return fmt.Errorf("delete %s %s: %w", c.Kind, c.ID, catalog.ErrNotFound)
	}
	if err := txn.Delete(tableDocs, raw); err != nil {
		return fmt.Errorf("delete doc: %w", err)
	}
	txn.Commit()
	return nil
}

// deleteMembersTxn removes every member of an image inside txn.
func deleteMembersTxn(txn *memdb.Txn, imageID string) error {
	if _, err := txn.DeleteAll(tableMembers, "id_prefix", imageID); err != nil {
		return fmt.Errorf("delete members of %s: %w", imageID, err)
	}
	return nil
}

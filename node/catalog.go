package node

import (
	"context"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// Member implements api.Backend from the local replica.
func (n *Node) Member(_ context.Context, imageID, memberID string) (*catalog.Member, error) {
	return n.fsm.State().Member(imageID, memberID)
}

// Members implements api.Backend from the local replica.
func (n *Node) Members(_ context.Context, imageID string) ([]*catalog.Member, error) {
	return n.fsm.State().Members(imageID), nil
}

// Memberships implements api.Backend from the local replica.
func (n *Node) Memberships(_ context.Context, project string) (map[string]*catalog.Member, error) {
	return n.fsm.State().Memberships(project), nil
}

// PutMember implements api.Backend.
func (n *Node) PutMember(ctx context.Context, m *catalog.Member, create bool, expect uint64) (*catalog.Member, error) {
	res, err := n.propose(ctx, &raftfsm.PutMember{Member: m, Create: create, ExpectRevision: expect})
	if err != nil {
		return nil, err
	}
	return res.Member, res.Err
}

// DeleteMember implements api.Backend.
func (n *Node) DeleteMember(ctx context.Context, imageID, memberID string) error {
	res, err := n.propose(ctx, &raftfsm.DeleteMember{ImageID: imageID, MemberID: memberID})
	if err != nil {
		return err
	}
	return res.Err
}

// Doc implements api.Backend from the local replica.
func (n *Node) Doc(_ context.Context, kind, id string) (*catalog.Doc, error) {
	return n.fsm.State().Doc(kind, id)
}

// Docs implements api.Backend from the local replica.
func (n *Node) Docs(_ context.Context, kind string) ([]*catalog.Doc, error) {
	return n.fsm.State().Docs(kind), nil
}

// PutDoc implements api.Backend.
func (n *Node) PutDoc(ctx context.Context, d *catalog.Doc, create bool, expect uint64) (*catalog.Doc, error) {
	res, err := n.propose(ctx, &raftfsm.PutDoc{Doc: d, Create: create, ExpectRevision: expect})
	if err != nil {
		return nil, err
	}
	return res.Doc, res.Err
}

// DeleteDoc implements api.Backend.
func (n *Node) DeleteDoc(ctx context.Context, kind, id string) error {
	res, err := n.propose(ctx, &raftfsm.DeleteDoc{Kind: kind, ID: id})
	if err != nil {
		return err
	}
	return res.Err
}

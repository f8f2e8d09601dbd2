package node

import (
	"context"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/gossip"
)

// RepairImage runs one repair of img (as a repair pass saw it) with the
// given nodes counted alive, for tests in package node_test.
func (n *Node) RepairImage(ctx context.Context, img *catalog.Image, alive []string) ([]string, error) {
	members := map[string]gossip.Member{}
	for _, id := range alive {
		if m, ok := n.gossip.Member(id); ok {
			members[id] = m
		}
	}
	return n.repairer.repairImage(ctx, img, members)
}

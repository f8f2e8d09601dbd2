package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/p2pglance/p2pglance/node"
)

// cluster is n real nodes in this process with their data on disk, on
// loopback ephemeral ports, with the production Raft and gossip timers.
type cluster struct {
	nodes   []*node.Node
	cancels []context.CancelFunc
	dones   []chan error
}

// startCluster starts n nodes under dir (with opts, test seams such as
// node.InMemory): node 0 bootstraps, the others join it. It returns once
// every node sees every other alive and can commit through the leader.
func startCluster(ctx context.Context, dir string, n int, configure func(c *node.Config), opts ...node.Option) (*cluster, error) {
	c := &cluster{}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for i := range n {
		cfg := node.Config{
			NodeID:     fmt.Sprintf("node%d", i),
			DataDir:    filepath.Join(dir, fmt.Sprintf("node%d", i)),
			APIAddr:    "127.0.0.1:0",
			PeerAddr:   "127.0.0.1:0",
			RaftAddr:   "127.0.0.1:0",
			GossipAddr: "127.0.0.1:0",
			Logger:     logger.With("node", i),
		}
		if i > 0 {
			cfg.Join = []string{c.nodes[0].PeerAddr()}
		}
		if configure != nil {
			configure(&cfg)
		}
		nd, err := node.New(cfg, opts...)
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("start node %d: %w", i, err)
		}
		rctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- nd.Run(rctx) }()
		c.nodes, c.cancels, c.dones = append(c.nodes, nd), append(c.cancels, cancel), append(c.dones, done)
		if i == 0 {
			if err := waitFor(ctx, 30*time.Second, nd.IsLeader); err != nil {
				c.stop()
				return nil, fmt.Errorf("node 0 never became leader: %w", err)
			}
		}
	}
	err := waitFor(ctx, 30*time.Second, func() bool {
		for _, nd := range c.nodes {
			if nd.AliveMembers() != n {
				return false
			}
		}
		return true
	})
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("nodes never all saw each other: %w", err)
	}
	for i, nd := range c.nodes {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := nd.Sync(sctx)
		cancel()
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("node %d cannot commit: %w", i, err)
		}
	}
	// Each node, once caught up after start, requeues every image left in
	// "saving" by itself: an upload started before that one-time scan
	// runs is requeued too and fails with 410 Gone. Nothing exported says
	// when the scan has run, so give it a moment.
	time.Sleep(startupGrace)
	return c, nil
}

// url is node i's Glance endpoint.
func (c *cluster) url(i int) string { return "http://" + c.nodes[i].APIAddr() }

// index returns the position of the node with id, or -1.
func (c *cluster) index(id string) int {
	for i, nd := range c.nodes {
		if nd.ID() == id {
			return i
		}
	}
	return -1
}

// leader returns the index of the Raft leader, or -1.
func (c *cluster) leader() int {
	for i, nd := range c.nodes {
		if nd.IsLeader() {
			return i
		}
	}
	return -1
}

// stop shuts every node down and waits (bounded) for them.
func (c *cluster) stop() {
	for _, cancel := range c.cancels {
		cancel()
	}
	for i, done := range c.dones {
		select {
		case err := <-done:
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: node %d stopped with: %v\n", i, err)
			}
		case <-time.After(30 * time.Second):
			fmt.Fprintf(os.Stderr, "bench: node %d did not stop within 30s\n", i)
		}
	}
}

// startupGrace is the pause after every node of a new cluster can commit.
const startupGrace = time.Second

func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// stopNode stops node i and waits (bounded) for it; a later stop of the
// whole cluster skips it.
func (c *cluster) stopNode(i int) {
	c.cancels[i]()
	select {
	case err := <-c.dones[i]:
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: node %d stopped with: %v\n", i, err)
		}
	case <-time.After(30 * time.Second):
		fmt.Fprintf(os.Stderr, "bench: node %d did not stop within 30s\n", i)
	}
	done := make(chan error, 1)
	done <- nil
	c.dones[i] = done
}

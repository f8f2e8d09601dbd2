package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/p2pglance/p2pglance/node"
)

// agentFlags parses the agent's flags into a node.Config. Every flag can
// also be set by the environment variable P2PGLANCE_<FLAG> (upper case,
// dashes as underscores); a flag on the command line wins.
func agentFlags(args []string, stderr io.Writer) (*node.Config, string, error) {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &node.Config{}
	var join, logLevel string
	fs.StringVar(&cfg.DataDir, "data-dir", "./data", "directory for the chunk store, Raft log and snapshots, and node id")
	fs.StringVar(&cfg.NodeID, "node-id", "", "node id (default: generated on first start and kept in the data dir)")
	fs.StringVar(&cfg.APIAddr, "api-addr", "127.0.0.1:9292", "Glance v2 API listen address")
	fs.StringVar(&cfg.PeerAddr, "peer-addr", "127.0.0.1:9492", "internal HTTP address: joins, forwarded writes, chunk transfer between nodes")
	fs.StringVar(&cfg.RaftAddr, "raft-addr", "127.0.0.1:9592", "Raft transport address (TCP)")
	fs.StringVar(&cfg.GossipAddr, "gossip-addr", "127.0.0.1:9692", "gossip (memberlist) address, TCP and UDP")
	fs.StringVar(&join, "join", "", "comma-separated peer addresses (--peer-addr) of existing nodes to join; empty on the first node")
	fs.StringVar(&cfg.Zone, "zone", "", "zone label of this node (copies spread over zones; reads prefer the same zone)")
	fs.StringVar(&cfg.Rack, "rack", "", "rack label of this node")
	fs.IntVar(&cfg.Replicas, "replicas", node.DefaultReplicas, "durable copies of every chunk (R = min(replicas, live nodes))")
	fs.IntVar(&cfg.Voters, "voters", node.DefaultVoters, "Raft voters; nodes joining after that many voters become non-voters (odd)")
	fs.StringVar(&cfg.Auth, "auth", "noauth", "API auth mode: noauth (trust X-Project-Id/X-Roles headers; none = admin)")
	fs.IntVar(&cfg.ChunkSize, "chunk-size", node.DefaultChunkSize, "chunk size in bytes for new uploads")
	fs.IntVar(&cfg.FetchWindow, "fetch-window", 4, "chunks a download keeps in flight")
	fs.BoolVar(&cfg.NoCache, "no-cache", false, "do not keep chunks fetched from peers")
	fs.Int64Var(&cfg.MaxImageSize, "max-image-size", 1<<40, "largest image accepted, in bytes")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: p2pglance agent [flags]\n\nRuns one p2pglance node. Every flag can also be given as the environment\nvariable P2PGLANCE_<FLAG>, e.g. P2PGLANCE_DATA_DIR=/var/lib/p2pglance.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := applyEnv(fs); err != nil {
		return nil, "", err
	}
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	if fs.NArg() > 0 {
		return nil, "", fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for _, j := range strings.Split(join, ",") {
		if j = strings.TrimSpace(j); j != "" {
			cfg.Join = append(cfg.Join, j)
		}
	}
	return cfg, logLevel, nil
}

// applyEnv sets flags from P2PGLANCE_* variables before the command line
// is parsed.
func applyEnv(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "P2PGLANCE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("environment %s: %w", name, e)
			}
		}
	})
	return err
}

func runAgent(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, logLevel, err := agentFlags(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	n, err := node.New(*cfg)
	if err != nil {
		return err
	}
	cfg.Logger.Info("p2pglance agent started", "id", n.ID(), "api", "http://"+n.APIAddr(), "peer", n.PeerAddr(),
		"raft", n.RaftAddr(), "gossip", n.GossipAddr(), "data", cfg.DataDir)
	err = n.Run(ctx)
	cfg.Logger.Info("p2pglance agent stopped")
	return err
}

// Command p2pglance-bench measures p2pglance on this machine, each figure
// side by side with a plain baseline in the same run, and prints the
// BENCHMARKS.md tables (markdown) on stdout; progress goes to stderr.
//
//	p2pglance-bench [flags]
//
// The phases (select with -only):
//
//	hash    single-core MB/s of md5, sha512, BLAKE3 and memmove (context)
//	local   1 GiB upload through the Glance API vs write+fsync of a file;
//	        download of that image vs http.ServeFile of that file
//	peer    download on a node that fetches every chunk from a peer vs
//	        download on the node that holds the image (3 nodes, replicas 1)
//	create  POST /v2/images at concurrency 32 over 3 nodes vs disk fsync rate
//	list    GET /v2/images latency at 10,000 and 100,000 images
//	ryw     GET of an image on a follower (3 nodes) in steady state and
//	        right after a write through the other follower: without a
//	        revision, with the p2pglance-rev cookie, with a read barrier;
//	        latency and the leader's extra Raft entries
//	rss     VmRSS/VmHWM of the real binary idle and during a 1 GiB upload
//	fleet   one image to every node of fleets of 5-40 nodes with capped
//	        uploads (prefetch job), p2pglance vs single-origin; not in the
//	        default set (make bench-fleet runs it)
//	repair  a durable holder of many images lost in a 6-node, 3-zone
//	        cluster with capped uploads: time until every image is back
//	        at R complete live holders, vs the survivors' aggregate
//	        uplink and a measured one-uplink copy; not in the default set
//	        (make bench-repair runs it)
//	scale   N real agent processes (the binary, production timers) on
//	        loopback for each N of -scale-n: time until all joined, idle
//	        CPU and memory per agent and of the leader, write visibility
//	        on every agent under a steady load, creates/s through one
//	        agent, the leader's egress during a full restart vs the
//	        catalog snapshot; a table with the slope in N and a chart;
//	        not in the default set (make bench-scale runs it)
//
// Nodes run in this process (node.New + Run, data on disk under -dir),
// except in the rss and scale phases, which run bin/p2pglance agent as
// children. Everything listens on 127.0.0.1 ephemeral ports (the scale
// phase's agents on free ports below the ephemeral range: they keep
// them across a restart). The scale phase also reads the stopped
// leader's Raft directory (raftbadger, raftfsm) to size its catalog
// snapshot, and each agent's byte counters from the line it logs when it
// stops.
//
// The fleet and scale charts (-fleet-plot, -scale-plot) are drawn with
// gonum.org/v1/plot.
//
// Subdirectory holders is a program of its own (make bench-holders): what
// knowing who holds which chunk costs each agent, built from the same
// file before and after holdings left gossip (its own doc says how).
//
// Nothing imports this package. It drives nodes through node's exported
// API and over HTTP, as a client or an operator would, and may use the
// exported types of the other packages to read their answers; it must not
// depend on testcluster or on test-only code, and production packages must
// never grow hooks that only the benchmark uses.
package main

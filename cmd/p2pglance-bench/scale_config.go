package main

import (
	"flag"
	"fmt"
	"strings"
	"time"
)

// scaleConfig is the scale phase's knobs (-scale-* flags).
type scaleConfig struct {
	sizes        []int         // fleet sizes N, each run in turn
	zones        int           // zones az1..azZ
	racks        int           // racks r1..rR in all; rack k is in zone k%zones
	joinVia      int           // every agent joins the first joinVia agents
	wave         int           // the other agents start this many at a time (0: all at once)
	replicaNice  int           // the agents after the voters run under nice(1) with this niceness (0: not) ...
	niceFrom     int           // ... in fleets of at least this many agents
	secret       bool          // run with a cluster secret, as a production cluster must off loopback
	joinTimeout  time.Duration // how long N agents may take to join (0: 60 s + 2 s per agent)
	membersGrace time.Duration // how long after all applied the marker every agent may take to list every agent alive (0: 30 s + 0.5 s × N)
	settle       time.Duration // pause between "all joined" and the idle window
	idle         time.Duration // the idle window over which CPU is measured
	rate         int           // writes per second of the steady load
	load         time.Duration // how long the steady load runs
	sample       time.Duration // one write in each such interval is looked for on every agent
	clients      int           // concurrent clients of the creates/s figure
	creates      time.Duration // how long the creates/s figure runs
	createVia    int           // the agent the clients talk to (-1: the last one)
	restart      bool          // measure a full restart of all N agents
	catalog      int           // grow the catalog to this many images before the restart (0: as the load left it)
	stopTimeout  time.Duration // how long an agent may take to stop on SIGTERM before SIGKILL
	plot         string        // PNG path of the chart ("": none)
	logs         string        // copy every agent's log under this directory after each N ("": none)
}

// scaleFlags registers the -scale-* flags; the returned function checks
// and converts them once flag.Parse has run.
func scaleFlags(sc *scaleConfig) func() error {
	var sizes string
	flag.StringVar(&sizes, "scale-n", "50,100,200,300", "fleet sizes N of the scale phase (comma or space separated): N agent processes each")
	flag.IntVar(&sc.zones, "scale-zones", 3, "zones the agents are spread over (scale phase)")
	flag.IntVar(&sc.racks, "scale-racks", 7, "racks in all, rack k in zone k%zones; agent i in rack i%racks (scale phase)")
	flag.IntVar(&sc.joinVia, "scale-join", 3, "every agent is started with --join naming the first this many agents (scale phase)")
	flag.IntVar(&sc.wave, "scale-wave", 100, "after the voters, agents start this many at a time, each wave once the one before has applied the catalog (as hosts of a fleet come up); 0: all at once. A full restart always starts all at once")
	flag.IntVar(&sc.replicaNice, "scale-replica-nice", 19, "in fleets of -scale-nice-from agents or more, run every agent but the voters under nice -n with this niceness (0: never); a fleet's voters do not share their cores with hundreds of other agents, and on one machine they starve without it (N = 300 on 2 cores: elections every few seconds while agents join, the first write times out)")
	flag.IntVar(&sc.niceFrom, "scale-nice-from", 300, "the smallest fleet whose agents after the voters run under -scale-replica-nice (smaller fleets run every agent at the same priority: there the nice costs the replicas more than it spares the voters, e.g. a write visible everywhere p99 12.6 s instead of 2-3 s at N = 200)")
	flag.BoolVar(&sc.secret, "scale-secret", true, "run the agents with a cluster secret (signed internal HTTP, Raft handshake, encrypted gossip), as any cluster off loopback must")
	flag.DurationVar(&sc.joinTimeout, "scale-join-timeout", 0, "how long N agents may take to join, and to come back after a full restart; 0: 60s + 2s per agent")
	flag.DurationVar(&sc.membersGrace, "scale-members-grace", 0, "how long, once every agent applied the marker, every agent may still take to list every agent alive (gossip); 0: 30s + 0.5s per agent")
	flag.DurationVar(&sc.settle, "scale-settle", 15*time.Second, "pause between all joined and the idle window (scale phase)")
	flag.DurationVar(&sc.idle, "scale-idle", 30*time.Second, "idle window over which each agent's CPU is measured (scale phase; at least 20s for the report)")
	flag.IntVar(&sc.rate, "scale-rate", 50, "writes per second of the steady load (creates, through every agent in turn)")
	flag.DurationVar(&sc.load, "scale-load", 30*time.Second, "how long the steady load runs (scale phase)")
	flag.DurationVar(&sc.sample, "scale-sample", time.Second, "one write of each such interval is looked for on every agent (one GET per agent with its revision)")
	flag.IntVar(&sc.clients, "scale-clients", 16, "concurrent clients of the creates/s figure (scale phase)")
	flag.DurationVar(&sc.creates, "scale-creates", 15*time.Second, "how long the creates/s figure runs (scale phase)")
	flag.IntVar(&sc.createVia, "scale-create-via", -1, "the agent the creates/s clients talk to; -1: the last one (a non-voter)")
	flag.BoolVar(&sc.restart, "scale-restart", true, "measure a full restart of all N agents (the leader's egress)")
	flag.IntVar(&sc.catalog, "scale-catalog", 0, "before the restart, create images through agent 0 until the catalog holds this many (the same snapshot size at every N); 0: as the load and creates left it")
	flag.DurationVar(&sc.stopTimeout, "scale-stop-timeout", time.Minute, "how long an agent may take to stop on SIGTERM before it is killed")
	flag.StringVar(&sc.plot, "scale-plot", "", "write the figures-vs-N chart (PNG) here")
	flag.StringVar(&sc.logs, "scale-logs", "", "copy every agent's log to DIR/n<N>/ after each N, also when it fails")
	return func() error {
		var err error
		if sc.sizes, err = parseScaleSizes(sizes); err != nil {
			return fmt.Errorf("-scale-n: %w", err)
		}
		if sc.replicaNice < 0 || sc.replicaNice > 19 {
			return fmt.Errorf("-scale-replica-nice must be 0-19")
		}
		if sc.wave < 0 {
			return fmt.Errorf("-scale-wave must not be negative")
		}
		if sc.zones < 1 || sc.racks < 1 || sc.joinVia < 1 || sc.rate < 1 || sc.clients < 1 {
			return fmt.Errorf("-scale-zones, -scale-racks, -scale-join, -scale-rate and -scale-clients must be positive")
		}
		if sc.idle <= 0 || sc.load <= 0 || sc.sample <= 0 || sc.creates <= 0 || sc.stopTimeout <= 0 {
			return fmt.Errorf("-scale-idle, -scale-load, -scale-sample, -scale-creates and -scale-stop-timeout must be positive")
		}
		return nil
	}
}

// parseScaleSizes reads "50,100 200" as fleet sizes (each at least 2).
func parseScaleSizes(s string) ([]int, error) {
	var out []int
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		var n int
		if _, err := fmt.Sscan(p, &n); err != nil || n < 2 {
			return nil, fmt.Errorf("bad fleet size %q", p)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no fleet size in %q", s)
	}
	return out, nil
}

// joinTimeoutFor is how long n agents may take to join.
func (sc *scaleConfig) joinTimeoutFor(n int) time.Duration {
	if sc.joinTimeout > 0 {
		return sc.joinTimeout
	}
	return time.Minute + time.Duration(n)*2*time.Second
}

// placement returns agent i's zone and rack: rack k = i%racks, in zone
// k%zones, so every rack lies in one zone.
func (sc *scaleConfig) placement(i int) (zone, rack string) {
	k := i % sc.racks
	return fmt.Sprintf("az%d", k%sc.zones+1), fmt.Sprintf("r%d", k+1)
}

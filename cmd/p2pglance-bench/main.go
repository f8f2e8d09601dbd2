package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/p2pglance/p2pglance/internal/bytesize"
)

type config struct {
	dir          string
	size         int64
	peerSize     int64
	reps         int
	dlReps       int
	creates      int
	concurrency  int
	seqCreates   int
	listSizes    []int
	listRequests int
	loaders      int
	rywReads     int
	rywWrites    int
	binary       string
	profileDir   string
	settle       time.Duration // pause after loading the list catalog
	idle         time.Duration // how long the agent idles before its memory is read
	only         map[string]bool
	fleet        fleetConfig
	repair       repairConfig
	scale        scaleConfig
}

func main() {
	var cfg config
	var size, peerSize, listSizes, only string
	flag.StringVar(&cfg.dir, "dir", os.TempDir(), "parent directory for node data and baseline files (same disk for both)")
	flag.StringVar(&size, "size", "1GiB", "image size for the local upload/download and rss phases")
	flag.StringVar(&peerSize, "peer-size", "1GiB", "image size for the peer download phase")
	flag.IntVar(&cfg.reps, "reps", 5, "measured runs of each upload and create figure (median reported)")
	flag.IntVar(&cfg.dlReps, "dl-reps", 9, "measured runs of each download figure (median reported)")
	flag.IntVar(&cfg.creates, "creates", 3000, "image creates per create run")
	flag.IntVar(&cfg.concurrency, "concurrency", 32, "concurrent clients in the create phase")
	flag.IntVar(&cfg.seqCreates, "seq-creates", 200, "one-at-a-time creates to the leader and to a follower (unloaded latency)")
	flag.StringVar(&listSizes, "list-sizes", "10000,100000", "catalog sizes at which list latency is measured")
	flag.IntVar(&cfg.listRequests, "list-requests", 1000, "requests per list query and catalog size")
	flag.IntVar(&cfg.loaders, "loaders", 64, "goroutines proposing creates when loading the list catalog")
	flag.IntVar(&cfg.rywReads, "ryw-reads", 2000, "steady-state GETs on a follower per read mode (ryw phase)")
	flag.IntVar(&cfg.rywWrites, "ryw-writes", 300, "writes through one follower, each read at once through the other, per read mode and write kind (ryw phase)")
	flag.StringVar(&cfg.binary, "binary", "bin/p2pglance", "p2pglance binary for the rss and scale phases")
	flag.StringVar(&cfg.profileDir, "profile-dir", "", "write a CPU profile of one extra (unmeasured) run of each phase here")
	flag.DurationVar(&cfg.settle, "settle", 5*time.Second, "pause between loading the list catalog and measuring")
	flag.DurationVar(&cfg.idle, "idle", 5*time.Second, "how long the agent idles before its memory is read (rss phase)")
	flag.StringVar(&only, "only", "hash,local,peer,create,list,ryw,rss", "phases to run (comma-separated)")
	finishFleet := fleetFlags(&cfg.fleet)
	finishRepair := repairFlags(&cfg.repair)
	finishScale := scaleFlags(&cfg.scale)
	flag.Parse()
	if err := finishFleet(); err != nil {
		log.Fatal(err)
	}
	if err := finishRepair(); err != nil {
		log.Fatal(err)
	}
	if err := finishScale(); err != nil {
		log.Fatal(err)
	}

	var err error
	if cfg.size, err = bytesize.Parse(size); err != nil {
		log.Fatalf("-size: %v", err)
	}
	if cfg.peerSize, err = bytesize.Parse(peerSize); err != nil {
		log.Fatalf("-peer-size: %v", err)
	}
	for _, s := range strings.Split(listSizes, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n <= 0 {
			log.Fatalf("-list-sizes: bad size %q", s)
		}
		cfg.listSizes = append(cfg.listSizes, n)
	}
	cfg.only = map[string]bool{}
	for _, p := range strings.Split(only, ",") {
		cfg.only[strings.TrimSpace(p)] = true
	}
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			log.Fatal(err)
		}
	}
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, &cfg, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, cfg *config, out io.Writer) error {
	base, err := os.MkdirTemp(cfg.dir, "p2pglance-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	rep := &report{}
	rep.machine = machineInfo(base)
	start := time.Now()
	phases := []struct {
		name string
		fn   func(context.Context, *config, string, *report) error
	}{
		{"hash", benchHash},
		{"local", benchLocal},
		{"peer", benchPeer},
		{"create", benchCreate},
		{"list", benchList},
		{"ryw", benchRYW},
		{"rss", benchRSS},
		{"fleet", benchFleet},
		{"repair", benchRepair},
		{"scale", benchScale},
	}
	for _, p := range phases {
		if !cfg.only[p.name] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		log.Printf("phase %s", p.name)
		t0 := time.Now()
		dir, err := os.MkdirTemp(base, p.name+"-")
		if err != nil {
			return err
		}
		err = p.fn(ctx, cfg, dir, rep)
		_ = os.RemoveAll(dir)
		if err != nil {
			return fmt.Errorf("phase %s: %w", p.name, err)
		}
		log.Printf("phase %s done in %s", p.name, time.Since(t0).Round(time.Second))
	}
	rep.total = time.Since(start)
	rep.machine.loadEnd = procLoad()
	rep.print(out, cfg)
	return nil
}

// parseOptSize is bytesize.Parse, with "0" meaning unset (0).
func parseOptSize(s string) (int64, error) {
	if strings.TrimSpace(s) == "0" {
		return 0, nil
	}
	return bytesize.Parse(s)
}

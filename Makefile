# p2pglance — see README.md.
GO      ?= go
BIN     := bin/p2pglance
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: all build run cluster test test-race test-faults vet fmt bench bench-fleet fuzz test-clients soak clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/p2pglance

## run: one node on the embedded default (data in ./data, API on http://127.0.0.1:9292, noauth)
run: build
	$(BIN) agent --data-dir ./data

## cluster: three nodes in the foreground (API on :9292, :9293, :9294; data under ./data/cluster); Ctrl-C stops them
cluster: build
	./scripts/cluster.sh $(BIN)

## test: vet, then every test (real Raft, Badger, memberlist and HTTP on loopback); the output is
## kept in bin/test.log and the failures are repeated at the end, where CI's tail shows them
test: vet
	@mkdir -p bin; { $(GO) test -count=1 -timeout 9m ./...; echo $$? >bin/test.rc; } 2>&1 | tee bin/test.log; \
		rc=$$(cat bin/test.rc); if [ "$$rc" != 0 ]; then echo "== make test failed; the failures (all in bin/test.log):"; \
		grep -E -A12 '^[[:space:]]*--- FAIL|^panic:|^FAIL' bin/test.log | grep -v 'level=' | head -n 120; fi; exit $$rc

## test-faults: real agent processes (root; ip and nft): SIGKILL, SIGSTOP, network partitions,
## a full disk and a torn copy of a data directory under load; acknowledged writes checked after
## each (faults/; a few minutes; make test does not run it)
test-faults: build
	$(GO) test ./faults -count=1 -v -timeout 15m -faults -faults.bin=$(abspath $(BIN))

test-race:
	$(GO) test -race -count=1 -timeout 15m ./...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...

## seaweedfs: bin/weed, SeaweedFS's S3 server that the object-store tests run (built once from the
## Go module proxy, ~4 minutes; make test skips those tests without it)
.PHONY: seaweedfs
seaweedfs:
	./scripts/build-seaweedfs.sh

## ui-screenshot: docs/dashboard.png, the dashboard (/p2p/ui) in Debian's headless chromium during a prefetch
.PHONY: ui-screenshot
ui-screenshot:
	P2PGLANCE_UI_SCREENSHOT=$(abspath docs/dashboard.png) $(GO) test ./testcluster -run '^TestDashboard$$' -count=1 -v 2>&1 | grep -E '^(---|ok|FAIL)'

## soak: mixed load with random faults for SOAK_DURATION (default 3m) on a 3-node cluster; porcupine
## checks the catalog history; unexpected answers must be 0; goroutines, heap and fds back to baseline
SOAK_DURATION ?= 3m
SOAK_OPS      ?= 150000
soak:
	@mkdir -p bin; echo "soak: $(SOAK_DURATION) of load and faults; full log in bin/soak.log"
	@$(GO) test ./testcluster -run '^TestSoak$$' -count=1 -v -timeout 60m -soak=$(SOAK_DURATION) -soak-ops=$(SOAK_OPS) >bin/soak.log 2>&1; \
		rc=$$?; grep -v 'level=' bin/soak.log | tail -n 60; exit $$rc

## bench: the BENCHMARKS.md figures (upload, download, peer download, creates, list, read-your-writes, RSS)
bench: build
	./scripts/bench.sh

## bench-fleet: one image to fleets of 5-40 nodes with capped uploads, p2pglance vs single-origin (BENCHMARKS.md, figure 7; ~11 minutes)
bench-fleet:
	./scripts/bench-fleet.sh

## bench-fleet-prod: figure 7 in production shape: production Raft and gossip timers, 4 MiB chunks, S = 128 MiB, B = 8 MiB/s (BENCHMARKS.md, figure 7p; ~12 minutes)
.PHONY: bench-fleet-prod
bench-fleet-prod:
	./scripts/bench-fleet.sh -fleet-fast=false -fleet-chunk 4MiB -fleet-size 128MiB -fleet-bw 8MiB -fleet-profile-nodes 0

## sim: the fleet simulator (cmd/p2pglance-sim, docs/sim.md): validation against figure 7, a prefetch to
## N = 1,000, boot storms and catalog propagation up to N = 10,000 (BENCHMARKS.md, "Simulator (issue 11)"; minutes)
.PHONY: sim sim-large
sim:
	@mkdir -p bin bench-results
	$(GO) build -o bin/p2pglance-sim ./cmd/p2pglance-sim
	bin/p2pglance-sim | tee bench-results/sim-$$(date -u +%Y%m%dT%H%M%SZ).md

## sim-large: a prefetch to N = 5,000 and 10,000 (the refusals a fleet-wide prefetch causes make it
## ~200 million events at 10,000: about half an hour of CPU)
sim-large:
	@mkdir -p bin bench-results
	$(GO) build -o bin/p2pglance-sim ./cmd/p2pglance-sim
	bin/p2pglance-sim -phase deliver -nodes 10000,5000 | tee bench-results/sim-large-$$(date -u +%Y%m%dT%H%M%SZ).md
## bench-holders: what knowing who holds which chunk costs each agent (heap, push/pull bytes, traffic), gossip bitmaps (the commit before) vs node/tracker, same program and flags, one run (BENCHMARKS.md, "Chunk holders"; ~3 minutes)
.PHONY: bench-holders
bench-holders:
	./scripts/bench-holders.sh

## bench-repair: the node holding durable copies of the most of 12 images lost (6 nodes, 3 zones, uploads capped): time to repair vs the survivors' aggregate uplink (BENCHMARKS.md, figure 8; ~1 minute)
.PHONY: bench-repair
bench-repair:
	$(GO) build -o bin/p2pglance-bench ./cmd/p2pglance-bench
	bin/p2pglance-bench -only repair


## bench-scale: N real agent processes (production timers) on loopback for N in SCALE_N (default
## "50 100 200 300"): join time, idle CPU and RSS per agent and of the leader, write visibility on
## every agent under 50 writes/s, creates/s, leader egress in a full restart vs the snapshot
## (BENCHMARKS.md, "Scale"; table and chart under bench-results/scale-*/; minutes per N)
SCALE_N ?= 50 100 200 300
.PHONY: bench-scale
bench-scale: build
	SCALE_N="$(SCALE_N)" BIN=$(BIN) ./scripts/bench-scale.sh

## fuzz: every fuzz target for FUZZTIME each (default 60s), one after the other (their seed corpora run in make test)
FUZZTIME ?= 60s
FUZZ_TARGETS := api:FuzzJSONBodies metadefs:FuzzBodies api:FuzzImagePatch api:FuzzListQuery raftfsm:FuzzApply node:FuzzPeerRequests peer:FuzzHandler \
	imageformat:FuzzInspect
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) ./$${t%%:*} || exit 1; \
	done

## test-clients: openstack, glance and openstacksdk (Debian's, apt-get when missing) against live
## 3-node clusters, every call on the next node: noauth, then Keystone sharing (scripts/keystone-setup.sh)
test-clients: build
	./scripts/test-clients.sh $(BIN)

## test-tempest: OpenStack's conformance suite: Debian's tempest (apt-get when missing) runs every
## tempest.api.image.v2 test against a Keystone-backed 3-node cluster, in a network namespace with
## only loopback (root); every test must pass and none be skipped (~6 minutes)
.PHONY: test-tempest
test-tempest: build
	./scripts/test-tempest.sh $(BIN)

clean:
	rm -rf bin

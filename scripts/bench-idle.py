#!/usr/bin/env python3
"""Idle cost of real p2pglance agents, builds side by side (BENCHMARKS.md, "Idle agent").

For each N and each build given with --bin LABEL=PATH (alternating builds, one fleet at a
time), starts N agent processes on loopback with production timers (a cluster secret, zones
z0-z2 and racks r0-r6, every agent joining agent 0), waits until agent 0's cluster view lists
all N alive with a leader, optionally creates images, lets the fleet settle, then samples every
agent over the idle window:

  CPU        utime + stime (/proc/PID/stat) and run time of every thread
             (/proc/PID/task/*/schedstat) over the window, in millicores
  wake-ups   voluntary + involuntary context switches of every thread, per second
  memory     VmRSS, RssAnon, RssFile (/proc/PID/status) at the end of the window

and prints one markdown row per build and N (agents grouped by the role agent 0 reports:
leader, voter, and the rest: replicas, or non-voters on builds that still have them).

  scripts/bench-idle.py --bin main=/tmp/p2pglance-main --bin new=bin/p2pglance --n 20,30

Every agent is stopped (SIGTERM, then SIGKILL after 15 s) at the end of its fleet, on error and
on SIGINT/SIGTERM. Keep N x builds within what the machine holds: fleets run one at a time.
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TCK = os.sysconf("SC_CLK_TCK")
SECRET = "bench-idle-secret-0123456789abcdef"


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", action="append", required=True, help="LABEL=PATH of an agent binary (repeatable)")
    p.add_argument("--n", default="20,30", help="comma-separated fleet sizes")
    p.add_argument("--settle", type=float, default=30, help="seconds between all joined (and the creates) and the window")
    p.add_argument("--window", type=float, default=60, help="seconds of idle sampled")
    p.add_argument("--creates", type=int, default=0, help="images created through agent 0 (16 clients) before settling")
    p.add_argument("--extra", default="", help="extra flags for every agent")
    p.add_argument("--port-base", type=int, default=31000, help="first port (4 per agent)")
    p.add_argument("--dir", default="", help="data directories (default: a temporary directory, removed)")
    return p.parse_args()


class Fleet:
    def __init__(self, binary, n, root, port_base, extra):
        self.binary, self.n, self.root, self.port_base, self.extra = binary, n, root, port_base, extra
        self.procs = []

    def ports(self, i):
        b = self.port_base + 4 * i
        return b, b + 1, b + 2, b + 3

    def api(self, i):
        return f"http://127.0.0.1:{self.ports(i)[0]}"

    def start(self, i):
        api, peer, raft, gossip = self.ports(i)
        args = [self.binary, "agent", "--node-id", f"n{i:03d}", "--data-dir", f"{self.root}/n{i}",
                "--api-addr", f"127.0.0.1:{api}", "--peer-addr", f"127.0.0.1:{peer}",
                "--raft-addr", f"127.0.0.1:{raft}", "--gossip-addr", f"127.0.0.1:{gossip}",
                "--zone", f"z{i % 3}", "--rack", f"r{i % 7}", "--log-level", "warn"]
        if i > 0:
            args += ["--join", f"127.0.0.1:{self.ports(0)[1]}"]
        args += self.extra.split()
        log = open(f"{self.root}/n{i}.log", "w")
        env = dict(os.environ, P2PGLANCE_CLUSTER_SECRET=SECRET)
        self.procs.append(subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT))

    def stop(self):
        for pr in self.procs:
            if pr.poll() is None:
                pr.send_signal(signal.SIGTERM)
        deadline = time.time() + 15
        for pr in self.procs:
            try:
                pr.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pr.kill()
                pr.wait()

    def check(self):
        for i, pr in enumerate(self.procs):
            if pr.poll() is not None:
                raise SystemExit(f"agent {i} exited with {pr.returncode}; see {self.root}/n{i}.log")

    def up(self):
        """Starts the fleet; returns (seconds until all joined, role by node id)."""
        t0 = time.time()
        self.start(0)
        wait_until(60, lambda: get(self.api(0) + "/versions") is not None, "agent 0 to answer", self.check)
        for i in range(1, self.n):
            self.start(i)
            time.sleep(0.1)
        info = {}

        def joined():
            time.sleep(1)
            got = get(self.api(0) + "/p2p/v1/cluster", timeout=10)
            if got is None:
                return False
            info.update(got)
            alive = [x for x in got["nodes"] if x["role"] != "none" and x.get("alive")]
            return len(alive) >= self.n and got.get("leader")
        wait_until(60 + 2 * self.n, joined, "every agent to join", self.check)
        return time.time() - t0, {x["id"]: x["role"] for x in info["nodes"]}

    def create(self, count):
        def one(i):
            body = json.dumps({"name": f"img-{i}", "disk_format": "raw", "container_format": "bare"}).encode()
            for _ in range(5):
                req = urllib.request.Request(self.api(0) + "/v2/images", data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        r.read()
                    return True
                except Exception:
                    time.sleep(0.2)
            return False
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            return sum(ex.map(one, range(count)))


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return json.loads(r.read())
    except Exception:
        return None


def wait_until(seconds, cond, what, check):
    deadline = time.time() + seconds
    while not cond():
        check()
        if time.time() > deadline:
            raise SystemExit(f"timed out after {seconds:.0f}s waiting for {what}")
        time.sleep(0.2)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TCK


def threads(pid):
    """Sum over the threads of (run time ns, context switches)."""
    run = switches = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                run += int(f.read().split()[0])
            with open(f"/proc/{pid}/task/{t}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        switches += int(line.split()[1])
        except FileNotFoundError:
            pass  # a thread that ended
    return run, switches


def memory(pid):
    d = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            d[k] = v.strip()
    return tuple(int(d[k].split()[0]) / 1024 for k in ("VmRSS", "RssAnon", "RssFile"))


def sample(procs, window):
    pids = [pr.pid for pr in procs]
    c0 = [cpu_ticks(p) for p in pids]
    t0 = [threads(p) for p in pids]
    w0 = time.time()
    time.sleep(window)
    c1 = [cpu_ticks(p) for p in pids]
    t1 = [threads(p) for p in pids]
    w = time.time() - w0
    rows = []
    for i, p in enumerate(pids):
        rows.append({
            "mc": (c1[i] - c0[i]) / w * 1000,
            "mc_sched": (t1[i][0] - t0[i][0]) / 1e6 / w,
            "csw": (t1[i][1] - t0[i][1]) / w,
            "mem": memory(p),
        })
    return rows


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def mx(xs):
    return max(xs) if xs else float("nan")


def main():
    a = parse()
    bins = []
    for b in a.bin:
        label, _, path = b.partition("=")
        bins.append((label, os.path.abspath(path)))
    root = a.dir or tempfile.mkdtemp(prefix="bench-idle-")
    fleet = None

    def bye(*_):
        raise SystemExit("signalled")
    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGINT, bye)
    print("| N | build | load avg before | all joined (s) | replicas: CPU median / max (millicores; schedstat median) | replicas: wake-ups/s median | replicas: VmRSS median / max, RssAnon / RssFile median (MiB) | voters: CPU median (millicores), VmRSS median (MiB) | leader: CPU (millicores), VmRSS (MiB) | whole fleet (cores) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    try:
        for n in [int(x) for x in a.n.split(",")]:
            for label, path in bins:
                load = os.getloadavg()[0]
                fdir = os.path.join(root, f"{label}-{n}")
                shutil.rmtree(fdir, ignore_errors=True)
                os.makedirs(fdir)
                fleet = Fleet(path, n, fdir, a.port_base, a.extra)
                joined, roles = fleet.up()
                if a.creates:
                    ok = fleet.create(a.creates)
                    print(f"{label} N={n}: created {ok}/{a.creates}", file=sys.stderr)
                time.sleep(a.settle)
                fleet.check()
                rows = sample(fleet.procs, a.window)
                fleet.stop()
                fleet = None
                role = [roles.get(f"n{i:03d}", "?") for i in range(n)]
                rep = [r for r, ro in zip(rows, role) if ro not in ("leader", "voter")]
                vot = [r for r, ro in zip(rows, role) if ro == "voter"]
                lead = [r for r, ro in zip(rows, role) if ro == "leader"]
                mc = [r["mc"] for r in rep]
                print(f"| {n} | {label} | {load:.1f} | {joined:.1f} "
                      f"| {med(mc):.1f} / {mx(mc):.1f} ({med([r['mc_sched'] for r in rep]):.1f}) "
                      f"| {med([r['csw'] for r in rep]):.0f} "
                      f"| {med([r['mem'][0] for r in rep]):.1f} / {mx([r['mem'][0] for r in rep]):.1f}, "
                      f"{med([r['mem'][1] for r in rep]):.1f} / {med([r['mem'][2] for r in rep]):.1f} "
                      f"| {med([r['mc'] for r in vot]):.1f}, {med([r['mem'][0] for r in vot]):.1f} "
                      f"| {med([r['mc'] for r in lead]):.1f}, {med([r['mem'][0] for r in lead]):.1f} "
                      f"| {sum(r['mc'] for r in rows) / 1000:.2f} |", flush=True)
    finally:
        if fleet is not None:
            fleet.stop()
        if not a.dir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

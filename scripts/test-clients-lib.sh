# shellcheck shell=bash
# Helpers for scripts/test-clients.sh (sourced, not run): step/fail
# reporting, JSON checks with python3, free loopback ports, a three-node
# p2pglance cluster, and the round-robin node picker every client call goes
# through. Expects BIN, WORK, HERE (this directory) and PY to be set.

# ---------------------------------------------------------------- reporting
STEP=""
# fd 3 is the terminal's stderr even inside $(...) captures: call logs go there.
exec 3>&2
step() { STEP="$*"; echo "--- $STEP"; }
note() { echo "    $*" >&3; }
fail() {
  {
    echo "FAIL: ${STEP:+[$STEP] }$1"
    if [ $# -gt 1 ]; then printf '%s\n' "$2" | sed 's/^/    | /' | head -80; fi
    if [ -s "$WORK/last-call" ]; then echo "    last call: $(cat "$WORK/last-call")"; fi
  } >&2
  exit 1
}
# has PATTERN MESSAGE: fail unless the last output ($out) matches PATTERN.
# shellcheck disable=SC2154 # out is the callers' last output
has() { grep -q -- "$1" <<<"$out" || fail "$2" "$out"; }
# empty_file PATH MESSAGE: fail unless PATH exists and is empty.
empty_file() { if [ ! -f "$1" ] || [ -s "$1" ]; then fail "$2" "$out"; fi; }
# same_file A B MESSAGE: fail unless A and B have the same bytes.
same_file() { cmp -s "$1" "$2" || fail "$3" "$(cmp "$1" "$2" 2>&1; ls -l "$1" "$2" 2>&1)"; }

# jtrue JSON PYEXPR MESSAGE: fail unless PYEXPR holds for d, the decoded JSON.
jtrue() {
  "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null ||
    fail "$3 (check: $2)" "$1"
}
# jget JSON PYEXPR: prints the expression's value (strings bare, others as JSON).
jget() {
  "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); v=eval(sys.argv[2]); print(v if isinstance(v,str) else json.dumps(v))' "$1" "$2" 2>/dev/null ||
    fail "cannot read $2 from the output" "$1"
}
# jeq JSON EXPECTED MESSAGE: fail unless JSON matches EXPECTED, a Python
# expression with matchers (TS, UUID, ANY, Opt(x), Unordered([...]); see
# test-clients-match.py): extra or missing keys are differences too.
jeq() {
  "$PY" "$HERE/test-clients-match.py" "$1" "$2" >"$WORK/jeq.diff" 2>&1 || fail "$3" "$(cat "$WORK/jeq.diff")"
}
# gtable: glance's "| Property | Value |" table on stdin -> JSON object
# (wrapped rows, with an empty key cell, continue the previous value).
gtable() {
  "$PY" -c '
import json, sys
d, last = {}, None
for line in sys.stdin:
    if not line.startswith("|"):
        continue
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) < 2:
        continue
    k, v = cells[0], "|".join(cells[1:]).strip()
    if k == "Property" and v == "Value":
        continue
    if k == "" and last is not None:
        d[last] += v
    else:
        d[k], last = v, k
print(json.dumps(d))'
}
# grows: a glance list table on stdin ("| ID | Name |" ...) -> JSON list of
# row objects keyed by the header cells.
grows() {
  "$PY" -c '
import json, sys
head, rows = None, []
for line in sys.stdin:
    if not line.startswith("|"):
        continue
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if head is None:
        head = cells
    else:
        rows.append(dict(zip(head, cells)))
print(json.dumps(rows))'
}

# ontty CMD...: runs a command on a pseudo-terminal (stdin a tty, no input):
# with stdin not a tty the clients upload stdin as image data.
ontty() {
  "$PY" -c 'import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))' \
    "$@" </dev/null | tr -d '\r'
  return "${PIPESTATUS[0]}"
}

# ------------------------------------------------------------------- ports
# free_ports N: N consecutive free loopback ports (TCP and UDP) in
# 19300-29000, never 9292-9294.
free_ports() {
  "$PY" - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
def free(p):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            return False
        finally:
            s.close()
    return True
for _ in range(500):
    base = random.randrange(19300, 29000 - n, 20)
    ports = list(range(base, base + n))
    if all(free(p) for p in ports):
        print(" ".join(map(str, ports)))
        break
else:
    raise SystemExit("no free port range")
EOF
}

# ----------------------------------------------------------------- cluster
PIDS=()  # every background process we started (nodes, http.server)
NODE_PIDS=()
URLS=()  # the API URL of node 1..3 at index 0..2

# start_cluster NAME [agent flags...]: three nodes named NAME-node1..3 with
# data and logs under $WORK/NAME, on fresh free ports; waits until all
# three see each other alive with a leader (asking with $CLUSTER_TOKEN when
# set). Sets URLS and NODE_PIDS. The ports (API 1-3, peer 1-3, Raft 1-3,
# gossip 1-3) are the array CLUSTER_PORTS when set, else fresh free ones.
start_cluster() {
  local name=$1 n ports
  shift
  if [ -n "${CLUSTER_PORTS[*]:-}" ]; then
    ports=("${CLUSTER_PORTS[@]}")
  else
    read -r -a ports <<<"$(free_ports 12)"
  fi
  [ "${#ports[@]}" -eq 12 ] || fail "cannot find 12 free ports"
  URLS=() NODE_PIDS=()
  mkdir -p "$WORK/$name"
  for n in 1 2 3; do
    local join=()
    if [ "$n" -gt 1 ]; then join=(--join "127.0.0.1:${ports[3]}"); fi
    "$BIN" agent --node-id "$name-node$n" --data-dir "$WORK/$name/node$n" \
      --api-addr "127.0.0.1:${ports[$((n - 1))]}" --peer-addr "127.0.0.1:${ports[$((n + 2))]}" \
      --raft-addr "127.0.0.1:${ports[$((n + 5))]}" --gossip-addr "127.0.0.1:${ports[$((n + 8))]}" \
      --zone "zone$((n % 2))" --rack "rack$n" "${join[@]}" "$@" >"$WORK/$name/node$n.log" 2>&1 &
    PIDS+=($!)
    NODE_PIDS+=($!)
    URLS+=("http://127.0.0.1:${ports[$((n - 1))]}")
    if [ "$n" -eq 1 ]; then sleep 1; fi
  done
  "$PY" - "${URLS[@]}" <<'EOF' || fail "the cluster did not form within 60s"
import json, os, sys, time, urllib.request
deadline = time.time() + 60
last = None
while time.time() < deadline:
    try:
        ok = True
        for u in sys.argv[1:]:
            req = urllib.request.Request(u + "/p2p/v1/cluster")
            if os.environ.get("CLUSTER_TOKEN"):  # --auth keystone wants one
                req.add_header("X-Auth-Token", os.environ["CLUSTER_TOKEN"])
            with urllib.request.urlopen(req, timeout=2) as r:
                c = json.load(r)
            last = c
            alive = [n for n in c.get("nodes", []) if n.get("alive")]
            if len(alive) != 3 or not c.get("leader"):
                ok = False
        if ok:
            sys.exit(0)
    except Exception as e:
        last = e
    time.sleep(0.3)
print("last answer:", last, file=sys.stderr)
sys.exit(1)
EOF
  for n in 1 2 3; do kill -0 "${NODE_PIDS[$((n - 1))]}" 2>/dev/null || fail "node$n exited"; done
  echo 0 >"$WORK/rr"
}

# stop_pids PID...: SIGTERM, up to 20s each to exit, then SIGKILL.
stop_pids() {
  local p i
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for ((i = 0; i < 40; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}

# stop_all RC: at exit, stops every process started (nodes, web server),
# prints the node logs when RC is not 0, and stops Keystone and RabbitMQ if
# this script started them (KEYSTONE_STARTED=1, RABBIT_STARTED=1).
stop_all() {
  stop_pids "${PIDS[@]}"
  if [ "$1" -ne 0 ]; then node_logs; fi
  if [ "${KEYSTONE_STARTED:-0}" = 1 ]; then bash "$HERE/keystone-stop.sh" >/dev/null 2>&1 || true; fi
  if [ "${RABBIT_STARTED:-0}" = 1 ]; then bash "$HERE/rabbitmq-stop.sh" >/dev/null 2>&1 || true; fi
}

stop_cluster() {
  stop_pids "${NODE_PIDS[@]}"
  NODE_PIDS=()
}

# node_logs: the last lines of every node log of every cluster (on stderr).
node_logs() {
  local f
  for f in "$WORK"/*/node?.log; do
    [ -f "$f" ] || continue
    echo "=== last lines of ${f#"$WORK"/}" >&2
    tail -n 20 "$f" >&2
  done
}

# rr: the next node (1..3) in round-robin order; the counter lives in a
# file so that calls inside $(...) advance it too. Two calls in a row never
# go to the same node.
rr() {
  local c
  c=$(cat "$WORK/rr")
  echo $((c + 1)) >"$WORK/rr"
  echo $((c % 3 + 1))
}
# called NODE WHAT...: records and logs which node serves a client call.
called() {
  local n=$1
  shift
  echo "[node$n ${URLS[$((n - 1))]}] $*" >"$WORK/last-call"
  echo "[node$n ${URLS[$((n - 1))]}] $*" >>"$WORK/calls.log"
  note "node$n: $*"
}

# fetch URL: the body, then the status on a line of its own (any status).
fetch() {
  "$PY" - "$1" <<'EOF'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=10)
    body, code = r.read(), r.status
except urllib.error.HTTPError as e:
    body, code = e.read(), e.code
sys.stdout.write(body.decode() + "\n" + str(code))
EOF
}

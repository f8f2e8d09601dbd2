#!/usr/bin/env bash
# Real OpenStack clients, end to end (make test-clients): Debian's
# python3-openstackclient (`openstack`), python3-glanceclient (`glance`) and
# python3-openstacksdk (scripts/test-clients-sdk.py) against live
# three-node p2pglance clusters, every client call on the next node in
# round-robin order (so no two calls in a row hit the same node).
#
#   ./scripts/test-clients.sh bin/p2pglance
#
# 1. noauth: a cluster with --auth noauth; openstack --os-auth-type none,
#    glance --os-image-url ... --os-auth-token x, and openstacksdk with a
#    clouds.yaml of auth_type none + endpoint_override: create/upload, list
#    with filters, sorting and paging, show, save (byte-exact, hashes), set
#    and unset, visibility, deactivate/activate, protected, glance-direct and
#    web-download imports (the web server is python's http.server on
#    loopback), tasks, delete.
# 2. keystone: a real Keystone (scripts/keystone-setup.sh, 127.0.0.1:35357)
#    and a cluster with --auth keystone: user1/demo1 shares an image with
#    demo2, user2 accepts, lists, downloads; members with openstack, glance
#    (real tokens) and openstacksdk; removal hides the image again.
#
# Every step compares the client's output with what Glance would give; the
# first difference stops the run with the step, the output, the last call
# and the tail of every node's log, and exit status 1. Nodes and the web
# server are stopped on every exit (and Keystone, if this script started
# it). Ports: free loopback ports in 19300-29000 (never 9292-9294).
# P2PGLANCE_TEST_CLIENTS_KEEP=1 keeps the temp dir; P2PGLANCE_TEST_CLIENTS_PARTS
# picks parts ("noauth keystone" by default).
set -euo pipefail

BIN=${1:?usage: $0 path/to/p2pglance}
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
[ -x "$BIN" ] || { echo "test-clients: $BIN is not an executable" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
PARTS=${P2PGLANCE_TEST_CLIENTS_PARTS:-noauth keystone}
T0=$(date +%s)

# ------------------------------------------------------------- the clients
# Debian's python3 (the one the packages install into), not some other
# python3 earlier on PATH.
PY=/usr/bin/python3
export DEBIAN_FRONTEND=noninteractive
have_clients() {
  command -v openstack >/dev/null 2>&1 && command -v glance >/dev/null 2>&1 &&
    [ -x "$PY" ] && "$PY" -c 'import openstack' >/dev/null 2>&1
}
if ! have_clients; then
  pkgs=(python3-openstackclient python3-glanceclient python3-openstacksdk)
  echo "installing ${pkgs[*]} (apt-get)..."
  if ! apt-get install -y -qq "${pkgs[@]}" >/tmp/p2pglance-test-clients-apt.log 2>&1; then
    apt-get update -qq >>/tmp/p2pglance-test-clients-apt.log 2>&1 || true
    apt-get install -y -qq "${pkgs[@]}" >>/tmp/p2pglance-test-clients-apt.log 2>&1 ||
      { tail -20 /tmp/p2pglance-test-clients-apt.log >&2; echo "test-clients: apt-get install ${pkgs[*]} failed" >&2; exit 1; }
  fi
  have_clients || { echo "test-clients: openstack, glance or python3's openstack module still missing" >&2; exit 1; }
fi
# promtool (Debian's prometheus package) checks every node's /metrics.
if ! command -v promtool >/dev/null 2>&1; then
  echo "installing prometheus (apt-get, for promtool)..."
  apt-get install -y -qq --no-install-recommends prometheus >/tmp/p2pglance-test-clients-apt.log 2>&1 ||
    { apt-get update -qq >>/tmp/p2pglance-test-clients-apt.log 2>&1 || true
      apt-get install -y -qq --no-install-recommends prometheus >>/tmp/p2pglance-test-clients-apt.log 2>&1; } ||
    { tail -20 /tmp/p2pglance-test-clients-apt.log >&2; echo "test-clients: apt-get install prometheus failed" >&2; exit 1; }
fi
VERSIONS="openstackclient $(openstack --version 2>&1 | awk '{print $2}'), glanceclient $(glance --version 2>&1), openstacksdk $("$PY" -c 'import openstack.version as v; print(v.__version__)'), keystoneauth1 $("$PY" -c 'import keystoneauth1, importlib.metadata as m; print(m.version("keystoneauth1"))' 2>/dev/null || echo '?')"
echo "clients: $VERSIONS"

# Keep the user's cloud settings, proxies and caches out of the run.
for v in $(compgen -e | grep -E '^(OS_|http_proxy|https_proxy|HTTP_PROXY|HTTPS_PROXY)' || true); do unset "$v"; done
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
WORK=$(mktemp -d "${TMPDIR:-/tmp}/p2pglance-clients.XXXXXX")
export HOME="$WORK/home" XDG_CACHE_HOME="$WORK/home/.cache" XDG_CONFIG_HOME="$WORK/home/.config"
mkdir -p "$HOME/.config/openstack"
CLOUDS="$HOME/.config/openstack/clouds.yaml"
: >"$WORK/calls.log"

# shellcheck source=scripts/test-clients-lib.sh
. "$HERE/test-clients-lib.sh"

KEYSTONE_STARTED=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all $rc
  local calls stale=0
  calls=$(wc -l <"$WORK/calls.log" 2>/dev/null || echo '?')
  if [ -s "$WORK/stale.log" ]; then
    stale=$(wc -l <"$WORK/stale.log")
    echo "note: $stale read(s) right after a write on another node showed the old state first (Glance never does):" >&2
    sed 's/^/    /' "$WORK/stale.log" >&2
  fi
  if [ "${P2PGLANCE_TEST_CLIENTS_KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  if [ $rc -eq 0 ]; then echo "PASS: $calls client calls, round-robin over 3 nodes, $stale stale read(s), in $(($(date +%s) - T0))s ($VERSIONS)"; fi
  exit $rc
}
trap cleanup EXIT
trap 'echo "test-clients: interrupted" >&2; exit 130' INT
trap 'echo "test-clients: terminated" >&2; exit 143' TERM

# ------------------------------------------------------------- test data
IMG="$WORK/disk.raw" # two 4 MiB chunks and a bit
head -c $((5 * 1024 * 1024 + 4321)) /dev/urandom >"$IMG"
SIZE=$(stat -c %s "$IMG")
MD5=$(md5sum "$IMG" | cut -d' ' -f1)
SHA512=$(sha512sum "$IMG" | cut -d' ' -f1)
IMG2="$WORK/small.raw" # one chunk
head -c $((1024 * 1024 + 7)) /dev/urandom >"$IMG2"
SIZE2=$(stat -c %s "$IMG2")
MD5_2=$(md5sum "$IMG2" | cut -d' ' -f1)
SHA512_2=$(sha512sum "$IMG2" | cut -d' ' -f1)
mkdir -p "$WORK/www"
WEBIMG="$WORK/www/web.raw" # what web-download fetches
head -c $((3 * 1024 * 1024 + 11)) /dev/urandom >"$WEBIMG"
WEBSIZE=$(stat -c %s "$WEBIMG")
WEBMD5=$(md5sum "$WEBIMG" | cut -d' ' -f1)
WEBSHA512=$(sha512sum "$WEBIMG" | cut -d' ' -f1)
TAG=$("$PY" -c 'import uuid; print(uuid.uuid4().hex[:8])')
EMPTY_MD5=d41d8cd98f00b204e9800998ecf8427e
EMPTY_SHA512=$(sha512sum /dev/null | cut -d' ' -f1)
export TAG IMG SIZE MD5 SHA512 IMG2 SIZE2 MD5_2 SHA512_2 WEBIMG WEBSIZE WEBMD5 WEBSHA512

# The web server for web-download imports: python's http.server on loopback.
WEBPORT=$(free_ports 1)
"$PY" -m http.server --bind 127.0.0.1 --directory "$WORK/www" "$WEBPORT" >"$WORK/www.log" 2>&1 &
PIDS+=($!)
WEBURL="http://127.0.0.1:$WEBPORT/web.raw"
export WEBURL
"$PY" - "$WEBURL" <<'EOF' || fail "the web server on $WEBURL does not answer"
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1).read(1)
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(1)
EOF

# ---------------------------------------------------------- client calls
# Each picks the next node (rr) and records it (called).
osc() { # osc ARGS...: openstack without auth
  local n
  n=$(rr)
  called "$n" "openstack $*"
  openstack --os-auth-type none --os-endpoint "${URLS[$((n - 1))]}" --os-image-api-version 2 "$@"
}
osc_tty() { # osc_tty ARGS...: the same on a pseudo-terminal (no stdin data)
  local n
  n=$(rr)
  called "$n" "openstack $*"
  ontty openstack --os-auth-type none --os-endpoint "${URLS[$((n - 1))]}" --os-image-api-version 2 "$@"
}
gl() { # gl ARGS...: glance with a static endpoint (noauth ignores the token),
  # on a pseudo-terminal: with stdin not a tty, glance sends stdin as data.
  local n
  n=$(rr)
  called "$n" "glance $*"
  ontty glance --os-image-url "${URLS[$((n - 1))]}" --os-auth-token noauth --os-image-api-version 2 "$@"
}
sdk() { # sdk MODE: the openstacksdk script; it round-robins itself from the counter
  local c rc=0
  c=$(cat "$WORK/rr")
  "$PY" "$HERE/test-clients-sdk.py" "$1" "$c" "$WORK" || rc=$?
  [ $rc -eq 0 ] || { STEP="openstacksdk ($1)"; fail "test-clients-sdk.py $1 failed (exit $rc)"; }
}

# wait_status ID STATUS CMD...: polls CMD's image show (JSON with "status")
# until STATUS, 60s at most; prints the last output.
wait_status() {
  local id=$1 want=$2 i o=""
  shift 2
  for ((i = 0; i < 120; i++)); do
    o=$("$@" "$id" 2>&1) || true
    if "$PY" -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1]).get("status")==sys.argv[2] else 1)' "$o" "$want" 2>/dev/null; then
      printf '%s' "$o"
      return 0
    fi
    sleep 0.5
  done
  fail "image $id did not become $want within 60s" "$o"
}
osc_show() { osc image show -f json "$@"; }
gl_show() { gl image-show "$@" | gtable; }

# osc_expect ID NAME SIZE MD5 SHA512 STATUS PROPS TAGS [OVERRIDES]: the
# `openstack image show -f json` Glance gives for a raw/bare image without
# owner (noauth), as Python text for jeq. SIZE/MD5/SHA512 None: no data.
# PROPS: a dict of custom properties; TAGS a list; OVERRIDES a dict of
# top-level keys replacing the defaults (min_ram, visibility, owner...).
# virtual_size: Glance's format inspector sets it (= size for raw); we
# accept it absent too.
osc_expect() {
  local id=$1 name=$2 size=$3 md5=$4 sha=$5 status=$6 props=$7 tags=$8 over=${9:-'{}'}
  local data="'checksum': '$md5', 'size': $size, 'virtual_size': Opt($size),"
  local hashes="'os_hash_algo': 'sha512', 'os_hash_value': '$sha'"
  if [ "$size" = None ]; then data="" hashes=""; fi
  echo "dict({'id': '$id', 'name': '$name', 'status': '$status', $data
    'container_format': 'bare', 'disk_format': 'raw', 'created_at': TS, 'updated_at': TS,
    'file': '/v2/images/$id/file', 'schema': '/v2/schemas/image', 'min_disk': 0, 'min_ram': 0,
    'protected': False, 'visibility': 'shared', 'tags': Unordered($tags),
    'properties': dict({'os_hidden': False, 'stores': STORES, $hashes}, **$props)}, **$over)"
}
# sdkprops NAME [DICT]: the properties openstacksdk's create_image (so
# `openstack image create`) adds to an image named NAME, plus DICT.
sdkprops() {
  local more=${2:-}
  [ -n "$more" ] || more='{}'
  echo "dict({'owner_specified.openstack.md5': '', 'owner_specified.openstack.sha256': '', 'owner_specified.openstack.object': 'images/$1'}, **$more)"
}

NOAUTH=0 KEYSTONE=0
for p in $PARTS; do
  case $p in noauth) NOAUTH=1 ;; keystone) KEYSTONE=1 ;; *) echo "unknown part $p" >&2; exit 2 ;; esac
done

if [ "$NOAUTH" = 1 ]; then
  # shellcheck source=scripts/test-clients-noauth.sh
  . "$HERE/test-clients-noauth.sh"
fi
if [ "$KEYSTONE" = 1 ]; then
  # shellcheck source=scripts/test-clients-keystone.sh
  . "$HERE/test-clients-keystone.sh"
fi
STEP=""

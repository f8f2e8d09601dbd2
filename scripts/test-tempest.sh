#!/usr/bin/env bash
# OpenStack's conformance suite against p2pglance (make test-tempest):
# Debian's tempest (python3-tempest, apt-get when missing) runs every test
# of tempest.api.image.v2 against a three-node cluster with --auth
# keystone, configured as a production Glance would be:
#
#   - a real Keystone (scripts/keystone-setup.sh) whose catalog names node 1
#     as the image service and node 2 as "image_remote" (tempest's
#     alternate_image_endpoint: stage on one node, import or delete on
#     another);
#   - locations shown and manageable (--show-multiple-locations), the
#     cache API (image_caching_enabled; a prefetch pass every 2 s), every
#     import method, glance-download from RegionOne
#     (--glance-download-endpoints, node 3);
#   - several stores: the nodes sit in two zones, and every zone is a store;
#   - web-download and http locations from a web server on loopback, which
#     the cluster is told it may read (--import-internal-hosts 127.0.0.1 and
#     its port; a fresh install refuses loopback).
#
# Everything (Keystone, nodes, web server, tempest) runs in a network
# namespace of its own holding only loopback (unshare -n, as root): one
# test imports from http://does-not.exist/, whose name lookup must fail
# there rather than leave the machine. Keystone's state is its own too
# ($P2PGLANCE_KEYSTONE_DIR, default /var/lib/p2pglance-keystone-tempest),
# so a Keystone of make test outside the namespace is not disturbed.
#
#   ./scripts/test-tempest.sh bin/p2pglance
#
# Prints tempest's summary; exits non-zero when a test fails or is skipped
# (every one of them must run). P2PGLANCE_TEMPEST_REGEX picks other tests
# (default '^tempest\.api\.image\.v2'), P2PGLANCE_TEMPEST_CONCURRENCY the
# workers (default 2), P2PGLANCE_TEST_CLIENTS_KEEP=1 keeps the work
# directory (tempest.conf, tempest.log, node logs). Ports: free loopback
# ports in 19300-29000 (never 9292-9294); Keystone as keystone-setup.sh
# has it (P2PGLANCE_KEYSTONE_PORT, default 35357), stopped on exit when
# this script started it (the namespace ends with the script anyway).
set -euo pipefail

BIN=${1:?usage: $0 path/to/p2pglance}
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
[ -x "$BIN" ] || { echo "test-tempest: $BIN is not an executable" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
REGEX=${P2PGLANCE_TEMPEST_REGEX:-'^tempest\.api\.image\.v2'}
CONCURRENCY=${P2PGLANCE_TEMPEST_CONCURRENCY:-2}
T0=$(date +%s)
PY=/usr/bin/python3
export DEBIAN_FRONTEND=noninteractive

if ! command -v tempest >/dev/null 2>&1; then
  echo "installing python3-tempest (apt-get)..."
  if ! apt-get install -y -qq python3-tempest >/tmp/p2pglance-tempest-apt.log 2>&1; then
    apt-get update -qq >>/tmp/p2pglance-tempest-apt.log 2>&1 || true
    apt-get install -y -qq python3-tempest >>/tmp/p2pglance-tempest-apt.log 2>&1 ||
      { tail -20 /tmp/p2pglance-tempest-apt.log >&2; echo "test-tempest: apt-get install python3-tempest failed" >&2; exit 1; }
  fi
fi
command -v ip >/dev/null 2>&1 || apt-get install -y -qq iproute2 >/dev/null 2>&1 ||
  { apt-get update -qq && apt-get install -y -qq iproute2; }
P2PGLANCE_KEYSTONE_INSTALL_ONLY=1 bash "$HERE/keystone-setup.sh" ||
  { echo "test-tempest: cannot install Keystone" >&2; exit 1; }
if [ "${P2PGLANCE_TEMPEST_NETNS:-0}" != 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "test-tempest: needs root (unshare -n)" >&2; exit 1; }
  export P2PGLANCE_TEMPEST_NETNS=1
  export P2PGLANCE_KEYSTONE_DIR=${P2PGLANCE_KEYSTONE_DIR:-/var/lib/p2pglance-keystone-tempest}
  exec unshare -n -- bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$BIN"
fi
echo "tempest: $(tempest --version 2>&1 | tail -1), in a network namespace with only loopback"

for v in $(compgen -e | grep -E '^(OS_|http_proxy|https_proxy|HTTP_PROXY|HTTPS_PROXY)' || true); do unset "$v"; done
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
WORK=$(mktemp -d "${TMPDIR:-/tmp}/p2pglance-tempest.XXXXXX")
export HOME="$WORK/home"
mkdir -p "$HOME"
: >"$WORK/calls.log"

# shellcheck source=scripts/test-clients-lib.sh
. "$HERE/test-clients-lib.sh"

KEYSTONE_STARTED=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all $rc
  if [ "${P2PGLANCE_TEST_CLIENTS_KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  echo "test-tempest: $([ $rc -eq 0 ] && echo PASS || echo FAIL) in $(($(date +%s) - T0))s"
  exit $rc
}
trap cleanup EXIT
trap 'echo "test-tempest: interrupted" >&2; exit 130' INT
trap 'echo "test-tempest: terminated" >&2; exit 143' TERM

step "keystone: scripts/keystone-setup.sh"
if ! "$PY" -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
  "http://127.0.0.1:${P2PGLANCE_KEYSTONE_PORT:-35357}/v3" >/dev/null 2>&1; then
  KEYSTONE_STARTED=1
fi
ks_env=$(bash "$HERE/keystone-setup.sh" 2>"$WORK/keystone-setup.log") ||
  fail "keystone-setup.sh failed" "$(tail -30 "$WORK/keystone-setup.log")"
eval "$ks_env"
KURL=$P2PGLANCE_TEST_KEYSTONE_URL
export KURL ADMIN_PW=$P2PGLANCE_TEST_KEYSTONE_ADMIN_PASSWORD

# What tempest's http_image names: a small file on a loopback web server.
mkdir -p "$WORK/www"
head -c $((1024 * 1024 + 13)) /dev/urandom >"$WORK/www/http-image.raw"
WEBPORT=$(free_ports 1)
"$PY" -m http.server --bind 127.0.0.1 --directory "$WORK/www" "$WEBPORT" >"$WORK/www.log" 2>&1 &
PIDS+=($!)
HTTP_IMAGE="http://127.0.0.1:$WEBPORT/http-image.raw"

step "cluster: three nodes with --auth keystone"
read -r -a CLUSTER_PORTS <<<"$(free_ports 12)"
[ "${#CLUSTER_PORTS[@]}" -eq 12 ] || fail "cannot find 12 free ports"
N1="http://127.0.0.1:${CLUSTER_PORTS[0]}" N2="http://127.0.0.1:${CLUSTER_PORTS[1]}" N3="http://127.0.0.1:${CLUSTER_PORTS[2]}"
tok=$("$PY" "$HERE/tempest-catalog.py" token) || fail "no admin token from Keystone"
CLUSTER_TOKEN=$tok P2PGLANCE_KEYSTONE_PASSWORD=$P2PGLANCE_TEST_KEYSTONE_GLANCE_PASSWORD \
  start_cluster glance --auth keystone --keystone-url "$KURL" \
  --show-multiple-locations --cache-prefetch-interval 2s \
  --glance-download-endpoints "RegionOne=$N3" \
  --import-internal-hosts 127.0.0.1 --import-allowed-ports "80,443,$WEBPORT"
note "nodes: ${URLS[*]}"

step "keystone: the catalog names node 1 (image) and node 2 (image_remote)"
# (Keystone's database is this script's own: nothing to put back.)
"$PY" "$HERE/tempest-catalog.py" point "$N1" "$N2" 2>"$WORK/catalog.log" ||
  fail "cannot point the catalog at the cluster" "$(cat "$WORK/catalog.log")"

step "tempest: init and tempest.conf"
(cd "$WORK" && tempest init tempest >"$WORK/tempest-init.log" 2>&1) || fail "tempest init failed" "$(cat "$WORK/tempest-init.log")"
export TEMPEST_CONFIG_DIR="$WORK/tempest/etc" TEMPEST_CONFIG=tempest.conf
cat >"$WORK/tempest/etc/tempest.conf" <<EOF
[DEFAULT]
log_file = $WORK/tempest/tempest.log
use_stderr = false

[auth]
use_dynamic_credentials = true
admin_username = admin
admin_password = $ADMIN_PW
admin_project_name = admin
admin_domain_name = Default
default_credentials_domain_name = Default
create_isolated_networks = false

[identity]
uri_v3 = $KURL/v3
auth_version = v3
region = RegionOne
disable_ssl_certificate_validation = true

[identity-feature-enabled]
api_v2 = false

[service_available]
glance = true
nova = false
cinder = false
neutron = false
swift = false
horizon = false

[image]
http_image = $HTTP_IMAGE
image_caching_enabled = true
alternate_image_endpoint = image_remote
build_timeout = 120

[image-feature-enabled]
import_image = true
os_glance_reserved = true
manage_locations = true
EOF

step "tempest: run --regex '$REGEX' --concurrency $CONCURRENCY"
set +e
(cd "$WORK/tempest" && tempest run --regex "$REGEX" --concurrency "$CONCURRENCY") >"$WORK/tempest-run.log" 2>&1
rc=$?
set -e
grep -E '^\{[0-9]+\} .*\.\.\. (FAILED|SKIPPED)' "$WORK/tempest-run.log" || true
summary=$(sed -n '/^Totals$/,/^Worker Balance/p' "$WORK/tempest-run.log")
echo "$summary"
[ $rc -eq 0 ] || fail "tempest failed (exit $rc)" "$(grep -B2 -A40 -E '^(FAIL|ERROR):' "$WORK/tempest-run.log" | head -200)"
skipped=$(grep -E '^ - Skipped: ' <<<"$summary" | awk '{print $3}')
[ "${skipped:-0}" = 0 ] || fail "$skipped test(s) skipped; every one must run"
STEP=""

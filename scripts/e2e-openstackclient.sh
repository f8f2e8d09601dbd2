#!/usr/bin/env bash
# End-to-end check with the real python-openstackclient (Debian's
# python3-openstackclient, installed with apt-get when `openstack` is
# missing) and, when present, glanceclient's own `glance` CLI, against a live
# three-node p2pglance cluster started from the given binary on free
# loopback ports (never 9292-9294) with temporary data directories.
#
#   ./scripts/e2e-openstackclient.sh bin/p2pglance
#
# Every step checks the client's output; the first failure stops the run
# with a message and a non-zero exit status. The cluster is stopped (and its
# data removed) on every exit. P2PGLANCE_E2E_KEEP=1 keeps the temp dir.
set -euo pipefail

BIN=${1:?usage: $0 path/to/p2pglance}
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
[ -x "$BIN" ] || { echo "e2e: $BIN is not an executable" >&2; exit 2; }

# ---------------------------------------------------------------- helpers
STEP=""
step() { STEP="$*"; echo "--- $STEP"; }
fail() {
  echo "FAIL: ${STEP:+[$STEP] }$1" >&2
  if [ $# -gt 1 ]; then printf '%s\n' "$2" | sed 's/^/    | /' | head -60 >&2; fi
  exit 1
}
# has PATTERN MESSAGE: fail unless the last output ($out) matches PATTERN.
has() { grep -q -- "$1" <<<"$out" || fail "$2" "$out"; }
# empty_file PATH MESSAGE: fail unless PATH exists and is empty.
empty_file() { if [ ! -f "$1" ] || [ -s "$1" ]; then fail "$2" "$out"; fi; }

# jq-like checks on JSON with python3: jtrue JSON PYEXPR MESSAGE (d is the
# decoded document); jget JSON PYEXPR prints the expression's value.
jtrue() {
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null ||
    fail "$3 (check: $2)" "$1"
}
jget() {
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); v=eval(sys.argv[2]); print(v if isinstance(v,str) else json.dumps(v))' "$1" "$2" 2>/dev/null ||
    fail "cannot read $2 from the output" "$1"
}
# gtable parses glance's "| Property | Value |" table into a JSON object
# (wrapped rows, which have an empty key cell, continue the previous value).
gtable() {
  python3 -c '
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

# ------------------------------------------------------------- the clients
export DEBIAN_FRONTEND=noninteractive
if ! command -v openstack >/dev/null 2>&1; then
  echo "installing python3-openstackclient (apt-get)..."
  if ! apt-get install -y -qq python3-openstackclient >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq python3-openstackclient >/dev/null 2>&1 ||
      { echo "e2e: cannot install python3-openstackclient with apt-get" >&2; exit 1; }
  fi
fi
command -v openstack >/dev/null 2>&1 || { echo "e2e: openstack CLI still missing" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "e2e: python3 missing" >&2; exit 1; }
HAVE_GLANCE=0
if command -v glance >/dev/null 2>&1; then HAVE_GLANCE=1; fi
echo "clients: $(openstack --version 2>&1); glance $( [ $HAVE_GLANCE = 1 ] && glance --version 2>&1 || echo absent)"

# Keep the user's cloud settings and caches out of the run.
for v in $(compgen -e | grep '^OS_' || true); do unset "$v"; done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/p2pglance-e2e.XXXXXX")
export HOME="$WORK/home" XDG_CACHE_HOME="$WORK/home/.cache" XDG_CONFIG_HOME="$WORK/home/.config"
mkdir -p "$HOME"

# Stop the nodes and remove the temp dir on every exit.
PIDS=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p i
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do # 20s each to stop cleanly, then SIGKILL
    for ((i = 0; i < 40; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ $rc -ne 0 ]; then
    for n in 1 2 3; do
      [ -f "$WORK/node$n.log" ] || continue
      echo "=== last lines of node$n's log" >&2
      tail -n 15 "$WORK/node$n.log" >&2
    done
  fi
  if [ "${P2PGLANCE_E2E_KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'echo "e2e: interrupted" >&2; exit 130' INT
trap 'echo "e2e: terminated" >&2; exit 143' TERM

# -------------------------------------------------------------- the cluster
# Twelve free loopback ports (TCP, and UDP for gossip), none of 9292-9294.
read -r -a PORTS <<<"$(python3 - <<'EOF'
import socket, random
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
for _ in range(200):
    base = random.randrange(19300, 29000, 20)
    ports = [base + i for i in range(12)]
    if all(free(p) for p in ports):
        print(" ".join(map(str, ports)))
        break
else:
    raise SystemExit("no free port range")
EOF
)"
[ "${#PORTS[@]}" -eq 12 ] || { echo "e2e: cannot find free ports" >&2; exit 1; }
api_port() { echo "${PORTS[$(($1 - 1))]}"; }      # node 1..3
peer_port() { echo "${PORTS[$((2 + $1))]}"; }
raft_port() { echo "${PORTS[$((5 + $1))]}"; }
gossip_port() { echo "${PORTS[$((8 + $1))]}"; }


for n in 1 2 3; do
  join=()
  if [ "$n" -gt 1 ]; then join=(--join "127.0.0.1:$(peer_port 1)"); fi
  "$BIN" agent --node-id "e2e-node$n" --data-dir "$WORK/node$n" \
    --api-addr "127.0.0.1:$(api_port $n)" --peer-addr "127.0.0.1:$(peer_port $n)" \
    --raft-addr "127.0.0.1:$(raft_port $n)" --gossip-addr "127.0.0.1:$(gossip_port $n)" \
    --zone "zone$((n % 2))" --rack "rack$n" "${join[@]}" >"$WORK/node$n.log" 2>&1 &
  PIDS+=($!)
  if [ "$n" -eq 1 ]; then sleep 1; fi
done
URL1="http://127.0.0.1:$(api_port 1)"
URL2="http://127.0.0.1:$(api_port 2)"
URL3="http://127.0.0.1:$(api_port 3)"

step "cluster of 3 alive nodes with a leader ($URL1 $URL2 $URL3)"
python3 - "$URL1" "$URL2" "$URL3" <<'EOF' || fail "the cluster did not form within 60s"
import json, sys, time, urllib.request
deadline = time.time() + 60
last = None
while time.time() < deadline:
    try:
        ok = True
        for u in sys.argv[1:]:
            with urllib.request.urlopen(u + "/p2p/v1/cluster", timeout=2) as r:
                c = json.load(r)
            last = c
            alive = [n for n in c.get("nodes", []) if n.get("alive")]
            if len(alive) != 3 or not c.get("leader"):
                ok = False
        if ok:
            sys.exit(0)
    except Exception as e:
        last = e
    time.sleep(0.5)
print("last answer:", last, file=sys.stderr)
sys.exit(1)
EOF
for n in 1 2 3; do kill -0 "${PIDS[$((n - 1))]}" 2>/dev/null || fail "node$n exited"; done

osc() { # osc NODE args...: the openstack CLI without auth against node NODE
  local n=$1
  shift
  openstack --os-auth-type none --os-endpoint "http://127.0.0.1:$(api_port "$n")" \
    --os-image-api-version 2 "$@"
}

# ontty CMD...: runs a command on a pseudo-terminal (stdin a tty, no input).
ontty() {
  python3 -c 'import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))' \
    "$@" </dev/null | tr -d '\r'
  return "${PIPESTATUS[0]}"
}

# ------------------------------------------------------------- test data
IMG="$WORK/disk.raw"
head -c $((5 * 1024 * 1024 + 4321)) /dev/urandom >"$IMG" # two 4 MiB chunks
SIZE=$(stat -c %s "$IMG")
MD5=$(md5sum "$IMG" | cut -d' ' -f1)
SHA512=$(sha512sum "$IMG" | cut -d' ' -f1)
TAG=$(python3 -c 'import uuid; print(uuid.uuid4().hex[:8])')
NAME_A="e2e-a-$TAG"
NAME_B="e2e-b-$TAG"
UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

# ================================================== python-openstackclient
step "openstack image create --file (node 1)"
out=$(osc 1 image create --disk-format raw --container-format bare --file "$IMG" \
  --property e2e="$TAG" --min-ram 16 -f json "$NAME_A" 2>&1) || fail "image create failed" "$out"
ID=$(jget "$out" 'd["id"]')
[[ $ID =~ $UUID_RE ]] || fail "image id $ID is not a UUID" "$out"
jtrue "$out" "d['name']=='$NAME_A' and d['disk_format']=='raw' and d['container_format']=='bare'" "create output has the wrong name or formats"
jtrue "$out" "d['status'] in ('queued','saving','active') and d['visibility']=='shared' and d['min_ram']==16" "create output has a wrong status/visibility/min_ram"
jtrue "$out" "d['properties'].get('e2e')=='$TAG'" "create output lacks the custom property"

step "openstack image show (node 2): active, size, checksum, os_hash_value"
out=$(osc 2 image show -f json "$ID" 2>&1) || fail "image show failed" "$out"
jtrue "$out" "d['id']=='$ID' and d['status']=='active'" "image is not active after the upload"
jtrue "$out" "d['size']==$SIZE" "size is not $SIZE"
jtrue "$out" "d['checksum']=='$MD5'" "checksum is not the file's md5 $MD5"
jtrue "$out" "d['properties'].get('os_hash_algo')=='sha512' and d['properties'].get('os_hash_value')=='$SHA512'" "os_hash_algo/os_hash_value are not sha512 of the file"
jtrue "$out" "d['properties'].get('e2e')=='$TAG' and d['min_ram']==16 and d['min_disk']==0 and d['protected'] is False" "custom property, min_ram, min_disk or protected wrong"
jtrue "$out" "d['file']=='/v2/images/$ID/file' and d['schema']=='/v2/schemas/image'" "file/schema links wrong"

step "openstack image show by name (node 3)"
out=$(osc 3 image show -f json -c id "$NAME_A" 2>&1) || fail "image show by name failed" "$out"
jtrue "$out" "d['id']=='$ID'" "show by name found another image"

step "openstack image create without data (node 2)"
# On a terminal: with stdin not a tty the client uploads stdin as the data
# (and with stdin closed, openstackclient 6.0 crashes on sys.stdin None).
out=$(ontty openstack --os-auth-type none --os-endpoint "$URL2" --os-image-api-version 2 image create --disk-format qcow2 --container-format bare --property e2e="$TAG" -f json "$NAME_B" 2>&1) ||
  fail "image create (no data) failed" "$out"
ID_B=$(jget "$out" 'd["id"]')
jtrue "$out" "d['status']=='queued' and d['disk_format']=='qcow2' and d.get('size') is None" "empty image is not queued with no size"

step "openstack image list (node 1)"
out=$(osc 1 image list -f json 2>&1) || fail "image list failed" "$out"
jtrue "$out" "{'$ID','$ID_B'} <= {i['ID'] for i in d}" "list lacks the new images"
jtrue "$out" "[i['Status'] for i in d if i['ID']=='$ID']==['active'] and [i['Name'] for i in d if i['ID']=='$ID_B']==['$NAME_B']" "list shows a wrong status or name"

step "openstack image list --long (node 3)"
out=$(osc 3 image list --long -f json 2>&1) || fail "image list --long failed" "$out"
jtrue "$out" "[(i['Disk Format'],i['Container Format'],i['Size'],i['Checksum'],i['Status'],i['Visibility'],i['Protected']) for i in d if i['ID']=='$ID']==[('raw','bare',$SIZE,'$MD5','active','shared',False)]" "--long row of the image is wrong"
jtrue "$out" "[(i['Size'],i['Checksum'],i['Status']) for i in d if i['ID']=='$ID_B']==[(None,None,'queued')]" "--long row of the empty image is wrong"

step "openstack image list --sort name:asc / name:desc"
out=$(osc 1 image list --sort name:asc -f json 2>&1) || fail "image list --sort failed" "$out"
jtrue "$out" "[i['ID'] for i in d if i['ID'] in ('$ID','$ID_B')]==['$ID','$ID_B']" "name:asc order wrong"
out=$(osc 1 image list --sort name:desc -f json 2>&1) || fail "image list --sort failed" "$out"
jtrue "$out" "[i['ID'] for i in d if i['ID'] in ('$ID','$ID_B')]==['$ID_B','$ID']" "name:desc order wrong"

step "openstack image list --limit 1, --limit 1 --marker"
out=$(osc 2 image list --limit 1 -f json 2>&1) || fail "image list --limit failed" "$out"
jtrue "$out" "len(d)==1" "--limit 1 did not return exactly one image"
FIRST=$(jget "$out" 'd[0]["ID"]')
out=$(osc 2 image list --limit 1 --marker "$FIRST" -f json 2>&1) || fail "image list --marker failed" "$out"
jtrue "$out" "len(d)==1 and d[0]['ID']!='$FIRST'" "--marker did not page past the first image"

step "openstack image list --property e2e=$TAG"
out=$(osc 3 image list --property e2e="$TAG" -f json 2>&1) || fail "image list --property failed" "$out"
jtrue "$out" "sorted(i['ID'] for i in d)==sorted(['$ID','$ID_B'])" "--property filter returned the wrong images"

step "openstack image list --name / --status / --shared"
out=$(osc 1 image list --name "$NAME_B" -f json 2>&1) || fail "image list --name failed" "$out"
jtrue "$out" "[i['ID'] for i in d]==['$ID_B']" "--name filter wrong"
out=$(osc 1 image list --status queued -f json 2>&1) || fail "image list --status failed" "$out"
jtrue "$out" "'$ID_B' in [i['ID'] for i in d] and '$ID' not in [i['ID'] for i in d]" "--status queued filter wrong"
out=$(osc 1 image list --shared -f json 2>&1) || fail "image list --shared failed" "$out"
jtrue "$out" "{'$ID','$ID_B'} <= {i['ID'] for i in d}" "--shared filter lacks the shared images"
out=$(osc 1 image list --public -f json 2>&1) || fail "image list --public failed" "$out"
jtrue "$out" "not {'$ID','$ID_B'} & {i['ID'] for i in d}" "--public filter returned shared images"

step "openstack image set --name --property --tag --min-disk (node 3)"
NEWNAME="e2e-a2-$TAG"
out=$(osc 3 image set --name "$NEWNAME" --property color=blue --property hw_disk_bus=scsi \
  --tag t1 --tag t2 --min-disk 1 "$ID" 2>&1) || fail "image set failed" "$out"
out=$(osc 1 image show -f json "$ID" 2>&1) || fail "image show failed" "$out"
jtrue "$out" "d['name']=='$NEWNAME' and d['min_disk']==1" "name/min_disk not updated"
jtrue "$out" "d['properties'].get('color')=='blue' and d['properties'].get('hw_disk_bus')=='scsi' and d['properties'].get('e2e')=='$TAG'" "properties not updated"
jtrue "$out" "sorted(d['tags'])==['t1','t2']" "tags not set"
jtrue "$out" "d['updated_at']>=d['created_at'] and d['checksum']=='$MD5' and d['status']=='active'" "set changed the data fields"

step "openstack image list --tag t1"
out=$(osc 2 image list --tag t1 -f json 2>&1) || fail "image list --tag failed" "$out"
jtrue "$out" "[i['ID'] for i in d if i['ID'] in ('$ID','$ID_B')]==['$ID']" "--tag filter wrong"

step "openstack image unset --property --tag (node 3)"
out=$(osc 3 image unset --property color --tag t1 "$ID" 2>&1) || fail "image unset failed" "$out"
out=$(osc 2 image show -f json "$ID" 2>&1) || fail "image show failed" "$out"
jtrue "$out" "'color' not in d['properties'] and d['properties'].get('hw_disk_bus')=='scsi'" "property color not removed"
jtrue "$out" "d['tags']==['t2']" "tag t1 not removed"
out=$(osc 3 image unset --tag nosuchtag "$ID" 2>&1) && fail "unset of a missing tag succeeded" "$out"
has "nosuchtag" "unset of a missing tag: unexpected message"

step "openstack image set --deactivate / --activate"
out=$(osc 1 image set --deactivate "$ID" 2>&1) || fail "image set --deactivate failed" "$out"
out=$(osc 2 image show -f json -c status "$ID" 2>&1) || fail "image show failed" "$out"
jtrue "$out" "d['status']=='deactivated'" "image not deactivated"
out=$(osc 3 image set --activate "$ID" 2>&1) || fail "image set --activate failed" "$out"
out=$(osc 1 image show -f json -c status "$ID" 2>&1) || fail "image show failed" "$out"
jtrue "$out" "d['status']=='active'" "image not reactivated"

step "openstack image save (node 3): bytes, md5 and sha512"
out=$(osc 3 image save --file "$WORK/saved.raw" "$ID" 2>&1) || fail "image save failed" "$out"
cmp -s "$IMG" "$WORK/saved.raw" || fail "saved file differs from the uploaded one"
out=$(osc 3 image show -f json "$ID" 2>&1) || fail "image show failed" "$out"
jtrue "$out" "d['checksum']=='$(md5sum "$WORK/saved.raw" | cut -d' ' -f1)'" "checksum is not the saved file's md5"
jtrue "$out" "d['properties']['os_hash_value']=='$(sha512sum "$WORK/saved.raw" | cut -d' ' -f1)'" "os_hash_value is not the saved file's sha512"

step "openstack image save of an image without data: empty file (Glance answers 204)"
out=$(osc 1 image save --file "$WORK/none.raw" "$ID_B" 2>&1) || fail "image save of a queued image failed" "$out"
empty_file "$WORK/none.raw" "image save of a queued image did not write an empty file"

step "openstack image create --file of an empty file (node 3), save on node 1"
: >"$WORK/empty.raw"
out=$(osc 3 image create --disk-format raw --container-format bare --file "$WORK/empty.raw" -f json "e2e-empty-$TAG" 2>&1) ||
  fail "image create of an empty file failed" "$out"
ID_E=$(jget "$out" 'd["id"]')
out=$(osc 2 image show -f json "$ID_E" 2>&1) || fail "image show failed" "$out"
jtrue "$out" "d['status']=='active' and d['size']==0 and d['checksum']=='d41d8cd98f00b204e9800998ecf8427e'" "empty image not active with size 0 and the empty md5"
out=$(osc 1 image save --file "$WORK/empty.out" "$ID_E" 2>&1) || fail "image save of the empty image failed" "$out"
empty_file "$WORK/empty.out" "saved empty image is not an empty file"

step "openstack image set --protected; delete refused; --unprotected"
out=$(osc 2 image set --protected "$ID" 2>&1) || fail "image set --protected failed" "$out"
out=$(osc 1 image delete "$ID" 2>&1) && fail "delete of a protected image succeeded" "$out"
has "protected" "delete of a protected image: no 'protected' in the message"
out=$(osc 3 image set --unprotected "$ID" 2>&1) || fail "image set --unprotected failed" "$out"

step "openstack image show of an unknown image fails"
out=$(osc 1 image show 00000000-0000-4000-8000-000000000000 2>&1) && fail "show of an unknown image succeeded" "$out"
has "No Image found" "show of an unknown image: unexpected message"

step "openstack image delete (node 2)"
out=$(osc 2 image delete "$ID" "$ID_B" "$ID_E" 2>&1) || fail "image delete failed" "$out"
for n in 1 3; do
  out=$(osc $n image show "$ID" 2>&1) && fail "deleted image still shown by node $n" "$out"
  has "No Image found" "show of a deleted image: unexpected message"
done
out=$(osc 3 image list -f json 2>&1) || fail "image list failed" "$out"
jtrue "$out" "not {'$ID','$ID_B','$ID_E'} & {i['ID'] for i in d}" "deleted images still listed"

# ================================================== glanceclient's glance CLI
if [ "$HAVE_GLANCE" = 1 ]; then
  gl() { # gl NODE args...: glance with a static endpoint (noauth ignores the token)
    local n=$1
    shift
    glance --os-image-url "http://127.0.0.1:$(api_port "$n")" --os-auth-token noauth \
      --os-image-api-version 2 "$@"
  }
  GNAME="e2e-glance-$TAG"

  step "glance image-list (node 1)"
  out=$(gl 1 image-list 2>&1) || fail "glance image-list failed" "$out"
  has "| ID " "glance image-list printed no table"

  step "glance image-create --file (node 2)"
  out=$(gl 2 image-create --name "$GNAME" --disk-format raw --container-format bare \
    --file "$IMG" --property e2e="$TAG" --min-disk 1 --os-distro cirros 2>&1) || fail "glance image-create failed" "$out"
  js=$(gtable <<<"$out")
  GID=$(jget "$js" 'd["id"]')
  [[ $GID =~ $UUID_RE ]] || fail "glance image id $GID is not a UUID" "$out"
  jtrue "$js" "d['status']=='active' and d['size']=='$SIZE' and d['checksum']=='$MD5'" "glance image-create: not active with size and md5" "$out"
  jtrue "$js" "d['os_hash_algo']=='sha512' and d['os_hash_value']=='$SHA512'" "glance image-create: wrong os_hash_value"
  jtrue "$js" "d['e2e']=='$TAG' and d['os_distro']=='cirros' and d['min_disk']=='1' and d['name']=='$GNAME'" "glance image-create: wrong properties"

  step "glance image-show (node 3)"
  out=$(gl 3 image-show "$GID" 2>&1) || fail "glance image-show failed" "$out"
  js=$(gtable <<<"$out")
  jtrue "$js" "d['id']=='$GID' and d['status']=='active' and d['visibility']=='shared'" "glance image-show wrong"

  step "glance image-list --property-filter --sort-key --sort-dir --page-size (node 1)"
  out=$(gl 1 image-list --property-filter e2e="$TAG" --sort-key name --sort-dir asc --page-size 1 2>&1) ||
    fail "glance image-list with filters failed" "$out"
  has "$GID" "glance image-list --property-filter lacks the image"
  [ "$(grep -c '^| [0-9a-f]\{8\}-' <<<"$out")" = 1 ] || fail "glance image-list --property-filter: not exactly one image" "$out"
  out=$(gl 1 image-list --page-size 1 2>&1) || fail "glance image-list --page-size 1 failed" "$out"
  has "$GID" "glance image-list paging lacks the image"

  step "glance image-update (node 3)"
  out=$(gl 3 image-update --name "$GNAME-2" --property color=red --remove-property e2e \
    --min-ram 64 --os-version 0.6 "$GID" 2>&1) || fail "glance image-update failed" "$out"
  js=$(gtable <<<"$out")
  jtrue "$js" "d['name']=='$GNAME-2' and d['color']=='red' and 'e2e' not in d and d['min_ram']=='64' and d['os_version']=='0.6'" "glance image-update did not apply" "$out"

  step "glance image-tag-update / image-tag-delete (node 1)"
  out=$(gl 1 image-tag-update "$GID" gtag 2>&1) || fail "glance image-tag-update failed" "$out"
  has "gtag" "glance image-tag-update: tag not shown"
  out=$(gl 2 image-tag-delete "$GID" gtag 2>&1) || fail "glance image-tag-delete failed" "$out"
  out=$(gl 3 image-show "$GID" 2>&1) || fail "glance image-show failed" "$out"
  jtrue "$(gtable <<<"$out")" "d['tags']=='[]'" "glance image-tag-delete: tag still there" "$out"

  step "glance image-deactivate / image-reactivate (node 2)"
  out=$(gl 2 image-deactivate "$GID" 2>&1) || fail "glance image-deactivate failed" "$out"
  out=$(gl 1 image-show "$GID" 2>&1) || fail "glance image-show failed" "$out"
  jtrue "$(gtable <<<"$out")" "d['status']=='deactivated'" "glance image-deactivate: not deactivated" "$out"
  out=$(gl 2 image-reactivate "$GID" 2>&1) || fail "glance image-reactivate failed" "$out"
  out=$(gl 3 image-show "$GID" 2>&1) || fail "glance image-show failed" "$out"
  jtrue "$(gtable <<<"$out")" "d['status']=='active'" "glance image-reactivate: not active" "$out"

  step "glance image-download (node 1): bytes verified"
  out=$(gl 1 image-download --file "$WORK/glance.raw" "$GID" 2>&1) || fail "glance image-download failed" "$out"
  cmp -s "$IMG" "$WORK/glance.raw" || fail "glance-downloaded file differs from the uploaded one"

  step "glance image-create without data (node 1) and image-download of it (node 2)"
  # On a terminal: with stdin not a tty the client uploads stdin as the data.
  out=$(ontty glance --os-image-url "$URL1" --os-auth-token noauth --os-image-api-version 2 \
    image-create --name "$GNAME-empty" --disk-format qcow2 --container-format bare 2>&1) ||
    fail "glance image-create without data failed" "$out"
  js=$(gtable <<<"$out")
  GID_Q=$(jget "$js" 'd["id"]')
  jtrue "$js" "d['status']=='queued' and d['size']=='None'" "glance image-create without data: not queued" "$out"
  out=$(gl 2 image-download --file "$WORK/gq.raw" "$GID_Q" 2>&1) && fail "glance image-download of a queued image succeeded" "$out"
  has "has no data" "glance image-download of a queued image: unexpected message"

  step "glance image-delete (node 3)"
  out=$(gl 3 image-delete "$GID" "$GID_Q" 2>&1) || fail "glance image-delete failed" "$out"
  for g in "$GID" "$GID_Q"; do
    out=$(gl 1 image-show "$g" 2>&1) && fail "glance image-show of a deleted image succeeded" "$out"
    has "404 Not Found" "glance image-show of a deleted image: unexpected message"
  done
else
  echo "--- glance CLI not installed: glanceclient steps skipped"
fi

STEP=""
echo "PASS"

# shellcheck shell=bash
# Part 1 of scripts/test-clients.sh (sourced): openstack, glance and
# openstacksdk against a noauth cluster. In noauth every request is an admin
# without a project (Glance's noauth pipeline), so images have no owner.

step "noauth: RabbitMQ and an oslo.messaging notification listener (as Ceilometer listens to Glance)"
if [ -z "${P2PGLANCE_TEST_RABBIT_URL:-}" ]; then
  env_out=$(bash "$HERE/rabbitmq-setup.sh") || fail "RabbitMQ did not start"
  eval "$env_out"
  RABBIT_STARTED=1
fi
NOTIFY_TOPIC="notifications_$TAG"
EVENTS="$WORK/events.jsonl"
"$PY" "$HERE/notification-listener.py" "$P2PGLANCE_TEST_RABBIT_URL" "$EVENTS" "$NOTIFY_TOPIC" >"$WORK/listener.log" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 60; i++)); do [ -f "$EVENTS.ready" ] && break; sleep 0.5; done
[ -f "$EVENTS.ready" ] || fail "the notification listener did not start" "$(cat "$WORK/listener.log")"
# events ID: the event types the listener received about image ID, in order.
events() {
  "$PY" - "$EVENTS" "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    p = d["payload"]
    if p.get("id") == sys.argv[2] or p.get("image_id") == sys.argv[2]:
        print(d["event_type"])
EOF
}

step "noauth: a 3-node cluster"
# The web-download below reads from http.server on loopback: the operator's
# explicit opt-out of the import filter, for that host and port only.
start_cluster noauth --import-allowed-hosts 127.0.0.1 --import-allowed-ports "$WEBPORT" \
  --notification-transport-url "$P2PGLANCE_TEST_RABBIT_URL" --notification-topics "$NOTIFY_TOPIC" \
  --notification-publisher-id "image.p2pglance-test"
note "nodes: ${URLS[*]}"
{
  echo "clouds:"
  for n in 1 2 3; do
    cat <<EOF
  noauth-n$n:
    auth_type: none
    auth:
      endpoint: ${URLS[$((n - 1))]}
    image_endpoint_override: ${URLS[$((n - 1))]}
    image_api_version: "2"
EOF
  done
} >"$CLOUDS"

NAME_A="tc-a-$TAG" NAME_B="tc-b-$TAG" NAME_C="tc-c-$TAG" NAME_E="tc-e-$TAG" NAME_I="tc-i-$TAG"
NOTFOUND=00000000-0000-4000-8000-000000000000

# =================================================== python-openstackclient
step "openstack image create --file --property --tag --min-ram"
out=$(osc image create --disk-format raw --container-format bare --file "$IMG" \
  --property tc="$TAG" --tag ta --tag "$TAG" --min-ram 16 -f json "$NAME_A" 2>&1) || fail "image create failed" "$out"
ID_A=$(jget "$out" 'd["id"]')
# openstackclient prints the image as created, before its data went up.
jeq "$out" "$(osc_expect "$ID_A" "$NAME_A" None None None queued "$(sdkprops "$NAME_A" "{'tc': '$TAG'}")" "['ta', '$TAG']" "{'min_ram': 16}")" \
  "image create printed another image"

step "openstack image show: active, size, md5 checksum, sha512 os_hash_value"
out=$(osc_show "$ID_A" 2>&1) || fail "image show failed" "$out"
jeq "$out" "$(osc_expect "$ID_A" "$NAME_A" "$SIZE" "$MD5" "$SHA512" active "$(sdkprops "$NAME_A" "{'tc': '$TAG'}")" "['ta', '$TAG']" "{'min_ram': 16}")" \
  "image show differs"
CREATED_A=$(jget "$out" 'd["created_at"]')

step "openstack image show by name"
out=$(osc image show -f json -c id -c name "$NAME_A" 2>&1) || fail "image show by name failed" "$out"
jeq "$out" "{'id': '$ID_A', 'name': '$NAME_A'}" "show by name found another image"

step "openstack image create without data"
# On a terminal: with stdin not a tty the client uploads stdin as the data.
out=$(osc_tty image create --disk-format raw --container-format bare --property tc="$TAG" --tag "$TAG" -f json "$NAME_B" 2>&1) ||
  fail "image create (no data) failed" "$out"
ID_B=$(jget "$out" 'd["id"]')
jeq "$out" "$(osc_expect "$ID_B" "$NAME_B" None None None queued "$(sdkprops "$NAME_B" "{'tc': '$TAG'}")" "['$TAG']")" \
  "image create (no data) printed another image"
out=$(osc_show "$ID_B" 2>&1) || fail "image show failed" "$out"
jeq "$out" "$(osc_expect "$ID_B" "$NAME_B" None None None queued "$(sdkprops "$NAME_B" "{'tc': '$TAG'}")" "['$TAG']")" \
  "image show of a queued image differs"
CREATED_B=$(jget "$out" 'd["created_at"]')

step "openstack image create --public --file (admin)"
out=$(osc image create --disk-format raw --container-format bare --file "$IMG2" --public \
  --property tc="$TAG" --tag "$TAG" -f json "$NAME_C" 2>&1) || fail "image create --public failed" "$out"
ID_C=$(jget "$out" 'd["id"]')
out=$(osc_show "$ID_C" 2>&1) || fail "image show failed" "$out"
jeq "$out" "$(osc_expect "$ID_C" "$NAME_C" "$SIZE2" "$MD5_2" "$SHA512_2" active "$(sdkprops "$NAME_C" "{'tc': '$TAG'}")" "['$TAG']" "{'visibility': 'public'}")" \
  "image show of the public image differs"
CREATED_C=$(jget "$out" 'd["created_at"]')

# rows LIST_JSON: only our three images, in the listed order.
ours() { jget "$1" "[{k: v for k, v in i.items()} for i in d if i['ID'] in ('$ID_A', '$ID_B', '$ID_C')]"; }
ROW_A="{'ID': '$ID_A', 'Name': '$NAME_A', 'Status': 'active'}"
ROW_B="{'ID': '$ID_B', 'Name': '$NAME_B', 'Status': 'queued'}"
ROW_C="{'ID': '$ID_C', 'Name': '$NAME_C', 'Status': 'active'}"

step "openstack image list"
out=$(osc image list -f json 2>&1) || fail "image list failed" "$out"
jeq "$(ours "$out")" "Unordered([$ROW_A, $ROW_B, $ROW_C])" "image list rows differ"

step "openstack image list --long"
out=$(osc image list --long -f json 2>&1) || fail "image list --long failed" "$out"
jeq "$(ours "$out")" "Unordered([
  {'ID': '$ID_A', 'Name': '$NAME_A', 'Disk Format': 'raw', 'Container Format': 'bare', 'Size': $SIZE, 'Checksum': '$MD5', 'Status': 'active', 'Visibility': 'shared', 'Protected': False, 'Project': None, 'Tags': Unordered(['ta', '$TAG'])},
  {'ID': '$ID_B', 'Name': '$NAME_B', 'Disk Format': 'raw', 'Container Format': 'bare', 'Size': None, 'Checksum': None, 'Status': 'queued', 'Visibility': 'shared', 'Protected': False, 'Project': None, 'Tags': ['$TAG']},
  {'ID': '$ID_C', 'Name': '$NAME_C', 'Disk Format': 'raw', 'Container Format': 'bare', 'Size': $SIZE2, 'Checksum': '$MD5_2', 'Status': 'active', 'Visibility': 'public', 'Protected': False, 'Project': None, 'Tags': ['$TAG']}])" \
  "image list --long rows differ"

step "openstack image list --property (a custom property; openstackclient filters it itself)"
out=$(osc image list --property tc="$TAG" -f json 2>&1) || fail "image list --property failed" "$out"
jeq "$out" "Unordered([$ROW_A, $ROW_B, $ROW_C])" "--property filter returned other images"

step "openstack image list --sort name:asc / name:desc / status:asc,name:desc (openstackclient sorts itself)"
out=$(osc image list --property tc="$TAG" --sort name:asc -f json 2>&1) || fail "image list --sort failed" "$out"
jeq "$out" "[$ROW_A, $ROW_B, $ROW_C]" "name:asc order wrong"
out=$(osc image list --property tc="$TAG" --sort name:desc -f json 2>&1) || fail "image list --sort failed" "$out"
jeq "$out" "[$ROW_C, $ROW_B, $ROW_A]" "name:desc order wrong"
out=$(osc image list --property tc="$TAG" --sort status:asc,name:desc -f json 2>&1) || fail "image list --sort failed" "$out"
jeq "$out" "[$ROW_C, $ROW_A, $ROW_B]" "status:asc,name:desc order wrong"

step "openstack image list --tag --limit 1 --marker: server-side pages (newest first)"
# openstackclient sorts what it gets by name (--sort defaults to name:asc),
# so only one-image pages show the server's order: created_at desc, id desc.
CREATED="{\"$ID_A\": \"$CREATED_A\", \"$ID_B\": \"$CREATED_B\", \"$ID_C\": \"$CREATED_C\"}"
out=$(osc image list --tag "$TAG" --limit 1 -f json 2>&1) || fail "image list --limit failed" "$out"
P0=$(jget "$out" 'd[0]["ID"] if len(d)==1 else None')
out=$(osc image list --tag "$TAG" --limit 1 --marker "$P0" -f json 2>&1) || fail "image list --marker failed" "$out"
P1=$(jget "$out" 'd[0]["ID"] if len(d)==1 else None')
out=$(osc image list --tag "$TAG" --limit 1 --marker "$P1" -f json 2>&1) || fail "image list --marker failed" "$out"
P2=$(jget "$out" 'd[0]["ID"] if len(d)==1 else None')
out=$(osc image list --tag "$TAG" --limit 5 --marker "$P2" -f json 2>&1) || fail "image list --marker failed" "$out"
jeq "$out" "[]" "--marker (last image) is not the end"
jeq "[\"$P0\", \"$P1\", \"$P2\"]" "Unordered(['$ID_A', '$ID_B', '$ID_C'])" "pages of one did not visit every image once"
c=$(jget "$CREATED" "[d['$P0'], d['$P1'], d['$P2']]")
jtrue "$c" "d[0] >= d[1] >= d[2]" "pages are not newest first"
out=$(osc image list --limit 1 -f json 2>&1) || fail "image list --limit failed" "$out"
jtrue "$out" "len(d)==1" "--limit 1 without filters did not return one image"
# openstackclient 6.0 looks the marker up first and then trips over None.
out=$(osc image list --marker "$NOTFOUND" -f json 2>&1) && fail "--marker of an unknown image succeeded" "$out"

step "openstack image list --status / --tag / --name"
out=$(osc image list --property tc="$TAG" --status queued -f json 2>&1) || fail "image list --status failed" "$out"
jeq "$out" "[$ROW_B]" "--status queued wrong"
out=$(osc image list --property tc="$TAG" --status active --sort name:asc -f json 2>&1) || fail "image list --status failed" "$out"
jeq "$out" "[$ROW_A, $ROW_C]" "--status active wrong"
out=$(osc image list --tag ta -f json 2>&1) || fail "image list --tag failed" "$out"
jeq "$(ours "$out")" "[$ROW_A]" "--tag wrong"
out=$(osc image list --name "$NAME_B" -f json 2>&1) || fail "image list --name failed" "$out"
jeq "$out" "[$ROW_B]" "--name wrong"

step "openstack image list --public / --shared / --private"
out=$(osc image list --public -f json 2>&1) || fail "image list --public failed" "$out"
jeq "$(ours "$out")" "[$ROW_C]" "--public wrong"
out=$(osc image list --shared -f json 2>&1) || fail "image list --shared failed" "$out"
jeq "$(ours "$out")" "Unordered([$ROW_A, $ROW_B])" "--shared wrong"
out=$(osc image list --private -f json 2>&1) || fail "image list --private failed" "$out"
jeq "$(ours "$out")" "[]" "--private wrong"

step "openstack image set --name --property --tag --min-disk"
NAME_A2="tc-a2-$TAG"
out=$(osc image set --name "$NAME_A2" --property color=blue --property hw_disk_bus=scsi \
  --tag t1 --tag t2 --min-disk 1 "$ID_A" 2>&1) || fail "image set failed" "$out"
[ -z "$out" ] || fail "image set printed something" "$out"
out=$(osc_show "$ID_A" 2>&1) || fail "image show failed" "$out"
jeq "$out" "$(osc_expect "$ID_A" "$NAME_A2" "$SIZE" "$MD5" "$SHA512" active \
  "$(sdkprops "$NAME_A" "{'tc': '$TAG', 'color': 'blue', 'hw_disk_bus': 'scsi'}")" "['ta', '$TAG', 't1', 't2']" "{'min_ram': 16, 'min_disk': 1}")" \
  "image show after set differs"
out=$(osc image list --tag t1 -f json 2>&1) || fail "image list --tag failed" "$out"
jeq "$(ours "$out")" "[{'ID': '$ID_A', 'Name': '$NAME_A2', 'Status': 'active'}]" "--tag t1 wrong"

step "openstack image unset --property --tag"
out=$(osc image unset --property color --tag t1 --tag ta "$ID_A" 2>&1) || fail "image unset failed" "$out"
out=$(osc_show "$ID_A" 2>&1) || fail "image show failed" "$out"
jeq "$out" "$(osc_expect "$ID_A" "$NAME_A2" "$SIZE" "$MD5" "$SHA512" active \
  "$(sdkprops "$NAME_A" "{'tc': '$TAG', 'hw_disk_bus': 'scsi'}")" "['$TAG', 't2']" "{'min_ram': 16, 'min_disk': 1}")" \
  "image show after unset differs"
out=$(osc image unset --tag nosuchtag "$ID_A" 2>&1) && fail "unset of a missing tag succeeded" "$out"
has "nosuchtag" "unset of a missing tag: unexpected message"
out=$(osc image unset --property nosuchprop "$ID_A" 2>&1) && fail "unset of a missing property succeeded" "$out"
has "nosuchprop" "unset of a missing property: unexpected message"

step "openstack image set --community / --shared (visibility)"
out=$(osc image set --community "$ID_A" 2>&1) || fail "image set --community failed" "$out"
out=$(osc image list --community -f json 2>&1) || fail "image list --community failed" "$out"
jeq "$(ours "$out")" "[{'ID': '$ID_A', 'Name': '$NAME_A2', 'Status': 'active'}]" "--community wrong"
out=$(osc image set --shared "$ID_A" 2>&1) || fail "image set --shared failed" "$out"
out=$(osc image show -f json -c visibility "$ID_A" 2>&1) || fail "image show failed" "$out"
jeq "$out" "{'visibility': 'shared'}" "visibility not back to shared"

step "openstack image set --deactivate / --activate"
out=$(osc image set --deactivate "$ID_A" 2>&1) || fail "image set --deactivate failed" "$out"
out=$(osc image show -f json -c status "$ID_A" 2>&1) || fail "image show failed" "$out"
jeq "$out" "{'status': 'deactivated'}" "image not deactivated"
out=$(osc image list --status deactivated -f json 2>&1) || fail "image list --status deactivated failed" "$out"
jeq "$(ours "$out")" "[{'ID': '$ID_A', 'Name': '$NAME_A2', 'Status': 'deactivated'}]" "--status deactivated wrong"
# Glance lets admins (noauth) download deactivated images; others get 403.
out=$(osc image save --file "$WORK/deact.raw" "$ID_A" 2>&1) || fail "image save of a deactivated image (admin) failed" "$out"
same_file "$IMG" "$WORK/deact.raw" "saved deactivated image differs"
out=$(osc image set --activate "$ID_A" 2>&1) || fail "image set --activate failed" "$out"
out=$(osc image show -f json -c status "$ID_A" 2>&1) || fail "image show failed" "$out"
jeq "$out" "{'status': 'active'}" "image not reactivated"

step "openstack image save: byte-exact, md5 and sha512 match"
out=$(osc image save --file "$WORK/saved.raw" "$ID_A" 2>&1) || fail "image save failed" "$out"
same_file "$IMG" "$WORK/saved.raw" "saved file differs from the uploaded one"
out=$(osc_show "$ID_A" 2>&1) || fail "image show failed" "$out"
jtrue "$out" "d['checksum']=='$(md5sum "$WORK/saved.raw" | cut -d' ' -f1)' and d['properties']['os_hash_value']=='$(sha512sum "$WORK/saved.raw" | cut -d' ' -f1)'" \
  "checksum/os_hash_value are not the saved file's md5/sha512"
out=$(osc image save --file "$WORK/saved-c.raw" "$NAME_C" 2>&1) || fail "image save by name failed" "$out"
same_file "$IMG2" "$WORK/saved-c.raw" "saved public image differs"

step "openstack image save of an image without data: empty file (Glance answers 204)"
out=$(osc image save --file "$WORK/none.raw" "$ID_B" 2>&1) || fail "image save of a queued image failed" "$out"
empty_file "$WORK/none.raw" "image save of a queued image did not write an empty file"

step "openstack image create --file of an empty file; save"
: >"$WORK/empty.raw"
out=$(osc image create --disk-format raw --container-format bare --file "$WORK/empty.raw" -f json "$NAME_E" 2>&1) ||
  fail "image create of an empty file failed" "$out"
ID_E=$(jget "$out" 'd["id"]')
out=$(osc_show "$ID_E" 2>&1) || fail "image show failed" "$out"
jeq "$out" "$(osc_expect "$ID_E" "$NAME_E" 0 "$EMPTY_MD5" "$EMPTY_SHA512" active "$(sdkprops "$NAME_E")" "[]")" \
  "empty image differs"
out=$(osc image save --file "$WORK/empty.out" "$ID_E" 2>&1) || fail "image save of the empty image failed" "$out"
empty_file "$WORK/empty.out" "saved empty image is not an empty file"

step "openstack image set --protected; delete refused; --unprotected"
out=$(osc image set --protected "$ID_A" 2>&1) || fail "image set --protected failed" "$out"
out=$(osc image show -f json -c protected "$ID_A" 2>&1) || fail "image show failed" "$out"
jeq "$out" "{'protected': True}" "image not protected"
out=$(osc image delete "$ID_A" 2>&1) && fail "delete of a protected image succeeded" "$out"
has "protected" "delete of a protected image: no 'protected' in the message"
out=$(osc image set --unprotected "$ID_A" 2>&1) || fail "image set --unprotected failed" "$out"

step "openstack image create --import --file (glance-direct: stage, then import)"
out=$(osc image create --import --disk-format raw --container-format bare --file "$IMG2" \
  --property tc="$TAG" -f json "$NAME_I" 2>&1) || fail "image create --import failed" "$out"
ID_I=$(jget "$out" 'd["id"]')
jtrue "$out" "d['name']=='$NAME_I' and d['status'] in ('queued','uploading','importing','active')" "image create --import printed another image"
out=$(wait_status "$ID_I" active osc_show)
jeq "$out" "$(osc_expect "$ID_I" "$NAME_I" "$SIZE2" "$MD5_2" "$SHA512_2" active \
  "$(sdkprops "$NAME_I" "{'tc': '$TAG', 'os_glance_importing_to_stores': '', 'os_glance_failed_import': ''}")" "[]")" \
  "imported image differs"
out=$(osc image save --file "$WORK/imported.raw" "$ID_I" 2>&1) || fail "image save of the imported image failed" "$out"
same_file "$IMG2" "$WORK/imported.raw" "saved imported image differs"

step "openstack image show of an unknown image fails"
out=$(osc image show "$NOTFOUND" 2>&1) && fail "show of an unknown image succeeded" "$out"
has "No Image found" "show of an unknown image: unexpected message"

step "openstack image delete (several at once)"
out=$(osc image delete "$ID_A" "$ID_B" "$ID_C" "$ID_E" "$ID_I" 2>&1) || fail "image delete failed" "$out"
[ -z "$out" ] || fail "image delete printed something" "$out"
for id in "$ID_A" "$ID_C"; do
  out=$(osc image show "$id" 2>&1) && fail "deleted image still shown" "$out"
  has "No Image found" "show of a deleted image: unexpected message"
done
out=$(osc image list --property tc="$TAG" -f json 2>&1) || fail "image list failed" "$out"
jeq "$out" "[]" "deleted images still listed"
out=$(osc image delete "$ID_A" 2>&1) && fail "delete of a deleted image succeeded" "$out"
has "Failed to delete image with name or ID .$ID_A.: No Image found for $ID_A" "delete of a deleted image: unexpected message"

# =================================================== glanceclient's glance CLI
GNAME="tc-g-$TAG"
# gl_expect ID NAME SIZE MD5 SHA STATUS EXTRA: glance's image table as JSON
# (gtable), noauth (owner None). EXTRA: a dict of more/replaced rows.
gl_expect() {
  local id=$1 name=$2 size=$3 md5=$4 sha=$5 status=$6 extra=${7:-}
  [ -n "$extra" ] || extra='{}'
  echo "dict({'id': '$id', 'name': '$name', 'status': '$status', 'size': '$size', 'checksum': '$md5',
    'os_hash_algo': '$sha' and 'sha512' or 'None', 'os_hash_value': '$sha' or 'None',
    'virtual_size': M(lambda v: v in ('Not available', '$size'), 'Not available or $size'),
    'container_format': 'bare', 'disk_format': 'raw', 'created_at': TS, 'updated_at': TS,
    'min_disk': '0', 'min_ram': '0', 'os_hidden': 'False', 'owner': 'None', 'protected': 'False',
    'tags': '[]', 'visibility': 'shared', 'stores': STORES}, **$extra)"
}

step "glance image-list"
out=$(gl image-list 2>&1) || fail "glance image-list failed" "$out"
has "| ID " "glance image-list printed no table"

step "glance image-create --file --property --min-disk --os-distro"
out=$(gl image-create --name "$GNAME" --disk-format raw --container-format bare \
  --file "$IMG" --property tc="$TAG" --min-disk 1 --os-distro cirros 2>&1) || fail "glance image-create failed" "$out"
js=$(gtable <<<"$out")
GID=$(jget "$js" 'd["id"]')
GEXTRA="{'tc': '$TAG', 'os_distro': 'cirros', 'min_disk': '1'}"
jeq "$js" "$(gl_expect "$GID" "$GNAME" "$SIZE" "$MD5" "$SHA512" active "$GEXTRA")" "glance image-create table differs"

step "glance image-show"
out=$(gl image-show "$GID" 2>&1) || fail "glance image-show failed" "$out"
jeq "$(gtable <<<"$out")" "$(gl_expect "$GID" "$GNAME" "$SIZE" "$MD5" "$SHA512" active "$GEXTRA")" "glance image-show table differs"

step "glance image-create without data; image-upload --file"
out=$(gl image-create --name "$GNAME-q" --disk-format raw --container-format bare --property tc="$TAG" 2>&1) ||
  fail "glance image-create without data failed" "$out"
js=$(gtable <<<"$out")
GID_Q=$(jget "$js" 'd["id"]')
jeq "$js" "$(gl_expect "$GID_Q" "$GNAME-q" None None "" queued "{'tc': '$TAG', 'virtual_size': 'Not available'}")" \
  "glance image-create (no data) table differs"
out=$(gl image-download --file "$WORK/gq.raw" "$GID_Q" 2>&1) && fail "glance image-download of a queued image succeeded" "$out"
has "has no data" "glance image-download of a queued image: unexpected message"
out=$(gl image-upload --file "$IMG2" "$GID_Q" 2>&1) || fail "glance image-upload failed" "$out"
out=$(gl_show "$GID_Q" 2>&1) || fail "glance image-show failed" "$out"
jeq "$out" "$(gl_expect "$GID_Q" "$GNAME-q" "$SIZE2" "$MD5_2" "$SHA512_2" active "{'tc': '$TAG'}")" "image after image-upload differs"

step "glance image-list --property-filter --sort-key --sort-dir --page-size (two pages)"
out=$(gl image-list --property-filter tc="$TAG" --sort-key name --sort-dir asc --page-size 1 2>&1) ||
  fail "glance image-list with filters failed" "$out"
jeq "$(grows <<<"$out")" "[{'ID': '$GID', 'Name': '$GNAME'}, {'ID': '$GID_Q', 'Name': '$GNAME-q'}]" "glance image-list rows differ"
out=$(gl image-list --property-filter tc="$TAG" --sort name:desc --limit 1 2>&1) || fail "glance image-list --sort --limit failed" "$out"
jeq "$(grows <<<"$out")" "[{'ID': '$GID_Q', 'Name': '$GNAME-q'}]" "glance image-list --sort name:desc --limit 1 differs"
out=$(gl --verbose image-list --property-filter tc="$TAG" --visibility shared --sort-key size --sort-dir asc 2>&1) ||
  fail "glance image-list --visibility --verbose failed" "$out"
jeq "$(grows <<<"$out")" "[
  {'ID': '$GID_Q', 'Name': '$GNAME-q', 'Disk_format': 'raw', 'Container_format': 'bare', 'Size': '$SIZE2', 'Status': 'active', 'Owner': ''},
  {'ID': '$GID', 'Name': '$GNAME', 'Disk_format': 'raw', 'Container_format': 'bare', 'Size': '$SIZE', 'Status': 'active', 'Owner': ''}]" \
  "glance image-list --verbose rows differ"

step "glance image-update"
out=$(gl image-update --name "$GNAME-2" --property color=red --remove-property tc \
  --min-ram 64 --os-version 0.6 "$GID" 2>&1) || fail "glance image-update failed" "$out"
jeq "$(gtable <<<"$out")" "$(gl_expect "$GID" "$GNAME-2" "$SIZE" "$MD5" "$SHA512" active \
  "{'os_distro': 'cirros', 'min_disk': '1', 'color': 'red', 'min_ram': '64', 'os_version': '0.6'}")" "glance image-update table differs"

step "glance image-tag-update / image-tag-delete; image-list --tag"
out=$(gl image-tag-update "$GID" gtag 2>&1) || fail "glance image-tag-update failed" "$out"
jeq "$(grows <<<"$out")" "[{'ID': '$GID', 'Tags': \"['gtag']\"}]" "glance image-tag-update table differs"
out=$(gl image-list --tag gtag 2>&1) || fail "glance image-list --tag failed" "$out"
jeq "$(grows <<<"$out")" "[{'ID': '$GID', 'Name': '$GNAME-2'}]" "glance image-list --tag differs"
out=$(gl image-tag-delete "$GID" gtag 2>&1) || fail "glance image-tag-delete failed" "$out"
out=$(gl_show "$GID" 2>&1) || fail "glance image-show failed" "$out"
jtrue "$out" "d['tags']=='[]'" "glance image-tag-delete: tag still there"
out=$(gl image-tag-delete "$GID" gtag 2>&1) && fail "glance image-tag-delete of a missing tag succeeded" "$out"
has "404 Not Found" "glance image-tag-delete of a missing tag: unexpected message"

step "glance image-deactivate / image-reactivate"
out=$(gl image-deactivate "$GID" 2>&1) || fail "glance image-deactivate failed" "$out"
out=$(gl_show "$GID" 2>&1) || fail "glance image-show failed" "$out"
jtrue "$out" "d['status']=='deactivated'" "glance image-deactivate: not deactivated"
out=$(gl image-reactivate "$GID" 2>&1) || fail "glance image-reactivate failed" "$out"
out=$(gl_show "$GID" 2>&1) || fail "glance image-show failed" "$out"
jtrue "$out" "d['status']=='active'" "glance image-reactivate: not active"

step "glance image-download: bytes verified (the client checks sha512 too)"
out=$(gl image-download --file "$WORK/glance.raw" "$GID" 2>&1) || fail "glance image-download failed" "$out"
same_file "$IMG" "$WORK/glance.raw" "glance-downloaded file differs"
out=$(gl image-download --file "$WORK/glance2.raw" "$GID_Q" 2>&1) || fail "glance image-download failed" "$out"
same_file "$IMG2" "$WORK/glance2.raw" "glance-downloaded file differs"

step "glance import-info"
out=$(gl import-info 2>&1) || fail "glance import-info failed" "$out"
jeq "$(jget "$(gtable <<<"$out")" 'json.loads(d["import-methods"])')" \
  "{'description': 'Import methods available.', 'type': 'array', 'value': ['glance-direct', 'web-download', 'copy-image']}" \
  "glance import-info differs"

step "glance image-create-via-import --file (glance-direct)"
out=$(gl image-create-via-import --name "$GNAME-gd" --disk-format raw --container-format bare \
  --file "$IMG2" --property tc="$TAG" 2>&1) || fail "glance image-create-via-import failed" "$out"
GID_GD=$(jget "$(gtable <<<"$out")" 'd["id"]')
out=$(wait_status "$GID_GD" active gl_show)
jeq "$out" "$(gl_expect "$GID_GD" "$GNAME-gd" "$SIZE2" "$MD5_2" "$SHA512_2" active \
  "{'tc': '$TAG', 'os_glance_importing_to_stores': '', 'os_glance_failed_import': ''}")" "glance-direct import: image differs"

step "glance image-create + image-stage + image-import --import-method glance-direct"
out=$(gl image-create --name "$GNAME-st" --disk-format raw --container-format bare 2>&1) || fail "glance image-create failed" "$out"
GID_ST=$(jget "$(gtable <<<"$out")" 'd["id"]')
out=$(gl image-stage --file "$IMG" "$GID_ST" 2>&1) || fail "glance image-stage failed" "$out"
out=$(gl_show "$GID_ST" 2>&1) || fail "glance image-show failed" "$out"
jtrue "$out" "d['status']=='uploading'" "staged image is not uploading"
out=$(gl image-import --import-method glance-direct "$GID_ST" 2>&1) || fail "glance image-import failed" "$out"
out=$(wait_status "$GID_ST" active gl_show)
jeq "$out" "$(gl_expect "$GID_ST" "$GNAME-st" "$SIZE" "$MD5" "$SHA512" active \
  "{'os_glance_importing_to_stores': '', 'os_glance_failed_import': ''}")" "staged+imported image differs"
out=$(gl image-download --file "$WORK/staged.raw" "$GID_ST" 2>&1) || fail "glance image-download failed" "$out"
same_file "$IMG" "$WORK/staged.raw" "downloaded staged+imported image differs"

step "glance image-create-via-import --import-method web-download --uri (http.server on loopback)"
out=$(gl image-create-via-import --name "$GNAME-web" --disk-format raw --container-format bare \
  --import-method web-download --uri "$WEBURL" 2>&1) || fail "glance web-download import failed" "$out"
GID_W=$(jget "$(gtable <<<"$out")" 'd["id"]')
out=$(wait_status "$GID_W" active gl_show)
jeq "$out" "$(gl_expect "$GID_W" "$GNAME-web" "$WEBSIZE" "$WEBMD5" "$WEBSHA512" active \
  "{'os_glance_importing_to_stores': '', 'os_glance_failed_import': ''}")" "web-download import: image differs"
out=$(gl image-download --file "$WORK/web.out" "$GID_W" 2>&1) || fail "glance image-download failed" "$out"
same_file "$WEBIMG" "$WORK/web.out" "downloaded web-download image differs"

step "glance image-tasks / task-list / task-show"
out=$(gl image-tasks "$GID_W" 2>&1) || fail "glance image-tasks failed" "$out"
# Glance answers this call with its database rows: microsecond timestamps.
jeq "$(grows <<<"$out")" "[{'Message': '', 'Status': 'success', 'Updated at': M(lambda v: re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}', v), '<timestamp with microseconds>')}]" \
  "glance image-tasks rows differ"
out=$(gl task-list 2>&1) || fail "glance task-list failed" "$out"
tasks=$(grows <<<"$out")
jtrue "$tasks" "len(d)>=4 and all(r['Type']=='api_image_import' and r['Status']=='success' and r['Owner']=='' for r in d)" \
  "glance task-list differs (every task here is a successful import)"
TASK_W=""
for t in $(jget "$tasks" '" ".join(r["ID"] for r in d[:6])'); do # newest first: the web-download import is among them
  out=$(gl task-show "$t" 2>&1) || fail "glance task-show failed" "$out"
  js=$(gtable <<<"$out")
  if jtrue "$js" "True" "" && [ "$(jget "$js" "json.loads(d['input'].replace(\"'\", '\"'))['image_id']")" = "$GID_W" ]; then
    TASK_W=$t
    break
  fi
done
[ -n "$TASK_W" ] || fail "no task in glance task-list's newest six is the web-download import of $GID_W" "$tasks"
jeq "$js" "{'id': '$TASK_W', 'type': 'api_image_import', 'status': 'success', 'owner': '', 'message': '',
  'input': ANY, 'result': '{\"image_id\": \"$GID_W\"}', 'image_id': '$GID_W', 'request_id': M(lambda v: v.startswith('req-'), 'req-...'),
  'expires_at': TS, 'created_at': TS, 'updated_at': TS}" "glance task-show differs"

step "glance image-delete"
out=$(gl image-delete "$GID" "$GID_Q" "$GID_GD" "$GID_ST" "$GID_W" 2>&1) || fail "glance image-delete failed" "$out"
for g in "$GID" "$GID_W"; do
  out=$(gl image-show "$g" 2>&1) && fail "glance image-show of a deleted image succeeded" "$out"
  has "HTTP 404 Not Found: No image found with ID $g" "glance image-show of a deleted image: unexpected message"
done
out=$(gl image-delete "$GID" 2>&1) && fail "glance image-delete of a deleted image succeeded" "$out"
has "No image with an ID of '$GID' exists" "glance image-delete of a deleted image: unexpected message"

# ============================================================ openstacksdk
step "openstacksdk (noauth, clouds.yaml with auth_type none)"
sdk noauth

# ============================================================ notifications
step "notifications: image $ID_A's life, in order, as an oslo.messaging listener received it"
for ((i = 0; i < 60; i++)); do events "$ID_A" | grep -qx image.delete && break; sleep 0.5; done
out=$(events "$ID_A" | tr '\n' ' ')
"$PY" - "$out" <<'EOF' || fail "image $ID_A: the notifications are not Glance's, or not in order" "$out"
import sys
got = sys.argv[1].split()
want = ["image.create", "image.prepare", "image.upload", "image.activate", "image.send", "image.delete"]
it = iter(got)
sys.exit(0 if all(w in it for w in want) and got[-1] == "image.delete" and got.count("image.create") == 1 else 1)
EOF
note "image $ID_A: $out"
"$PY" - "$EVENTS" <<'EOF' || fail "a notification is not as Glance's (publisher_id, priority, timestamp, message_id)"
import json, sys
ids = set()
for line in open(sys.argv[1]):
    d = json.loads(line)
    assert d["publisher_id"] == "image.p2pglance-test", d
    assert d["priority"] in ("info", "error"), d
    assert d["metadata"]["timestamp"] and d["metadata"]["message_id"] not in ids, d
    ids.add(d["metadata"]["message_id"])
EOF

step "notifications: a write while RabbitMQ is stopped answers at once, and its event arrives after the restart"
bash "$HERE/rabbitmq-ctl.sh" stop_app >/dev/null 2>&1 || fail "rabbitmqctl stop_app failed"
t0=$(date +%s)
out=$(osc image create -f json "tc-r-$TAG" 2>&1) || { bash "$HERE/rabbitmq-ctl.sh" start_app >/dev/null 2>&1; fail "image create with the broker down failed" "$out"; }
ID_R=$(jget "$out" 'd["id"]')
took=$(($(date +%s) - t0))
bash "$HERE/rabbitmq-ctl.sh" start_app >/dev/null 2>&1 || fail "rabbitmqctl start_app failed"
[ "$took" -lt 20 ] || fail "image create took ${took}s with the broker down"
for ((i = 0; i < 180; i++)); do events "$ID_R" | grep -qx image.create && break; sleep 0.5; done
events "$ID_R" | grep -qx image.create || fail "image.create of $ID_R did not arrive after the broker came back" "$(tail -n 5 "$WORK/listener.log")"
out=$(osc image delete "$ID_R" 2>&1) || fail "image delete failed" "$out"

# ======================================================= operating it
step "every node: /healthcheck (oslo.middleware's answer), /p2p/v1/ready, promtool check metrics"
for u in "${URLS[@]}"; do
  out=$(fetch "$u/healthcheck" 2>&1) || fail "GET $u/healthcheck failed" "$out"
  [ "$out" = $'OK\n200' ] || fail "$u/healthcheck is not 200 OK" "$out"
  out=$(fetch "$u/p2p/v1/ready" 2>&1) || fail "GET $u/p2p/v1/ready failed" "$out"
  [ "$(tail -n1 <<<"$out")" = 200 ] || fail "$u/p2p/v1/ready is not 200" "$out"
  jtrue "$(head -n1 <<<"$out")" 'd["ready"] and d["lag"] <= d["max_lag"]' "$u/p2p/v1/ready is not ready"
  fetch "$u/metrics" >"$WORK/metrics.txt" || fail "GET $u/metrics failed"
  [ "$(tail -n1 "$WORK/metrics.txt")" = 200 ] || fail "$u/metrics is not 200" "$(tail -n3 "$WORK/metrics.txt")"
  sed -i '$d' "$WORK/metrics.txt"
  out=$(promtool check metrics <"$WORK/metrics.txt" 2>&1) || fail "promtool check metrics found problems on $u" "$out"
  grep -q '^p2pglance_api_requests_total{code="200",method="GET",route="/v2/images"} ' "$WORK/metrics.txt" ||
    fail "$u/metrics counts no image list, after the clients listed on every node" "$(grep '^p2pglance_api_requests_total' "$WORK/metrics.txt")"
done

step "noauth: stop the cluster"
stop_cluster

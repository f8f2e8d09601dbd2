# shellcheck shell=bash
# Part 2 of scripts/test-clients.sh (sourced): image sharing between two
# Keystone projects, with real tokens, against a cluster with --auth
# keystone. user1 is a member of demo1, user2 of demo2 (neither is admin).

step "keystone: scripts/keystone-setup.sh (Keystone on 127.0.0.1:${P2PGLANCE_KEYSTONE_PORT:-35357})"
if ! "$PY" -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
  "http://127.0.0.1:${P2PGLANCE_KEYSTONE_PORT:-35357}/v3" >/dev/null 2>&1; then
  KEYSTONE_STARTED=1 # not up before us: stopped again on exit
fi
ks_env=$(bash "$HERE/keystone-setup.sh" 2>"$WORK/keystone-setup.log") ||
  fail "keystone-setup.sh failed" "$(tail -30 "$WORK/keystone-setup.log")"
eval "$ks_env"
KURL=$P2PGLANCE_TEST_KEYSTONE_URL

# kcloud NAME USER PROJECT PASSWORD [IMAGE_URL]: one clouds.yaml entry.
kcloud() {
  cat <<EOF
  $1:
    auth:
      auth_url: $KURL/v3
      username: $2
      password: "$4"
      project_name: $3
      user_domain_id: default
      project_domain_id: default
    identity_api_version: "3"
    image_api_version: "2"
EOF
  if [ -n "${5:-}" ]; then echo "    image_endpoint_override: $5"; fi
}
{
  echo "clouds:"
  kcloud user1 user1 demo1 "$P2PGLANCE_TEST_KEYSTONE_USER_PASSWORD"
  kcloud user2 user2 demo2 "$P2PGLANCE_TEST_KEYSTONE_USER_PASSWORD"
} >"$CLOUDS"
chmod 600 "$CLOUDS"
out=$(openstack --os-cloud user1 token issue -f json 2>&1) || fail "user1 cannot get a token" "$out"
TOK1=$(jget "$out" 'd["id"]') DEMO1=$(jget "$out" 'd["project_id"]')
out=$(openstack --os-cloud user2 token issue -f json 2>&1) || fail "user2 cannot get a token" "$out"
TOK2=$(jget "$out" 'd["id"]') DEMO2=$(jget "$out" 'd["project_id"]')
note "demo1=$DEMO1 demo2=$DEMO2"

step "keystone: a 3-node cluster with --auth keystone"
CLUSTER_TOKEN=$TOK1 P2PGLANCE_KEYSTONE_PASSWORD=$P2PGLANCE_TEST_KEYSTONE_GLANCE_PASSWORD \
  start_cluster keystone --auth keystone --keystone-url "$KURL"
note "nodes: ${URLS[*]}"
{
  echo "clouds:"
  for n in 1 2 3; do
    kcloud "user1-n$n" user1 demo1 "$P2PGLANCE_TEST_KEYSTONE_USER_PASSWORD" "${URLS[$((n - 1))]}"
    kcloud "user2-n$n" user2 demo2 "$P2PGLANCE_TEST_KEYSTONE_USER_PASSWORD" "${URLS[$((n - 1))]}"
  done
} >"$CLOUDS"

osk() { # osk USER ARGS...: openstack as user1 or user2 (password auth, next node)
  local u=$1 n
  shift
  n=$(rr)
  called "$n" "openstack ($u) $*"
  openstack --os-cloud "$u-n$n" "$@"
}
glk() { # glk TOKEN ARGS...: glance with a real token on the next node
  local t=$1 n who="a bad"
  shift
  if [ "$t" = "$TOK1" ]; then who=user1; elif [ "$t" = "$TOK2" ]; then who=user2; fi
  n=$(rr)
  called "$n" "glance ($who token) $*"
  ontty glance --os-image-url "${URLS[$((n - 1))]}" --os-auth-token "$t" --os-image-api-version 2 "$@"
}

step "keystone: a bad token is refused (401)"
out=$(glk not-a-token image-list 2>&1) && fail "image-list with a bad token succeeded" "$out"
# glanceclient's words for a 401.
has "Invalid OpenStack Identity credentials." "image-list with a bad token: unexpected message"

NAME_S="tc-s-$TAG"
step "openstack (user1): image create --file; owner is demo1"
out=$(osk user1 image create --disk-format raw --container-format bare --file "$IMG2" --property tc="$TAG" -f json "$NAME_S" 2>&1) ||
  fail "image create as user1 failed" "$out"
ID_S=$(jget "$out" 'd["id"]')
out=$(osk user1 image show -f json "$ID_S" 2>&1) || fail "image show as user1 failed" "$out"
jeq "$out" "$(osc_expect "$ID_S" "$NAME_S" "$SIZE2" "$MD5_2" "$SHA512_2" active "$(sdkprops "$NAME_S" "{'tc': '$TAG'}")" "[]" "{'owner': '$DEMO1'}")" \
  "user1's image differs"

step "openstack (user2): the image is invisible before sharing"
out=$(osk user2 image show "$ID_S" 2>&1) && fail "user2 sees user1's image before sharing" "$out"
has "No Image found" "user2 image show: unexpected message"
out=$(osk user2 image list --shared -f json 2>&1) || fail "image list as user2 failed" "$out"
jtrue "$out" "'$ID_S' not in [i['ID'] for i in d]" "user2 lists user1's image before sharing"

step "openstack (user1): image add project <image> <demo2>"
out=$(osk user1 image add project "$ID_S" "$DEMO2" -f json 2>&1) || fail "image add project failed" "$out"
jeq "$out" "{'image_id': '$ID_S', 'member_id': '$DEMO2', 'status': 'pending', 'created_at': TS, 'updated_at': TS, 'schema': '/v2/schemas/member'}" \
  "image add project printed another member"
out=$(osk user1 image add project "$ID_S" "$DEMO2" 2>&1) && fail "adding the same project twice succeeded" "$out"
has "409" "adding the same project twice: no 409 in the message"

step "openstack (user2, pending): image show by id works; listed only with --member-status pending"
out=$(osk user2 image show -f json -c id -c owner -c status "$ID_S" 2>&1) || fail "image show as the pending member failed" "$out"
jeq "$out" "{'id': '$ID_S', 'owner': '$DEMO1', 'status': 'active'}" "image show as the pending member differs"
out=$(osk user2 image list --shared -f json 2>&1) || fail "image list --shared as user2 failed" "$out"
jtrue "$out" "'$ID_S' not in [i['ID'] for i in d]" "pending image listed with --shared"
out=$(osk user2 image list --member-status pending -f json 2>&1) || fail "image list --member-status pending failed" "$out"
jeq "$out" "[{'ID': '$ID_S', 'Name': '$NAME_S', 'Status': 'active'}]" "--member-status pending differs"

step "openstack (user2): image set --accept"
out=$(osk user2 image set --accept "$ID_S" 2>&1) || fail "image set --accept failed" "$out"
[ -z "$out" ] || fail "image set --accept printed something" "$out"
ROW_S="{'ID': '$ID_S', 'Name': '$NAME_S', 'Status': 'active'}"
out=$(osk user2 image list --shared -f json 2>&1) || fail "image list --shared as user2 failed" "$out"
jeq "$out" "[$ROW_S]" "accepted image not in user2's image list --shared"
out=$(osk user2 image list -f json 2>&1) || fail "image list as user2 failed" "$out"
jeq "$out" "[$ROW_S]" "accepted image not in user2's default image list"
out=$(osk user1 image list --shared -f json 2>&1) || fail "image list --shared as user1 failed" "$out"
jtrue "$out" "'$ID_S' in [i['ID'] for i in d]" "user1 does not list its own shared image"

step "openstack (user2): image save (byte-exact)"
out=$(osk user2 image save --file "$WORK/shared.raw" "$ID_S" 2>&1) || fail "image save as user2 failed" "$out"
same_file "$IMG2" "$WORK/shared.raw" "image saved by user2 differs"

step "openstack: image member list (owner sees all, the member sees its own)"
MEMBERS_ACC="[{'Image ID': '$ID_S', 'Member ID': '$DEMO2', 'Status': 'accepted'}]"
out=$(osk user1 image member list -f json "$ID_S" 2>&1) || fail "image member list as user1 failed" "$out"
jeq "$out" "$MEMBERS_ACC" "image member list as the owner differs"
out=$(osk user2 image member list -f json "$ID_S" 2>&1) || fail "image member list as user2 failed" "$out"
jeq "$out" "$MEMBERS_ACC" "image member list as the member differs"

step "openstack (user2): no set, delete, add project on someone else's image (403)"
out=$(osk user2 image set --name stolen "$ID_S" 2>&1) && fail "the member renamed the image" "$out"
has "403" "image set by the member: no 403 in the message"
out=$(osk user2 image delete "$ID_S" 2>&1) && fail "the member deleted the image" "$out"
has "403" "image delete by the member: no 403 in the message"
out=$(osk user2 image add project "$ID_S" "$DEMO2" 2>&1) && fail "the member added a member" "$out"
has "403" "image add project by the member: no 403 in the message"

step "openstack: deactivated images cannot be saved by non-admins (403)"
out=$(osk user1 image set --deactivate "$ID_S" 2>&1) || fail "image set --deactivate as user1 failed" "$out"
# openstacksdk 0.101 does not check the status of the download: it writes
# the 403 page into the file and then reports the checksum mismatch.
out=$(osk user2 image save --file "$WORK/deact2.raw" "$ID_S" 2>&1) && fail "the member saved a deactivated image" "$out"
has "Unable to download image" "image save of a deactivated image by the member: unexpected message"
out=$(osk user1 image save --file "$WORK/deact1.raw" "$ID_S" 2>&1) && fail "the owner (not admin) saved a deactivated image" "$out"
has "Unable to download image" "image save of a deactivated image by the owner: unexpected message"
out=$(glk "$TOK2" image-download --file "$WORK/deact3.raw" "$ID_S" 2>&1) && fail "the member downloaded a deactivated image" "$out"
has "HTTP 403 Forbidden: The requested image has been deactivated. Image data download is forbidden." \
  "glance image-download of a deactivated image: unexpected message"
out=$(osk user1 image set --activate "$ID_S" 2>&1) || fail "image set --activate as user1 failed" "$out"

step "openstack (user2): image set --reject / --pending / --accept"
out=$(osk user2 image set --reject "$ID_S" 2>&1) || fail "image set --reject failed" "$out"
out=$(osk user2 image list -f json 2>&1) || fail "image list as user2 failed" "$out"
jeq "$out" "[]" "rejected image still in user2's default list"
out=$(osk user2 image list --member-status rejected -f json 2>&1) || fail "image list --member-status rejected failed" "$out"
jeq "$out" "[$ROW_S]" "--member-status rejected differs"
out=$(osk user2 image set --pending "$ID_S" 2>&1) || fail "image set --pending failed" "$out"
out=$(osk user1 image member list -f json "$ID_S" 2>&1) || fail "image member list failed" "$out"
jeq "$out" "[{'Image ID': '$ID_S', 'Member ID': '$DEMO2', 'Status': 'pending'}]" "member not back to pending"
out=$(osk user2 image set --accept "$ID_S" 2>&1) || fail "image set --accept failed" "$out"

step "openstack (user1): image remove project; user2 loses the image"
out=$(osk user1 image remove project "$ID_S" "$DEMO2" 2>&1) || fail "image remove project failed" "$out"
[ -z "$out" ] || fail "image remove project printed something" "$out"
out=$(osk user2 image show "$ID_S" 2>&1) && fail "user2 still sees the image after removal" "$out"
has "No Image found" "user2 image show after removal: unexpected message"
out=$(osk user2 image list --shared -f json 2>&1) || fail "image list --shared as user2 failed" "$out"
jeq "$out" "[]" "user2 still lists the image after removal"
out=$(osk user1 image member list -f json "$ID_S" 2>&1) || fail "image member list failed" "$out"
jeq "$out" "[]" "members left after removal"

step "openstack (user1): private images have no members (403)"
out=$(osk user1 image set --private "$ID_S" 2>&1) || fail "image set --private failed" "$out"
out=$(osk user1 image add project "$ID_S" "$DEMO2" 2>&1) && fail "adding a member to a private image succeeded" "$out"
has "403" "add project to a private image: no 403 in the message"
out=$(osk user1 image set --shared "$ID_S" 2>&1) || fail "image set --shared failed" "$out"

# ------------------------------------------------ glance CLI with real tokens
step "glance (user1 token): member-create -> pending"
out=$(glk "$TOK1" member-create "$ID_S" "$DEMO2" 2>&1) || fail "glance member-create failed" "$out"
jeq "$(grows <<<"$out")" "[{'Image ID': '$ID_S', 'Member ID': '$DEMO2', 'Status': 'pending'}]" "glance member-create table differs"

step "glance (user2 token): image-list --member-status pending; member-update accepted"
out=$(glk "$TOK2" image-list --member-status pending --visibility shared 2>&1) || fail "glance image-list --member-status failed" "$out"
jeq "$(grows <<<"$out")" "[{'ID': '$ID_S', 'Name': '$NAME_S'}]" "glance image-list --member-status pending differs"
out=$(glk "$TOK2" member-update "$ID_S" "$DEMO2" accepted 2>&1) || fail "glance member-update failed" "$out"
jeq "$(grows <<<"$out")" "[{'Image ID': '$ID_S', 'Member ID': '$DEMO2', 'Status': 'accepted'}]" "glance member-update table differs"
out=$(glk "$TOK1" member-update "$ID_S" "$DEMO2" rejected 2>&1) && fail "the owner changed the member's status" "$out"
has "403" "glance member-update by the owner: no 403 in the message"

step "glance: member-list (both), member-get"
GMEMBERS="[{'Image ID': '$ID_S', 'Member ID': '$DEMO2', 'Status': 'accepted'}]"
out=$(glk "$TOK1" member-list --image-id "$ID_S" 2>&1) || fail "glance member-list as user1 failed" "$out"
jeq "$(grows <<<"$out")" "$GMEMBERS" "glance member-list as the owner differs"
out=$(glk "$TOK2" member-list --image-id "$ID_S" 2>&1) || fail "glance member-list as user2 failed" "$out"
jeq "$(grows <<<"$out")" "$GMEMBERS" "glance member-list as the member differs"
out=$(glk "$TOK2" member-get "$ID_S" "$DEMO2" 2>&1) || fail "glance member-get failed" "$out"
jeq "$(gtable <<<"$out")" "{'image_id': '$ID_S', 'member_id': '$DEMO2', 'status': 'accepted', 'created_at': TS, 'updated_at': TS, 'schema': '/v2/schemas/member'}" \
  "glance member-get differs"

step "glance (user2 token): image-list, image-show, image-download"
out=$(glk "$TOK2" image-list 2>&1) || fail "glance image-list as user2 failed" "$out"
jeq "$(grows <<<"$out")" "[{'ID': '$ID_S', 'Name': '$NAME_S'}]" "glance image-list as user2 differs"
out=$(glk "$TOK2" image-show "$ID_S" 2>&1) || fail "glance image-show as user2 failed" "$out"
jtrue "$(gtable <<<"$out")" "d['owner']=='$DEMO1' and d['visibility']=='shared' and d['checksum']=='$MD5_2'" "glance image-show as user2 differs"
out=$(glk "$TOK2" image-download --file "$WORK/gshared.raw" "$ID_S" 2>&1) || fail "glance image-download as user2 failed" "$out"
same_file "$IMG2" "$WORK/gshared.raw" "image downloaded by user2 differs"

step "glance (user1 token): member-delete; user2 loses the image"
out=$(glk "$TOK1" member-delete "$ID_S" "$DEMO2" 2>&1) || fail "glance member-delete failed" "$out"
out=$(glk "$TOK2" image-show "$ID_S" 2>&1) && fail "user2 still sees the image after member-delete" "$out"
has "HTTP 404 Not Found: No image found with ID $ID_S" "glance image-show after member-delete: unexpected message"
out=$(glk "$TOK1" member-list --image-id "$ID_S" 2>&1) || fail "glance member-list failed" "$out"
jeq "$(grows <<<"$out")" "[]" "glance member-list after member-delete differs"

step "openstack (user1): image delete"
out=$(osk user1 image delete "$ID_S" 2>&1) || fail "image delete as user1 failed" "$out"
out=$(osk user1 image show "$ID_S" 2>&1) && fail "deleted image still shown" "$out"
has "No Image found" "show of a deleted image: unexpected message"

# ============================================================ openstacksdk
step "openstacksdk (keystone, clouds.yaml with password auth and image_endpoint_override)"
sdk keystone

step "keystone: /healthcheck, /p2p/v1/ready and the dashboard's page need no token; its admin routes do"
for u in "${URLS[@]}"; do
  out=$(fetch "$u/healthcheck" 2>&1) && [ "$out" = $'OK\n200' ] || fail "$u/healthcheck without a token is not 200 OK" "$out"
  out=$(fetch "$u/p2p/v1/ready" 2>&1) && [ "$(tail -n1 <<<"$out")" = 200 ] || fail "$u/p2p/v1/ready without a token is not 200" "$out"
  out=$(fetch "$u/p2p/ui" 2>&1) && [ "$(tail -n1 <<<"$out")" = 200 ] && grep -q "<title>p2pglance fleet</title>" <<<"$out" ||
    fail "$u/p2p/ui is not the dashboard" "$(head -c 300 <<<"$out")"
  out=$(fetch "$u/p2p/v1/repairs" 2>&1)
  [ "$(tail -n1 <<<"$out")" = 401 ] || fail "$u/p2p/v1/repairs without a token is not 401" "$out"
done

step "keystone: stop the cluster"
stop_cluster

#!/usr/bin/env bash
# Starts a real Keystone (Identity v3) on loopback for the Keystone tests and
# for trying `--auth keystone` by hand:
#
#   eval "$(scripts/keystone-setup.sh)"    # then: go test ./testcluster -run Keystone
#
# Needs root (apt-get). It installs Debian's python3-keystone, uwsgi-core and
# uwsgi-plugin-python3 when keystone-manage or the uwsgi python3 plugin is
# missing (not the `keystone` package: its postinst configures dbconfig and
# starts a system service on :5000 that we do not want), and runs Keystone's
# WSGI app under uwsgi itself: one process, one thread (SQLite in WAL mode;
# several threads make SQLite commits fail), fernet tokens, bcrypt at its
# lowest cost so password logins are fast.
#
# State lives in $P2PGLANCE_KEYSTONE_DIR (default /var/lib/p2pglance-keystone):
# keystone.conf, keystone.db, fernet and credential keys, passwords, the
# uwsgi PID file, keystone.log and uwsgi.log. Port: $P2PGLANCE_KEYSTONE_PORT
# (default 35357). Re-running is safe and fast: a running Keystone is left
# alone, a stopped one is started again on the same database.
#
# Made once (idempotent): the bootstrap admin (project admin, role admin,
# region RegionOne, identity endpoint http://127.0.0.1:PORT/v3), projects
# demo1, demo2 and service, users user1 (member of demo1), user2 (member of
# demo2) and glance (admin of service), all in domain "default", and an image
# service endpoint $P2PGLANCE_KEYSTONE_IMAGE_URL (default http://127.0.0.1:9292,
# make cluster's first node) in region RegionOne.
#
# With P2PGLANCE_KEYSTONE_INSTALL_ONLY=1 it only installs the packages.
#
# Prints export lines on stdout (also kept in $DIR/env):
#   P2PGLANCE_TEST_KEYSTONE_URL, P2PGLANCE_TEST_KEYSTONE_ADMIN_PASSWORD,
#   P2PGLANCE_TEST_KEYSTONE_GLANCE_PASSWORD, P2PGLANCE_TEST_KEYSTONE_USER_PASSWORD
# Progress goes to stderr. scripts/keystone-stop.sh stops it.
set -euo pipefail

DIR=${P2PGLANCE_KEYSTONE_DIR:-/var/lib/p2pglance-keystone}
PORT=${P2PGLANCE_KEYSTONE_PORT:-35357}
URL="http://127.0.0.1:$PORT"
# The image endpoint registered in the catalog (make cluster's node 0).
IMAGE_URL=${P2PGLANCE_KEYSTONE_IMAGE_URL:-http://127.0.0.1:9292}
PLUGIN=/usr/lib/uwsgi/plugins/python3_plugin.so
log() { echo "keystone-setup: $*" >&2; }
die() {
  log "$1"
  if [ $# -gt 1 ] && [ -f "$2" ]; then tail -40 "$2" | sed 's/^/    | /' >&2; fi
  exit 1
}

# ------------------------------------------------------------ packages
if ! command -v keystone-manage >/dev/null 2>&1 || ! command -v uwsgi >/dev/null 2>&1 || [ ! -f "$PLUGIN" ]; then
  [ "$(id -u)" = 0 ] || die "keystone-manage/uwsgi missing and not root: cannot apt-get install"
  export DEBIAN_FRONTEND=noninteractive
  pkgs=(python3-keystone uwsgi-core uwsgi-plugin-python3)
  log "installing ${pkgs[*]} (apt-get)..."
  if ! apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/tmp/p2pglance-keystone-apt.log 2>&1; then
    apt-get update -qq >>/tmp/p2pglance-keystone-apt.log 2>&1 || true
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >>/tmp/p2pglance-keystone-apt.log 2>&1 ||
      die "apt-get install ${pkgs[*]} failed" /tmp/p2pglance-keystone-apt.log
  fi
fi

if [ "${P2PGLANCE_KEYSTONE_INSTALL_ONLY:-0}" = 1 ]; then exit 0; fi

mkdir -p "$DIR"
chmod 700 "$DIR"
cd "$DIR"

# ------------------------------------------------------------ passwords
if [ ! -s passwords ]; then
  gen() { python3 -c 'import secrets; print(secrets.token_urlsafe(18))'; }
  {
    echo "ADMIN_PW=$(gen)"
    echo "GLANCE_PW=$(gen)"
    echo "USER_PW=$(gen)"
  } >passwords.tmp
  mv passwords.tmp passwords
  rm -f .bootstrapped .provisioned # a new admin password needs a new database
fi
# shellcheck disable=SC1091
. ./passwords

# ------------------------------------------------------------ keystone.conf
cat >keystone.conf.new <<EOF
# Written by p2pglance scripts/keystone-setup.sh: a test Keystone on loopback.
[DEFAULT]
log_file = $DIR/keystone.log
[database]
connection = sqlite:///$DIR/keystone.db
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = $DIR/fernet-keys
[fernet_receipts]
key_repository = $DIR/fernet-keys
[credential]
key_repository = $DIR/credential-keys
[identity]
password_hash_rounds = 4
EOF
RESTART=0
if ! cmp -s keystone.conf.new keystone.conf 2>/dev/null; then
  mv keystone.conf.new keystone.conf
  RESTART=1
else
  rm -f keystone.conf.new
fi

running() { [ -s uwsgi.pid ] && kill -0 "$(cat uwsgi.pid)" 2>/dev/null; }
answers() { python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1]+"/v3", timeout=2)' "$URL" >/dev/null 2>&1; }
stop() {
  if running; then
    local pid
    pid=$(cat uwsgi.pid)
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f uwsgi.pid
}

# ------------------------------------------------------------ database
manage() { keystone-manage --config-file "$DIR/keystone.conf" "$@" >>manage.log 2>&1 || die "keystone-manage $1 failed" manage.log; }
if [ ! -f .bootstrapped ]; then
  log "creating the database and keys in $DIR..."
  stop
  rm -rf keystone.db keystone.db-wal keystone.db-shm fernet-keys credential-keys .provisioned manage.log
  manage db_sync
  python3 -c 'import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' "$DIR/keystone.db"
  manage fernet_setup --keystone-user root --keystone-group root
  manage credential_setup --keystone-user root --keystone-group root
  manage bootstrap --bootstrap-password "$ADMIN_PW" --bootstrap-username admin \
    --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-admin-url "$URL/v3" --bootstrap-public-url "$URL/v3" \
    --bootstrap-internal-url "$URL/v3" --bootstrap-region-id RegionOne
  touch .bootstrapped
  RESTART=1
fi

# ------------------------------------------------------------ uwsgi
# One worker, one thread: a client must not hold it with an idle keep-alive
# connection, and uwsgi's --http-socket closes after each answer without
# saying so (clients that reuse the connection then see resets): hence
# "Connection: close" on every answer.
UWSGI_ARGS=(--plugin python3 --http-socket "127.0.0.1:$PORT" --wsgi-file /usr/bin/keystone-wsgi-public
  --master --processes 1 --threads 1 --need-app --die-on-term --buffer-size 65535
  --add-header "Connection: close" --env "OS_KEYSTONE_CONFIG_FILES=$DIR/keystone.conf"
  --pidfile "$DIR/uwsgi.pid" --daemonize "$DIR/uwsgi.log")
if ! printf '%s\n' "${UWSGI_ARGS[@]}" | cmp -s - uwsgi.args 2>/dev/null; then
  printf '%s\n' "${UWSGI_ARGS[@]}" >uwsgi.args
  RESTART=1
fi
if [ "$RESTART" = 1 ]; then stop; fi
if ! running; then
  if answers; then die "something else already answers on $URL; stop it or set P2PGLANCE_KEYSTONE_PORT"; fi
  log "starting keystone under uwsgi on $URL..."
  : >uwsgi.log
  uwsgi "${UWSGI_ARGS[@]}" ||
    die "uwsgi did not start" uwsgi.log
fi
for _ in $(seq 1 300); do
  if answers; then break; fi
  running || [ ! -s uwsgi.pid ] || die "uwsgi exited" uwsgi.log
  sleep 0.2
done
answers || die "keystone does not answer on $URL/v3 after 60s" uwsgi.log

# ------------------------------------------------------------ projects and users
PROVISION_VERSION=2 # bump when the block below creates more
if [ "$(cat .provisioned 2>/dev/null)" != "$PROVISION_VERSION" ]; then
  log "creating projects demo1, demo2, service, users user1, user2, glance, and the image endpoint..."
  URL="$URL" IMAGE_URL="$IMAGE_URL" ADMIN_PW="$ADMIN_PW" GLANCE_PW="$GLANCE_PW" USER_PW="$USER_PW" python3 - <<'EOF' || die "provisioning failed" keystone.log
import json, os, sys, urllib.error, urllib.request

url = os.environ["URL"] + "/v3"

def call(method, path, body=None, token=None, ok=(200, 201, 204)):
    req = urllib.request.Request(url + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            data = r.read()
            return r.status, r.headers, (json.loads(data) if data else None)
    except urllib.error.HTTPError as e:
        if e.code in ok:
            return e.code, e.headers, None
        raise SystemExit("%s %s: %d %s" % (method, path, e.code, e.read()[:300]))

def login(user, password, project):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    _, h, _ = call("POST", "/auth/tokens?nocatalog", body)
    return h["X-Subject-Token"]

tok = login("admin", os.environ["ADMIN_PW"], "admin")

def ensure(kind, name, body):
    _, _, found = call("GET", "/%ss?name=%s&domain_id=default" % (kind, name), token=tok)
    if found[kind + "s"]:
        return found[kind + "s"][0]["id"]
    _, _, made = call("POST", "/%ss" % kind, {kind: body}, token=tok)
    return made[kind]["id"]

def role(name):
    _, _, found = call("GET", "/roles?name=" + name, token=tok)
    if found["roles"]:
        return found["roles"][0]["id"]
    _, _, made = call("POST", "/roles", {"role": {"name": name}}, token=tok)
    return made["role"]["id"]

for user, pw, project, rolename in [("user1", os.environ["USER_PW"], "demo1", "member"),
                                     ("user2", os.environ["USER_PW"], "demo2", "member"),
                                     ("glance", os.environ["GLANCE_PW"], "service", "admin")]:
    pid = ensure("project", project, {"name": project, "domain_id": "default", "enabled": True})
    uid = ensure("user", user, {"name": user, "domain_id": "default", "enabled": True, "password": pw})
    call("PUT", "/projects/%s/users/%s/roles/%s" % (pid, uid, role(rolename)), token=tok)
    try:
        login(user, pw, project)
    except SystemExit:  # an older password: set ours
        call("PATCH", "/users/" + uid, {"user": {"password": pw, "enabled": True}}, token=tok)
        login(user, pw, project)

# The image service in the catalog, so clients that look Glance up there
# (openstack image list) find the p2pglance cluster of `make cluster`.
_, _, found = call("GET", "/services?type=image", token=tok)
sid = found["services"][0]["id"] if found["services"] else call(
    "POST", "/services", {"service": {"name": "glance", "type": "image", "enabled": True}}, token=tok)[2]["service"]["id"]
_, _, eps = call("GET", "/endpoints?service_id=" + sid, token=tok)
have = {(e["interface"], e["url"]) for e in eps["endpoints"]}
for iface in ("public", "internal", "admin"):
    if (iface, os.environ["IMAGE_URL"]) not in have:
        call("POST", "/endpoints", {"endpoint": {"service_id": sid, "interface": iface, "region_id": "RegionOne",
                                                 "url": os.environ["IMAGE_URL"], "enabled": True}}, token=tok)
print("provisioned", file=sys.stderr)
EOF
  echo "$PROVISION_VERSION" >.provisioned
fi

cat >env.tmp <<EOF
export P2PGLANCE_TEST_KEYSTONE_URL=$URL
export P2PGLANCE_TEST_KEYSTONE_ADMIN_PASSWORD=$ADMIN_PW
export P2PGLANCE_TEST_KEYSTONE_GLANCE_PASSWORD=$GLANCE_PW
export P2PGLANCE_TEST_KEYSTONE_USER_PASSWORD=$USER_PW
EOF
mv env.tmp env
log "keystone is up on $URL (pid $(cat uwsgi.pid), logs in $DIR)"
cat env

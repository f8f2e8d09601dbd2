#!/usr/bin/env python3
"""Keystone's service catalog for scripts/test-tempest.sh (admin token from $KURL, $ADMIN_PW).

  tempest-catalog.py token                      prints an admin token
  tempest-catalog.py point IMAGE REMOTE   makes every RegionOne endpoint of type "image" IMAGE and
                                          of type "image_remote" REMOTE (created if missing)
"""
import json
import os
import sys
import urllib.error
import urllib.request

URL = os.environ["KURL"] + "/v3"
IFACES = ("public", "internal", "admin")


def call(method, path, body=None, token=None):
    req = urllib.request.Request(URL + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            data = r.read()
            return r.headers, (json.loads(data) if data else None)
    except urllib.error.HTTPError as e:
        raise SystemExit("%s %s: %d %s" % (method, path, e.code, e.read()[:300]))


def token():
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": os.environ["ADMIN_PW"]}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    h, _ = call("POST", "/auth/tokens?nocatalog", body)
    return h["X-Subject-Token"]


def service(tok, kind):
    """The id of the service of type kind, created if missing."""
    _, found = call("GET", "/services?type=" + kind, token=tok)
    if found["services"]:
        return found["services"][0]["id"]
    _, made = call("POST", "/services", {"service": {"name": kind, "type": kind, "enabled": True}}, token=tok)
    return made["service"]["id"]


def endpoints(tok, sid):
    _, eps = call("GET", "/endpoints?service_id=" + sid, token=tok)
    return eps["endpoints"]


def set_url(tok, sid, url):
    """Every interface of service sid in RegionOne answers url (one endpoint each)."""
    have = {}
    for e in endpoints(tok, sid):
        if e["interface"] in have or e.get("region_id") != "RegionOne":
            call("DELETE", "/endpoints/" + e["id"], token=tok)
            continue
        have[e["interface"]] = e
        if e["url"] != url:
            call("PATCH", "/endpoints/" + e["id"], {"endpoint": {"url": url}}, token=tok)
    for iface in IFACES:
        if iface not in have:
            call("POST", "/endpoints", {"endpoint": {"service_id": sid, "interface": iface,
                                                     "region_id": "RegionOne", "url": url, "enabled": True}},
                 token=tok)


def main():
    cmd = sys.argv[1]
    tok = token()
    if cmd == "token":
        print(tok)
    elif cmd == "point":
        image, remote = sys.argv[2:4]
        set_url(tok, service(tok, "image"), image)
        set_url(tok, service(tok, "image_remote"), remote)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()

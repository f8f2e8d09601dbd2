#!/usr/bin/env python3
"""Structural comparison of a client's output with what Glance would print.

As a program (scripts/test-clients-lib.sh's jeq):

    test-clients-match.py JSON EXPECTED

exits 0 when JSON matches EXPECTED, a Python expression evaluated with d
bound to the decoded JSON; otherwise prints every differing path and exits 1.
As a module (scripts/test-clients-sdk.py) it offers diff() and the matchers.

In EXPECTED: TS matches a Glance timestamp (YYYY-MM-DDTHH:MM:SSZ), UUID a
lower-case UUID, ANY any present value, STORES an image's "stores" (absent
or comma-separated store ids), Opt(x) x or an absent or null key,
Unordered([...]) a list in any order, M(predicate, text) any other check.
Dict keys must match exactly: a key that is extra or missing is a
difference. Values must match in type too (1 is not "1", False is not 0).
"""
import json
import re
import sys


class M:
    """A matcher: ok(value) says whether a value fits."""

    def __init__(self, ok, text):
        self.ok, self.text = ok, text

    def __repr__(self):
        return self.text


ABSENT = M(lambda v: False, "<absent>")
TS = M(lambda v: isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v) is not None,
       "<timestamp>")
UUID = M(lambda v: isinstance(v, str) and
         re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", v) is not None, "<uuid>")
ANY = M(lambda v: v is not ABSENT, "<any>")
# Multistore Glance lists an image's stores ("default,zone0"); without
# multistore the key is absent.
STORES = M(lambda v: v is ABSENT or (isinstance(v, str) and re.fullmatch(r"[\w-]+(,[\w-]+)*", v) is not None),
           "<absent or comma-separated store ids>")


def Opt(x):
    """x, or the key absent, or null."""
    return M(lambda v: v is ABSENT or v is None or not diff(v, x), "<absent, null or %r>" % (x,))


def Unordered(xs):
    """The same elements as xs (which may hold matchers), in any order."""
    def ok(v):
        if not isinstance(v, (list, tuple)) or len(v) != len(xs):
            return False
        left = list(v)
        for w in xs:  # greedy: fine for the few rows compared here
            for i, g in enumerate(left):
                if not diff(g, w):
                    del left[i]
                    break
            else:
                return False
        return True
    return M(ok, "<in any order: %r>" % (xs,))


def diff(got, want, path=""):
    """The list of differences between got and want (empty when they match)."""
    if isinstance(want, M):
        return [] if want.ok(got) else ["%s: got %r, want %r" % (path or "/", got, want)]
    if isinstance(want, dict) and isinstance(got, dict):
        out = []
        for k in sorted(set(got) | set(want), key=str):
            out += diff(got.get(k, ABSENT), want.get(k, ABSENT), "%s/%s" % (path, k))
        return out
    if isinstance(want, (list, tuple)) and isinstance(got, (list, tuple)) and len(want) == len(got):
        out = []
        for i, (g, w) in enumerate(zip(got, want)):
            out += diff(g, w, "%s[%d]" % (path, i))
        return out
    if type(got) is type(want) and got == want:
        return []
    return ["%s: got %r, want %r" % (path or "/", got, want)]


def main():
    d = json.loads(sys.argv[1])
    want = eval(sys.argv[2], {"d": d, "re": re, "TS": TS, "UUID": UUID, "ANY": ANY, "STORES": STORES, "Opt": Opt, "M": M,
                              "Unordered": Unordered, "true": True, "false": False, "null": None})
    problems = diff(d, want)
    if not problems:
        return 0
    print("\n".join(problems))
    print("whole output: " + json.dumps(d, sort_keys=True))
    return 1


if __name__ == "__main__":
    sys.exit(main())

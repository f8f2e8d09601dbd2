// Package apitest holds what the fuzz tests of api and metadefs share:
// serving one request to a handler in process, and checking that an
// answer is Glance's (no 5xx; a 4xx is WebOb's JSON error document for
// its status). It imports no package of ours but api/webob, so api's own
// tests can import it. Only tests import it.
package apitest

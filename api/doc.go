// Package api serves the OpenStack Image API v2 (Glance v2) and the
// p2pglance operator API over HTTP.
//
// Server is the core: one function (Server.routes) registers every route
// of one table (Server.table) with gorilla/mux, and one wrapper runs each
// request (request id, admission and limits, idle transfer timeout,
// identity, the catalog revision the request carries and the one its
// answer tells (revision.go), read barrier), maps a returned error to
// Glance's status code and body (errmap.go, errors.go) and logs 5xx.
// Handlers return an error.
// The core also holds what every handler shares: policy (policy.go), and
// the image the caller may see and its JSON answer (shared.go).
//
// The handlers of each resource are methods of a small type of their own,
// in their own files, that lists its routes (Routes, as an Extension
// does) and reaches the core through a named field (srv), never an
// embedded *Server:
//
//   - imageAPI: images, their data, tags and actions (images.go, list.go,
//     patch.go, data.go, tags.go, actions.go)
//   - memberAPI: image members (members.go)
//   - importAPI: staging and interoperable import (import.go,
//     import_request.go)
//   - taskAPI: the tasks API and an image's tasks (tasks_handlers.go,
//     tasks.go)
//   - discoveryAPI: /v2/info/* (discovery.go)
//   - cacheAPI: the cache API (cache.go)
//   - locationAPI: image locations, and the /locations operations of a
//     PATCH (locations.go, locations_patch.go)
//   - storeAPI: the store-level delete (stores.go)
//   - prefetchAPI: pre-seeding jobs, when there is a Prefetcher
//     (prefetch.go)
//
// Quota checks shared by several groups are a type of their own
// (quotas, quota.go). The schemas and the cluster view are the core's own
// routes (server.go).
//
// The package is HTTP only: Glance's semantics (policy, validation, JSON
// shapes, JSON-patch, error texts and status codes). The domain —
// images, tasks, jobs, stores, usage and their sentinel errors — lives in
// package catalog; api maps those errors to Glance's answers in one table
// (errmap.go) and reaches the cluster only through the Backend interface
// it declares, which the node package implements. Another package adds
// routes through Config.Extensions (extension.go): they run behind the
// same wrapper and use the helpers exported there.
//
// Three self-contained parts live in sub-packages that api imports and
// that never import api: keystone (Keystone v3 token validation; api
// reads the token header and answers 401 or 503, in auth.go and
// errmap.go), webob (Glance's error bodies byte for byte as WebOb renders
// them; Error renders through it, errors.go) and schema (the /v2/schemas
// documents and the json.dumps-compatible ordered encoder, which metadefs
// uses too).
package api

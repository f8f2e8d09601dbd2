// Package catalog is p2pglance's domain: what the image catalog holds and
// what the rest of the program says about it, with no HTTP, Raft or
// storage in it.
//
// It owns the image record (every Glance attribute, its manifest of
// BLAKE3-named chunks, durable placement, upload lock, staging and
// locations), members and catalog documents, the list query, tasks and
// the jobs the API hands to a node (imports, location imports, prefetch),
// stores and usage, the os_glance_* property names, hash helpers, the
// read-modify-write retry (RetryOnConflict) and the domain's sentinel
// errors. The API maps those errors to Glance's status codes in one
// table (api/errmap.go); nothing below the API knows HTTP statuses.
//
// Everything else imports catalog: raftfsm replicates its records, node
// does the work, api serves them. catalog imports only the standard
// library.
package catalog

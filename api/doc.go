// Package api serves the OpenStack Image API v2 (Glance v2) and the
// p2pglance operator API over HTTP.
//
// One function (routes) registers every route with gorilla/mux. Handlers
// are methods on Server that return an error; one wrapper maps errors to
// Glance's status codes and bodies (errmap.go, errors.go), logs 5xx and
// sets the request id. The package holds Glance's semantics (policy,
// validation, JSON shapes, JSON-patch) and reaches the cluster only
// through the Backend interface it declares, which the node package
// implements.
package api

// Package api serves the OpenStack Image API v2 (Glance v2) and the
// p2pglance operator API over HTTP.
//
// One function (routes) registers every route with gorilla/mux. Handlers
// are methods on Server that return an error; one wrapper maps errors to
// Glance's status codes and bodies (errmap.go, errors.go), logs 5xx and
// sets the request id. The package is HTTP only: Glance's semantics
// (policy, validation, JSON shapes, JSON-patch, error texts and status
// codes). The domain — images, tasks, jobs, stores, usage and their
// sentinel errors — lives in package catalog; api maps those errors to
// Glance's answers in one table (errmap.go) and reaches the cluster only
// through the Backend interface it declares, which the node package
// implements. Another package adds routes through Config.Extensions
// (extension.go): they run behind the same wrapper and use the helpers
// exported there.
package api

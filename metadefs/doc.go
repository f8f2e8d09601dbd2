// Package metadefs serves Glance's metadata definitions API
// (/v2/metadefs/...) and its schemas (/v2/schemas/metadefs/...): the
// catalog of namespaces that describe the properties, objects and tags
// other services (Nova, Cinder, Horizon) may set on images, flavors,
// volumes and so on, with the default definitions a cluster starts with.
//
// A Service is an api.Extension: the node builds one over its catalog
// (New) and passes it in api.Config.Extensions, so its routes run behind
// the API's request wrapper (identity, admission, error answers) and use
// the api package's HTTP helpers. Seed loads the default definitions
// (defaults.json) once per cluster.
//
// Storage: a namespace and everything in it (resource type associations,
// properties, objects, tags) is ONE catalog document of kind
// "metadef_namespace", id = the namespace name, body = the namespace as
// JSON. Every change is a read-modify-write of that document with its
// revision as precondition, retried on a conflict (Service.update).
// Resource types are documents of kind "metadef_resource_type", id = the
// type name.
//
// Files: service.go (Store, Service, routes), store.go (the stored
// types, load and update), policy.go, request.go (bodies and query
// parameters), validate.go (Glance's schemas applied to bodies), json.go
// (JSON shapes), one file per resource (namespaces, objects, properties,
// tags, resource_types), schemas.go and seed.go.
package metadefs

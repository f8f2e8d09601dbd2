// Package schema holds Glance's JSON schema documents, served at
// /v2/schemas/{image,images,member,members,task,tasks}, and the JSON
// encoder they are written for.
//
// Glance renders its bodies with Python's json.dumps: keys in the order
// the Python dict lists them, ", " and ": " as separators, every
// character outside printable ASCII escaped (ensure_ascii). An Object is
// a JSON object whose members keep their order, and Encode writes any
// value built of Objects, maps, slices and scalars exactly as json.dumps
// would; Quote does the same for one string. Package metadefs writes its
// own schemas (/v2/schemas/metadefs/...) with these types, and package
// webob its JSON error bodies.
//
// The documents are built once: JSON returns the encoded body of each,
// DiskFormats and ContainerFormats are the format lists their enums (and
// the API's validation) use.
//
// Files: json.go (Object, Encode, Quote), documents.go (the served
// documents and their shared pieces), image.go (the image schema's
// properties), task.go (the member and task schemas). Package schematest
// checks a JSON value against a schema document, for tests.
package schema

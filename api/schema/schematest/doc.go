// Package schematest checks JSON values against Glance's schema
// documents (package schema), as a client that validates the API's
// answers would: for tests.
package schematest

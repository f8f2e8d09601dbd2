// Package keystonetest is a fake Keystone for tests: an HTTP server that
// answers the two calls a keystone.Validator makes (POST and GET
// /v3/auth/tokens) from tokens the test registers, on a clock the test
// may control, counting the calls it serves.
package keystonetest

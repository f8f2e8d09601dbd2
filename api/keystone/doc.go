// Package keystone validates OpenStack Keystone v3 tokens, as
// keystonemiddleware's auth_token filter does for Glance.
//
// A Validator logs in to Keystone as a service user (password method,
// project-scoped), then checks each user token with GET /v3/auth/tokens
// and returns the caller's Identity: user, project, roles (lower-cased,
// with Keystone's default implied roles admin ⇒ member ⇒ reader added)
// and whether the token is a project-scoped admin. Answers are cached by
// the token's SHA-256 until the token's expiry or the cache TTL, whichever
// comes first; refusals are cached briefly; concurrent validations of one
// token share one Keystone call. The service token is renewed before it
// expires and once when Keystone refuses it.
//
// Failures wrap one of two sentinel errors: ErrTokenInvalid (the token is
// not accepted: the API answers 401) and ErrUnavailable (tokens cannot be
// validated now: 503). The HTTP side — reading X-Auth-Token, the 401's
// WWW-Authenticate header, the error bodies — is package api's.
//
// Files: config.go (Config, defaults, New), validator.go (Validate, the
// token check), service.go (the service token, calls to Keystone),
// cache.go (the bounded token cache). Package keystonetest is a fake
// Keystone for tests.
package keystone

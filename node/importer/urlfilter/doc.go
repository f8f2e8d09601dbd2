// Package urlfilter decides which URLs the cluster may read for a user:
// web-download, the tasks API's import_from, glance-download and http(s)
// locations. It is the one place where that rule lives; the API checks a
// URL with it before anything is recorded, and every outbound fetch of
// such a URL connects through its dialer.
//
// The rule has two layers:
//
//   - Glance's [import_filtering_opts] (Rules): allow and deny lists of
//     schemes, hosts and ports, with Glance's semantics and defaults
//     (schemes http and https, ports 80 and 443; an allow list, when not
//     empty, replaces its deny list; a port is checked only when the URL
//     names one). Only http and https are ever read.
//   - On top, unless the URL's host is explicitly allowed (listed in
//     Rules.AllowedHosts or Rules.InternalHosts): no connection to a loopback, link-local
//     (169.254.0.0/16, the cloud metadata address included, and
//     fe80::/10), private (RFC 1918), unique-local (fc00::/7), multicast,
//     unspecified or other non-global special-purpose address, nor to any
//     address of a node of this cluster. The listening address (IP and
//     port) of a node is refused even when its host is explicitly
//     allowed.
//
// The address check runs twice: on a literal IP in the URL (CheckURI, so
// the API can answer 400 at once), and on the address actually dialled
// (Policy.DialContext resolves the name itself, checks every address and
// dials only those that pass; the dialer's Control function checks the
// socket address again), so a name that resolves to an internal address,
// or is re-bound to one after a first check, is never connected to.
// CheckRedirect holds every redirect to the same rule. Requests never go
// through a proxy from the environment: a proxy would resolve and
// connect on our behalf, out of reach of the check.
//
// Origins the operator configured (the glance-download endpoints) can be
// trusted: their scheme, host and port pass without the lists and the
// address check, even when they are a node's API listener; anything
// they redirect to does not.
//
// urlfilter imports only the standard library.
package urlfilter

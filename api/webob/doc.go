// Package webob renders error bodies exactly as WebOb, the WSGI library
// under Glance, renders its webob.exc.HTTP* exceptions: the same status
// titles and default explanations, the same body templates, the same
// choice between an HTML, JSON or plain-text body from the request's
// Accept header, and the same escaping, byte for byte. Clients and tests
// written against Glance read our errors as they read Glance's.
//
// Render turns an Exception (status, explanation, detail, response
// headers, optional body template) into a Content-Type and a body for a
// request; Title, DefaultExplanation and StatusLine give the pieces on
// their own. The error type handlers return, and the mapping of errors
// to statuses, are package api's.
//
// Files: status.go (WebOb's classes: titles, explanations, templates),
// render.go (Exception, Render and the three body flavours), accept.go
// (webob.acceptparse's Accept negotiation), text.go (string.Template
// substitution, tag stripping, HTML escaping).
package webob

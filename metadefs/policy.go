package metadefs

import (
	"context"
	"fmt"
	"net/http"

	"github.com/p2pglance/p2pglance/api"
)

// Glance's metadef policy rules in their default form (admins write,
// readers read) combined with the namespace visibility its database
// applies.

// canRead is Glance's get_metadef_namespace rule combined with its
// database visibility: admins see everything; readers see public
// namespaces and those of their own project.
func canRead(a *api.Auth, ns *namespace) bool {
	if a.Admin {
		return true
	}
	if !a.HasRole("reader") {
		return false
	}
	if ns == nil {
		return true
	}
	return ns.Visibility == public || (ns.Owner != nil && a.Project != "" && *ns.Owner == a.Project)
}

// enforceWrite applies a metadef write rule (admin only in Glance's
// defaults). Like Glance, a refused write on a namespace the caller
// cannot see answers 404, not 403.
func enforceWrite(ctx context.Context, act string, ns *namespace) error {
	a := api.AuthFrom(ctx)
	if a.Admin {
		return nil
	}
	if !canRead(a, ns) {
		if ns == nil {
			return &api.Error{Status: http.StatusNotFound}
		}
		return namespaceNotFound(ns.Namespace)
	}
	return &api.Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("You are not authorized to complete %s action.", act)}
}

// enforceList applies the list rules (get_metadef_namespaces,
// list_metadef_resource_types): admin, or any reader.
func enforceList(ctx context.Context, act string) error {
	a := api.AuthFrom(ctx)
	if a.Admin || a.HasRole("reader") {
		return nil
	}
	return &api.Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("You are not authorized to complete %s action.", act)}
}

package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/catalog"
)

// maxMembers is Glance's image_member_quota.
const maxMembers = 128

// memberJSON renders a member in Glance's key order.
func memberJSON(m *catalog.Member) string {
	w := newObject()
	w.str("member_id", m.MemberID)
	w.str("image_id", m.ImageID)
	w.str("status", m.Status)
	w.str("created_at", glanceTime(m.CreatedAt))
	w.str("updated_at", glanceTime(m.UpdatedAt))
	w.str("schema", "/v2/schemas/member")
	return w.close()
}

func writeMember(w http.ResponseWriter, m *catalog.Member) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := io.WriteString(w, memberJSON(m))
	return err
}

// memberAPI serves an image's members (/v2/images/{id}/members): the
// projects a shared image is shared with, and their acceptance.
type memberAPI struct {
	srv     *Server // the shared core: image visibility, policy
	backend Backend
}

var _ Extension = (*memberAPI)(nil)

// Routes are the member routes.
func (ma *memberAPI) Routes() []Route {
	return []Route{
		{Path: "/v2/images/{id}/members", Methods: map[string]HandlerFunc{"GET": ma.listMembers, "POST": ma.createMember}, Allow: "GET, POST"},
		{Path: "/v2/images/{id}/members/{member}", Methods: map[string]HandlerFunc{"GET": ma.showMember, "PUT": ma.updateMember, "DELETE": ma.deleteMember}, Allow: "GET, PUT, DELETE"},
	}
}

// sharedImage loads a visible image for a member call and checks it is
// shared (Glance: "Only shared images have members.").
func (ma *memberAPI) sharedImage(r *http.Request, fresh bool) (*catalog.Image, error) {
	img, err := ma.srv.visibleImage(r, mux.Vars(r)["id"], fresh)
	if err != nil {
		return nil, err
	}
	if img.Visibility != catalog.VisibilityShared {
		return nil, &Error{Status: http.StatusForbidden, Explanation: "Only shared images have members."}
	}
	return img, nil
}

// listMembers serves GET /v2/images/{id}/members: the owner (or an
// admin) sees every member, a member only its own record.
func (ma *memberAPI) listMembers(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	ctx := r.Context()
	img, err := ma.sharedImage(r, false)
	if err != nil {
		return err
	}
	if err := ma.srv.enforce(ctx, actGetMembers, img); err != nil {
		return err
	}
	members, err := ma.backend.Members(ctx, img.ID)
	if err != nil {
		return err
	}
	a := authFrom(ctx)
	parts := []string{}
	for _, m := range members {
		if a.Admin || ownedBy(a, img) || m.MemberID == a.Project {
			parts = append(parts, memberJSON(m))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = io.WriteString(w, `{"members": [`+strings.Join(parts, ", ")+`], "schema": "/v2/schemas/members"}`)
	return err
}

// createMember serves POST /v2/images/{id}/members: 200 (not 201, as
// Glance) with the new member, status pending.
func (ma *memberAPI) createMember(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	body, err := readMemberBody(r, `Expected a member in the form: {"member": "image_id"}`)
	if err != nil {
		return err
	}
	raw, ok := body["member"]
	if !ok {
		return badRequest("Member to be added not specified")
	}
	var memberID string
	if json.Unmarshal(raw, &memberID) != nil {
		return badRequest(`Expected a member in the form: {"member": "image_id"}`)
	}
	if memberID == "" {
		return badRequest("Member can't be empty")
	}
	if len(memberID) > maxStringLen {
		return badRequest("'%s' is too long", memberID)
	}
	img, err := ma.srv.visibleImage(r, mux.Vars(r)["id"], true)
	if err != nil {
		return err
	}
	if err := ma.srv.enforce(ctx, actAddMember, img); err != nil {
		return err
	}
	if img.Visibility != catalog.VisibilityShared {
		return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("Image %s could not be shared: only shared images have members.", img.ID)}
	}
	members, err := ma.backend.Members(ctx, img.ID)
	if err != nil {
		return err
	}
	if len(members) >= maxMembers {
		return &Error{Status: http.StatusRequestEntityTooLarge, Explanation: fmt.Sprintf("The limit has been exceeded on the number of allowed image members for this image (%d).", maxMembers)}
	}
	now := time.Now().UTC()
	m, err := ma.backend.PutMember(ctx, &catalog.Member{
		ImageID: img.ID, MemberID: memberID, Status: catalog.MemberPending, CreatedAt: now, UpdatedAt: now,
	}, true, 0)
	switch {
	case errors.Is(err, catalog.ErrExists):
		return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("Member %s already exists for image %s.", memberID, img.ID)}
	case errors.Is(err, catalog.ErrNotFound):
		return errNotFoundImage(img.ID)
	case err != nil:
		return err
	}
	return writeMember(w, m)
}

// readMemberBody reads a member request's body, a JSON object; any other
// JSON document is refused with notObject (Glance's TypeError message).
func readMemberBody(r *http.Request, notObject string) (map[string]json.RawMessage, error) {
	var raw json.RawMessage
	if err := readJSON(r, &raw); err != nil {
		return nil, err
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		return nil, badRequest("%s", notObject)
	}
	return body, nil
}

// memberFor loads the member named in the path if the caller may see it:
// the image owner (or an admin), or that member itself; else 404. Unless
// the replica is fresh (img was read after a barrier), a member it does
// not know is looked for again after a read barrier: one just added
// through another node is found.
func (ma *memberAPI) memberFor(r *http.Request, img *catalog.Image, fresh bool) (*catalog.Member, error) {
	ctx := r.Context()
	memberID := mux.Vars(r)["member"]
	a := authFrom(ctx)
	notFound := &Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("%s is not a member of image %s", memberID, img.ID)}
	if !a.Admin && !ownedBy(a, img) && memberID != a.Project {
		return nil, notFound
	}
	m, err := ma.backend.Member(ctx, img.ID, memberID)
	if errors.Is(err, catalog.ErrNotFound) && !fresh {
		if err := ma.backend.Sync(ctx); err != nil {
			return nil, err
		}
		m, err = ma.backend.Member(ctx, img.ID, memberID)
	}
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, notFound
	}
	return m, err
}

// showMember serves GET /v2/images/{id}/members/{member}.
func (ma *memberAPI) showMember(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	img, err := ma.srv.visibleImage(r, mux.Vars(r)["id"], false)
	if err != nil {
		return err
	}
	if img.Visibility != catalog.VisibilityShared {
		return &Error{Status: http.StatusNotFound, Explanation: "Only shared images have members."}
	}
	if err := ma.srv.enforce(r.Context(), actGetMember, img); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusForbidden {
			return &Error{Status: http.StatusNotFound}
		}
		return err
	}
	m, err := ma.memberFor(r, img, false)
	if err != nil {
		return err
	}
	return writeMember(w, m)
}

// updateMember serves PUT /v2/images/{id}/members/{member}: only the
// member itself (or an admin) may set its status; the owner gets 403.
func (ma *memberAPI) updateMember(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	body, err := readMemberBody(r, `Expected a status in the form: {"status": "status"}`)
	if err != nil {
		return err
	}
	var status string
	raw, ok := body["status"]
	if !ok {
		return badRequest("Status not specified")
	}
	switch json.Unmarshal(raw, &status); status {
	case catalog.MemberPending, catalog.MemberAccepted, catalog.MemberRejected:
	default:
		return badRequest(`Incorrect request: Status must be "pending", "accepted" or "rejected".`)
	}
	img, err := ma.sharedImage(r, true)
	if err != nil {
		return err
	}
	a := authFrom(ctx)
	m, err := ma.memberFor(r, img, true)
	if err != nil {
		return err
	}
	if !a.Admin && m.MemberID != a.Project {
		return &Error{Status: http.StatusForbidden, Explanation: "You are not permitted to modify 'status' on this image member."}
	}
	if err := ma.srv.enforce(ctx, actModifyMember, img); err != nil {
		return err
	}
	next := *m
	next.Status = status
	next.UpdatedAt = time.Now().UTC()
	out, err := ma.backend.PutMember(ctx, &next, false, m.Revision)
	if err != nil {
		return err
	}
	return writeMember(w, out)
}

// deleteMember serves DELETE /v2/images/{id}/members/{member}: the owner
// (or an admin) only; 204.
func (ma *memberAPI) deleteMember(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	img, err := ma.sharedImage(r, true)
	if err != nil {
		return err
	}
	if err := ma.srv.enforce(r.Context(), actDeleteMember, img); err != nil {
		return err
	}
	m, err := ma.memberFor(r, img, true)
	if err != nil {
		return err
	}
	if err := ma.backend.DeleteMember(r.Context(), img.ID, m.MemberID); err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return &Error{Status: http.StatusNotFound}
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/p2pglance/p2pglance/catalog"
)

// action names a Glance policy rule.
type action string

// Glance's policy rules (glance/policies/*.py, new defaults).
const (
	actGetImage         action = "get_image"
	actModifyImage      action = "modify_image"
	actPublicizeImage   action = "publicize_image"
	actCommunitizeImage action = "communitize_image"
	actDeleteImage      action = "delete_image"
	actUploadImage      action = "upload_image"
	actDownloadImage    action = "download_image"
	actDeactivate       action = "deactivate"
	actReactivate       action = "reactivate"
	actCopyImage        action = "copy_image"
	actAddMember        action = "add_member"
	actDeleteMember     action = "delete_member"
	actGetMember        action = "get_member"
	actGetMembers       action = "get_members"
	actModifyMember     action = "modify_member"
	actGetImageLocation action = "get_image_location"
	actSetImageLocation action = "set_image_location"
	actDelImageLocation action = "delete_image_location"
	actAddImageLocation action = "add_image_location"
	actFetchLocation    action = "fetch_image_location"
	// Rules that look at the caller only: the image a create makes is
	// the caller's own (setAttr refuses another owner), and a list is
	// of the caller's project.
	actAddImage  action = "add_image"
	actGetImages action = "get_images"
)

// subject is what a rule looks at: the caller, the image, and the
// caller's membership of the image (nil when it has none).
type subject struct {
	auth   *Auth
	img    *catalog.Image
	member *catalog.Member
}

func ownedBy(a *Auth, img *catalog.Image) bool {
	return img.Owner != nil && a.Project != "" && *img.Owner == a.Project
}

// projectMember is Glance's "member role in the owning project". An
// image without owner (made by the noauth admin) is the admin's only:
// Glance's project_id:%(owner)s check never matches a None owner.
func (s subject) projectMember() bool { return s.auth.HasRole("member") && ownedBy(s.auth, s.img) }

// visible is the database-level visibility of an image: admins see all;
// others their own, ownerless, public and community images, and shared
// images they are a member of (in any member status).
func (s subject) visible() bool {
	a, img := s.auth, s.img
	if a.Admin || img.Owner == nil || ownedBy(a, img) {
		return true
	}
	switch img.Visibility {
	case catalog.VisibilityPublic, catalog.VisibilityCommunity:
		return true
	case catalog.VisibilityShared:
		return s.member != nil
	}
	return false
}

// rules maps each action to its check, as Glance's defaults define them.
var rules = map[action]func(subject) bool{
	actGetImage:         func(s subject) bool { return s.auth.Admin || (s.auth.HasRole("reader") && s.visible()) },
	actModifyImage:      func(s subject) bool { return s.auth.Admin || s.projectMember() },
	actPublicizeImage:   func(s subject) bool { return s.auth.Admin },
	actCommunitizeImage: func(s subject) bool { return s.auth.Admin || s.projectMember() },
	actDeleteImage:      func(s subject) bool { return s.auth.Admin || s.projectMember() },
	actUploadImage:      func(s subject) bool { return s.auth.Admin || s.projectMember() },
	actDownloadImage:    func(s subject) bool { return s.auth.Admin || (s.auth.HasRole("member") && s.visible()) },
	actDeactivate:       func(s subject) bool { return s.auth.Admin || s.projectMember() },
	actReactivate:       func(s subject) bool { return s.auth.Admin || s.projectMember() },
	actCopyImage:        func(s subject) bool { return s.auth.Admin },
	actAddMember:        func(s subject) bool { return s.auth.Admin || s.projectMember() },
	actDeleteMember:     func(s subject) bool { return s.auth.Admin || s.projectMember() },
	actGetMember: func(s subject) bool {
		return s.auth.Admin || (s.auth.HasRole("reader") && (ownedBy(s.auth, s.img) || s.member != nil))
	},
	actGetMembers: func(s subject) bool {
		return s.auth.Admin || (s.auth.HasRole("reader") && (ownedBy(s.auth, s.img) || s.member != nil))
	},
	actModifyMember:     func(s subject) bool { return s.auth.Admin || (s.auth.HasRole("member") && s.member != nil) },
	actGetImageLocation: func(s subject) bool { return s.auth.Admin || (s.auth.HasRole("reader") && ownedBy(s.auth, s.img)) },
	actSetImageLocation: func(s subject) bool { return s.auth.Admin || s.projectMember() },
	// Glance's new default is admin only: in Glance a location removed
	// can change the data of an image already in use (OSSN-0065). Here
	// no one reads a location but the cluster's one pull, which pins
	// every byte by its chunk digest: data anyone has read can no longer
	// change, so the owner may remove one, as Glance 25's default policy
	// lets it (tempest's ImageLocationsTest does).
	actDelImageLocation: func(s subject) bool { return s.auth.Admin || s.projectMember() },
	actAddImageLocation: func(s subject) bool { return s.auth.HasRole("service") || s.auth.Admin || s.projectMember() },
	actFetchLocation:    func(s subject) bool { return s.auth.HasRole("service") || s.auth.Admin },
}

// allowed evaluates one rule.
func allowed(act action, s subject) bool {
	rule, ok := rules[act]
	if !ok {
		panic("api: no policy rule " + string(act))
	}
	return rule(s)
}

// subjectFor loads the caller's membership of img (only shared images
// have members that matter).
func (s *Server) subjectFor(ctx context.Context, img *catalog.Image) subject {
	sub := subject{auth: authFrom(ctx), img: img}
	if sub.auth.Project != "" && !sub.auth.Admin && img.Visibility == catalog.VisibilityShared {
		if m, err := s.cfg.Backend.Member(ctx, img.ID, sub.auth.Project); err == nil {
			sub.member = m
		}
	}
	return sub
}

// enforce checks act for the caller on img. Like Glance, a refused action
// on an image the caller cannot even see answers 404, not 403.
func (s *Server) enforce(ctx context.Context, act action, img *catalog.Image) error {
	sub := s.subjectFor(ctx, img)
	if allowed(act, sub) {
		return nil
	}
	if !allowed(actGetImage, sub) {
		return errNotFoundImage(img.ID)
	}
	return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("You are not authorized to complete %s action.", act)}
}

// roleRule checks a rule of Glance's defaults that asks only for a role
// in the caller's own project ("role:admin or (role:R and
// project_id:%(project_id)s)", as add_image and get_images): 403
// otherwise.
func roleRule(a *Auth, act action, role string) error {
	if a.Admin || a.HasRole(role) {
		return nil
	}
	return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("You are not authorized to complete %s action.", act)}
}

// adminOnly refuses non-admins with 403 (rules such as tasks_api_access
// and the cache_* rules that do not look at an image).
func adminOnly(ctx context.Context, act string) error {
	if authFrom(ctx).Admin {
		return nil
	}
	return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("You are not authorized to complete %s action.", act)}
}

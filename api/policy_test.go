package api

import (
	"context"
	"testing"

	"github.com/p2pglance/p2pglance/catalog"
)

// TestPolicyMatrix checks every image rule for every combination of
// caller role, ownership, image visibility and membership against
// Glance's default policies (glance/policies/image.py, new defaults).
func TestPolicyMatrix(t *testing.T) {
	type caller struct {
		name  string
		roles []string
	}
	callers := []caller{
		{"admin", []string{"admin", "member", "reader"}},
		{"member", []string{"member", "reader"}},
		{"reader", []string{"reader"}},
		{"service", []string{"service"}},
	}
	relations := []string{"owner", "member-of-image", "stranger"}
	visibilities := []string{"public", "community", "shared", "private"}

	// expect states Glance's rule for one cell.
	expect := func(act action, c caller, rel, vis string) bool {
		admin := c.name == "admin"
		has := func(r string) bool {
			for _, x := range c.roles {
				if x == r {
					return true
				}
			}
			return false
		}
		owner := rel == "owner"
		mem := rel == "member-of-image" && vis == "shared"
		visible := admin || owner || vis == "public" || vis == "community" || mem
		pm := has("member") && owner
		switch act {
		case actGetImage:
			return admin || (has("reader") && visible)
		case actModifyImage, actCommunitizeImage, actDeleteImage, actUploadImage,
			actDeactivate, actReactivate, actAddMember, actDeleteMember, actSetImageLocation:
			return admin || pm
		case actDelImageLocation: // Glance 25's effective default (see rules)
			return admin || pm
		case actPublicizeImage, actCopyImage:
			return admin
		case actDownloadImage:
			return admin || (has("member") && visible)
		case actGetMember, actGetMembers:
			return admin || (has("reader") && (owner || mem))
		case actModifyMember:
			return admin || (has("member") && mem)
		case actGetImageLocation:
			return admin || (has("reader") && owner)
		case actAddImageLocation:
			return has("service") || admin || pm
		case actFetchLocation:
			return has("service") || admin
		}
		t.Fatalf("no expectation for %s", act)
		return false
	}
	cells := 0
	for act := range rules {
		for _, c := range callers {
			for _, rel := range relations {
				for _, vis := range visibilities {
					owner := "p-owner"
					img := &catalog.Image{ID: "img", Owner: &owner, Visibility: vis}
					a := &Auth{Project: "p-caller", Roles: c.roles, Admin: c.name == "admin"}
					var m *catalog.Member
					switch rel {
					case "owner":
						a.Project = owner
					case "member-of-image":
						if vis == "shared" {
							m = &catalog.Member{ImageID: "img", MemberID: a.Project, Status: catalog.MemberPending}
						}
					}
					got := allowed(act, subject{auth: a, img: img, member: m})
					if want := expect(act, c, rel, vis); got != want {
						t.Errorf("%s by %s (%s, %s image): got %v, want %v", act, c.name, rel, vis, got, want)
					}
					cells++
				}
			}
		}
	}
	if cells != len(rules)*len(callers)*len(relations)*len(visibilities) {
		t.Fatalf("checked %d cells", cells)
	}
	t.Logf("%d policy cells checked", cells)
}

// TestForbiddenInvisibleIsNotFound: a refused action on an image the
// caller cannot see answers 404, on a visible one 403.
func TestForbiddenInvisibleIsNotFound(t *testing.T) {
	s := &Server{cfg: Config{Backend: &memBackend{images: map[string]*catalog.Image{}}}}
	owner := "p1"
	for _, tc := range []struct {
		vis  string
		want int
	}{{"private", 404}, {"shared", 404}, {"public", 403}, {"community", 403}} {
		img := &catalog.Image{ID: "i", Owner: &owner, Visibility: tc.vis}
		ctx := contextWithAuth(&Auth{Project: "p2", Roles: []string{"member", "reader"}})
		err := s.enforce(ctx, actModifyImage, img)
		e, ok := err.(*Error)
		if !ok || e.Status != tc.want {
			t.Errorf("modify of another project's %s image: %v, want %d", tc.vis, err, tc.want)
		}
	}
}

// contextWithAuth returns a context carrying identity a.
func contextWithAuth(a *Auth) context.Context {
	return context.WithValue(context.Background(), authKey{}, a)
}

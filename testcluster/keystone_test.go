package testcluster_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/members"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// keystoneEnv is the test Keystone that scripts/keystone-setup.sh starts
// (its export lines name it).
type keystoneEnv struct {
	url                       string
	adminPW, glancePW, userPW string
}

// testKeystone returns the test Keystone, or skips the test without one.
func testKeystone(t *testing.T) keystoneEnv {
	t.Helper()
	ks := keystoneEnv{
		url:      strings.TrimRight(os.Getenv("P2PGLANCE_TEST_KEYSTONE_URL"), "/"),
		adminPW:  os.Getenv("P2PGLANCE_TEST_KEYSTONE_ADMIN_PASSWORD"),
		glancePW: os.Getenv("P2PGLANCE_TEST_KEYSTONE_GLANCE_PASSWORD"),
		userPW:   os.Getenv("P2PGLANCE_TEST_KEYSTONE_USER_PASSWORD"),
	}
	if ks.url == "" {
		t.Skip(`P2PGLANCE_TEST_KEYSTONE_URL is unset: no Keystone to test against (CI sets it; by hand: eval "$(scripts/keystone-setup.sh)")`)
	}
	if ks.adminPW == "" || ks.glancePW == "" || ks.userPW == "" {
		t.Fatal("P2PGLANCE_TEST_KEYSTONE_URL is set but a P2PGLANCE_TEST_KEYSTONE_*_PASSWORD is missing")
	}
	return ks
}

// keystoneUser is a user logged in to Keystone with gophercloud.
type keystoneUser struct {
	provider  *gophercloud.ProviderClient
	token     string
	projectID string
}

// login authenticates user, scoped to project, with gophercloud.
func (ks keystoneEnv) login(t *testing.T, user, password, project string) keystoneUser {
	t.Helper()
	pc, err := openstack.AuthenticatedClient(context.Background(), gophercloud.AuthOptions{
		IdentityEndpoint: ks.url + "/v3",
		Username:         user,
		Password:         password,
		DomainID:         "default",
		Scope:            &gophercloud.AuthScope{ProjectName: project, DomainID: "default"},
	})
	if err != nil {
		t.Fatalf("keystone login %s/%s: %v", user, project, err)
	}
	res, ok := pc.GetAuthResult().(tokens.CreateResult)
	if !ok {
		t.Fatalf("keystone login %s: auth result %T", user, pc.GetAuthResult())
	}
	p, err := res.ExtractProject()
	if err != nil || p == nil {
		t.Fatalf("keystone login %s: no project in the token: %v", user, err)
	}
	return keystoneUser{provider: pc, token: pc.Token(), projectID: p.ID}
}

// revoke revokes the user's token in Keystone (DELETE /v3/auth/tokens).
func (ks keystoneEnv) revoke(t *testing.T, token string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, ks.url+"/v3/auth/tokens", nil)
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("X-Subject-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("revoke token: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke token: status %d", resp.StatusCode)
	}
}

// images returns a gophercloud image client for endpoint acting as u.
func (u keystoneUser) images(endpoint string) *gophercloud.ServiceClient {
	return &gophercloud.ServiceClient{ProviderClient: u.provider, Endpoint: endpoint + "/", ResourceBase: endpoint + "/v2/"}
}

// countingProxy forwards to Keystone and counts token validations (GET
// /v3/auth/tokens); down makes it answer 503 as an unreachable Keystone
// would look to the cluster.
type countingProxy struct {
	srv   *httptest.Server
	mu    sync.Mutex
	valid int
	down  bool
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &countingProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		down := p.down
		if r.Method == http.MethodGet && r.URL.Path == "/v3/auth/tokens" {
			p.valid++
		}
		p.mu.Unlock()
		if down {
			http.Error(w, "keystone is down", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *countingProxy) validations() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.valid
}

func (p *countingProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// rawGet sends GET path to endpoint with token (none if empty).
func rawGet(t *testing.T, endpoint, path, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, endpoint+path, nil)
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp, string(b)
}

// TestKeystoneAuth runs a cluster with --auth keystone against the real
// Keystone of scripts/keystone-setup.sh: 401s, ownership from the token's
// project, sharing between two projects, admin, the token cache, revocation
// and Keystone outages.
func TestKeystoneAuth(t *testing.T) {
	ks := testKeystone(t)
	ctx := context.Background()
	proxy := newCountingProxy(t, ks.url)
	// Node 2 trusts a validated token for 1s only, to see a revocation
	// take effect; the others keep the default (5 minutes).
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.WithConfig(func(i int, cfg *node.Config) {
		cfg.Auth = "keystone"
		cfg.Keystone.URL = proxy.srv.URL
		cfg.Keystone.User, cfg.Keystone.Password, cfg.Keystone.Project = "glance", ks.glancePW, "service"
		if i == 2 {
			cfg.Keystone.CacheTTL = time.Second
		}
	}))
	user1 := ks.login(t, "user1", ks.userPW, "demo1")
	user2 := ks.login(t, "user2", ks.userPW, "demo2")
	admin := ks.login(t, "admin", ks.adminPW, "admin")

	t.Run("no token and bad token are 401", func(t *testing.T) {
		for _, tok := range []string{"", "not-a-token"} {
			resp, body := rawGet(t, c.URL(0), "/v2/images", tok)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("token %q: status %d %s", tok, resp.StatusCode, body)
			}
			if got, want := resp.Header.Get("WWW-Authenticate"), `Keystone uri="`+proxy.srv.URL+`"`; got != want {
				t.Fatalf("token %q: WWW-Authenticate %q, want %q", tok, got, want)
			}
			if !strings.Contains(body, `"401 Unauthorized"`) || !strings.Contains(body, "could not verify that you are authorized") {
				t.Fatalf("token %q: body %s", tok, body)
			}
		}
		if resp, _ := rawGet(t, c.URL(1), "/versions", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("/versions without a token: %d", resp.StatusCode)
		}
	})

	img, err := images.Create(ctx, user1.images(c.URL(0)), images.CreateOpts{Name: "keystone-img"}).Extract()
	if err != nil {
		t.Fatalf("user1 create: %v", err)
	}
	t.Run("owner is the token's project", func(t *testing.T) {
		if img.Owner != user1.projectID || img.Visibility != "shared" {
			t.Fatalf("owner %q visibility %q, want %q shared", img.Owner, img.Visibility, user1.projectID)
		}
	})

	t.Run("sharing between projects", func(t *testing.T) {
		u2 := user2.images(c.URL(1))
		if _, err := images.Get(ctx, u2, img.ID).Extract(); statusOf(err) != http.StatusNotFound {
			t.Fatalf("user2 get before sharing: %v", err)
		}
		if _, err := members.Create(ctx, u2, img.ID, user2.projectID).Extract(); statusOf(err) != http.StatusNotFound {
			t.Fatalf("user2 adding itself as a member: %v", err)
		}
		if _, err := members.Create(ctx, user1.images(c.URL(0)), img.ID, user2.projectID).Extract(); err != nil {
			t.Fatalf("user1 adds demo2: %v", err)
		}
		if _, err := members.Update(ctx, u2, img.ID, user2.projectID, members.UpdateOpts{Status: "accepted"}).Extract(); err != nil {
			t.Fatalf("user2 accepts: %v", err)
		}
		got, err := images.Get(ctx, u2, img.ID).Extract()
		if err != nil || got.Owner != user1.projectID {
			t.Fatalf("user2 get after accepting: %v %+v", err, got)
		}
		if ids := listIDs(t, u2, images.ListOpts{}); !slices.Contains(ids, img.ID) {
			t.Fatalf("accepted image not in user2's list %v", ids)
		}
		// A member may not change the image.
		if _, err := images.Update(ctx, u2, img.ID, images.UpdateOpts{images.ReplaceImageName{NewName: "x"}}).Extract(); statusOf(err) != http.StatusForbidden {
			t.Fatalf("member update: %v", err)
		}
	})

	t.Run("admin sees every project's images", func(t *testing.T) {
		priv, err := images.Create(ctx, user2.images(c.URL(2)), images.CreateOpts{Name: "private-2", Visibility: ptr(images.ImageVisibilityPrivate)}).Extract()
		if err != nil {
			t.Fatalf("user2 create: %v", err)
		}
		if _, err := images.Get(ctx, user1.images(c.URL(0)), priv.ID).Extract(); statusOf(err) != http.StatusNotFound {
			t.Fatalf("user1 get of demo2's private image: %v", err)
		}
		a := admin.images(c.URL(1))
		for _, id := range []string{img.ID, priv.ID} {
			if _, err := images.Get(ctx, a, id).Extract(); err != nil {
				t.Fatalf("admin get %s: %v", id, err)
			}
		}
		if ids := listIDs(t, a, images.ListOpts{}); !slices.Contains(ids, img.ID) || !slices.Contains(ids, priv.ID) {
			t.Fatalf("admin list %v lacks %s or %s", ids, img.ID, priv.ID)
		}
		// Admin may change another project's image.
		if _, err := images.Update(ctx, a, priv.ID, images.UpdateOpts{images.ReplaceImageName{NewName: "renamed-by-admin"}}).Extract(); err != nil {
			t.Fatalf("admin update: %v", err)
		}
	})

	t.Run("validated tokens are cached", func(t *testing.T) {
		u1 := user1.images(c.URL(0))
		if _, err := images.Get(ctx, u1, img.ID).Extract(); err != nil { // cached by now
			t.Fatal(err)
		}
		before := proxy.validations()
		for range 5 {
			if _, err := images.Get(ctx, u1, img.ID).Extract(); err != nil {
				t.Fatal(err)
			}
		}
		if n := proxy.validations() - before; n != 0 {
			t.Fatalf("5 requests with a cached token made %d Keystone validations", n)
		}
		// Each node has its own cache: node 1 asks Keystone once.
		before = proxy.validations()
		user1Node1 := user1.images(c.URL(1))
		for range 3 {
			if _, err := images.Get(ctx, user1Node1, img.ID).Extract(); err != nil {
				t.Fatal(err)
			}
		}
		if n := proxy.validations() - before; n != 1 {
			t.Fatalf("3 requests to another node made %d Keystone validations, want 1", n)
		}
	})

	t.Run("revoked token is refused after the cache TTL", func(t *testing.T) {
		fresh := ks.login(t, "user1", ks.userPW, "demo1")
		if resp, body := rawGet(t, c.URL(2), "/v2/images/"+img.ID, fresh.token); resp.StatusCode != http.StatusOK {
			t.Fatalf("fresh token: %d %s", resp.StatusCode, body)
		}
		ks.revoke(t, fresh.token)
		// A node that never saw the token asks Keystone: refused at once.
		if resp, _ := rawGet(t, c.URL(0), "/v2/images/"+img.ID, fresh.token); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("revoked token on a node without it cached: %d", resp.StatusCode)
		}
		// Node 2 cached it for at most 1s.
		c.Eventually(10*time.Second, "node 2 refuses the revoked token", func() bool {
			resp, _ := rawGet(t, c.URL(2), "/v2/images/"+img.ID, fresh.token)
			return resp.StatusCode == http.StatusUnauthorized
		})
	})

	t.Run("keystone unreachable is 503, not 401", func(t *testing.T) {
		other := ks.login(t, "user2", ks.userPW, "demo2") // not cached anywhere
		proxy.setDown(true)
		resp, body := rawGet(t, c.URL(0), "/v2/images", other.token)
		proxy.setDown(false)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("WWW-Authenticate") != "" {
			t.Fatalf("keystone down: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
		if resp, body := rawGet(t, c.URL(0), "/v2/images", other.token); resp.StatusCode != http.StatusOK {
			t.Fatalf("keystone back: %d %s", resp.StatusCode, body)
		}
	})
}

func ptr[T any](v T) *T { return &v }

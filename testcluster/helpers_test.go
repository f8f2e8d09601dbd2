package testcluster_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// glance returns a gophercloud image client for a node's endpoint, acting
// as project (empty: noauth admin).
func glance(endpoint, project string) *gophercloud.ServiceClient {
	pc := &gophercloud.ProviderClient{HTTPClient: http.Client{}}
	if project != "" {
		pc.HTTPClient.Transport = projectTransport{project: project}
	}
	return &gophercloud.ServiceClient{ProviderClient: pc, Endpoint: endpoint + "/", ResourceBase: endpoint + "/v2/"}
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

// smallChunks configures 256 KiB chunks so tests move little data but
// many chunks.
func smallChunks() testcluster.Option {
	return testcluster.WithConfig(func(_ int, c *node.Config) { c.ChunkSize = 256 << 10 })
}

// createAndUpload creates a raw/bare image and uploads data through client.
func createAndUpload(t *testing.T, client *gophercloud.ServiceClient, name string, data []byte) *images.Image {
	t.Helper()
	ctx := context.Background()
	img, err := images.Create(ctx, client, images.CreateOpts{Name: name, DiskFormat: "raw", ContainerFormat: "bare"}).Extract()
	if err != nil {
		t.Fatalf("create image: %v", err)
	}
	if err := imagedata.Upload(ctx, client, img.ID, bytes.NewReader(data)).ExtractErr(); err != nil {
		t.Fatalf("upload image: %v", err)
	}
	img, err = images.Get(ctx, client, img.ID).Extract()
	if err != nil {
		t.Fatalf("get image: %v", err)
	}
	return img
}

// download fetches an image's data through client.
func download(t *testing.T, client *gophercloud.ServiceClient, id string) []byte {
	t.Helper()
	rc, err := imagedata.Download(context.Background(), client, id).Extract()
	if err != nil {
		t.Fatalf("download %s: %v", id, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read download of %s: %v", id, err)
	}
	return got
}

// checkImageData checks the catalog's hashes and the bytes of a download.
func checkImageData(t *testing.T, img *images.Image, want, got []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("image %s: downloaded %d bytes differ from the %d uploaded", img.ID, len(got), len(want))
	}
	m := md5.Sum(want)
	s := sha512.Sum512(want)
	if img.Checksum != hex.EncodeToString(m[:]) {
		t.Fatalf("checksum %q, want %x", img.Checksum, m)
	}
	if img.Properties["os_hash_algo"] != "sha512" || img.Properties["os_hash_value"] != hex.EncodeToString(s[:]) {
		t.Fatalf("os_hash %v/%v, want sha512/%x", img.Properties["os_hash_algo"], img.Properties["os_hash_value"], s)
	}
	if img.SizeBytes != int64(len(want)) {
		t.Fatalf("size %d, want %d", img.SizeBytes, len(want))
	}
}

// projectTransport adds the noauth identity headers of a project.
type projectTransport struct{ project string }

func (p projectTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Project-Id", p.project)
	r.Header.Set("X-Roles", "member,reader")
	return http.DefaultTransport.RoundTrip(r)
}

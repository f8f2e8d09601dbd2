package objstore_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/p2pglance/p2pglance/objstore"
	"github.com/p2pglance/p2pglance/objstore/objstoretest"
)

func TestParseStore(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want objstore.Config
		err  string
	}{
		{in: "cold=s3://127.0.0.1:8333/images", want: objstore.Config{Name: "cold", Endpoint: "127.0.0.1:8333", Bucket: "images", PathStyle: true}},
		{in: "aws=s3+https://s3.eu-west-1.amazonaws.com/glance?region=eu-west-1&path_style=false", want: objstore.Config{Name: "aws", Endpoint: "s3.eu-west-1.amazonaws.com", Bucket: "glance", Secure: true, Region: "eu-west-1"}},
		{in: "s3://h/b", err: "NAME="},
		{in: "x=http://h/b", err: "scheme"},
		{in: "x=s3://key:secret@h/b", err: "credentials do not go in the URL"},
		{in: "x=s3://h/", err: "BUCKET"},
		{in: "x=s3://h/a/b", err: "BUCKET"},
	} {
		got, err := objstore.ParseStore(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: the error shows the secret: %v", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func store(t *testing.T, srv *objstoretest.Server, bucket, access, secret string) *objstore.Store {
	t.Helper()
	s, err := objstore.New(objstore.Config{Name: "s3test", Endpoint: srv.Endpoint, Bucket: bucket, AccessKey: access, SecretKey: secret, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// oneByOne hides a reader's size, so Put streams it in parts.
type oneByOne struct{ r io.Reader }

func (o oneByOne) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestAgainstSeaweedFS: put (streamed, multipart), hashes, ranges, size,
// delete, and the errors of wrong credentials and a missing bucket, on a
// real S3 server.
func TestAgainstSeaweedFS(t *testing.T) {
	srv := objstoretest.Start(t)
	bucket := srv.Bucket("images")
	s := store(t, srv, bucket, srv.AccessKey, srv.SecretKey)
	ctx := context.Background()
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 2*objstore.PartSize+12345)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	w, err := s.Put(ctx, "img-1", oneByOne{bytes.NewReader(data)}, -1)
	if err != nil {
		t.Fatal(err)
	}
	m, sh := md5.Sum(data), sha512.Sum512(data)
	if w.Size != int64(len(data)) || w.MD5 != hex.EncodeToString(m[:]) || w.SHA512 != hex.EncodeToString(sh[:]) {
		t.Fatalf("written %+v", w)
	}
	if n, err := s.Size(ctx, "img-1"); err != nil || n != int64(len(data)) {
		t.Fatalf("size %d, %v", n, err)
	}
	buf := make([]byte, 1<<20)
	off := int64(objstore.PartSize - 1000) // across a part boundary
	got, err := s.ReadRange(ctx, "img-1", off, 1<<20, buf)
	if err != nil || !bytes.Equal(got, data[off:off+1<<20]) {
		t.Fatalf("range read: %v", err)
	}
	rc, err := s.Open(ctx, "img-1")
	if err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(all, data) {
		t.Fatalf("whole read: %d bytes, %v", len(all), err)
	}
	if got := s.URL("img-1"); got != "s3://"+srv.Endpoint+"/images/img-1" {
		t.Fatalf("url %s", got)
	}
	if err := s.Delete(ctx, "img-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadRange(ctx, "img-1", 0, 10, buf); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("read after delete: %v", err)
	}
	if err := s.Delete(ctx, "img-1"); err != nil {
		t.Fatalf("delete of a deleted object: %v", err)
	}

	wrong := store(t, srv, bucket, srv.AccessKey, "not-the-secret")
	if err := wrong.Check(ctx); !errors.Is(err, objstore.ErrAccessDenied) {
		t.Fatalf("check with a wrong secret: %v", err)
	}
	if _, err := wrong.Put(ctx, "x", strings.NewReader("x"), 1); !errors.Is(err, objstore.ErrAccessDenied) {
		t.Fatalf("put with a wrong secret: %v", err)
	}
	missing := store(t, srv, "no-such-bucket", srv.AccessKey, srv.SecretKey)
	if err := missing.Check(ctx); !errors.Is(err, objstore.ErrNoBucket) {
		t.Fatalf("check of a missing bucket: %v", err)
	}
	if _, err := missing.Put(ctx, "x", strings.NewReader("x"), 1); !errors.Is(err, objstore.ErrNoBucket) {
		t.Fatalf("put into a missing bucket: %v", err)
	}
}

// stopAfter stops the server once n bytes were read, then fails reads.
type stopAfter struct {
	r    io.Reader
	n    int64
	stop func()
	done bool
}

func (s *stopAfter) Read(p []byte) (int, error) {
	if s.n <= 0 {
		if !s.done {
			s.done = true
			s.stop()
		}
		time.Sleep(10 * time.Millisecond)
	}
	n, err := s.r.Read(p)
	s.n -= int64(n)
	return n, err
}

// TestServerStoppedMidUpload: a put cut by the server stopping fails, and
// no object of it is there once the server is back.
func TestServerStoppedMidUpload(t *testing.T) {
	srv := objstoretest.Start(t)
	s := store(t, srv, srv.Bucket("images"), srv.AccessKey, srv.SecretKey)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	data := bytes.Repeat([]byte("p2pglance"), (3*objstore.PartSize)/9)
	r := &stopAfter{r: bytes.NewReader(data), n: objstore.PartSize + objstore.PartSize/2, stop: srv.Stop}
	if _, err := s.Put(ctx, "cut", oneByOne{r}, -1); err == nil {
		t.Fatal("a put through a stopped server succeeded")
	}
	srv.Restart()
	if _, err := s.Size(context.Background(), "cut"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("after the cut upload: %v, want not found", err)
	}
}

// TestImageChunks: an image streamed into the store comes back with the
// manifest the chunk store would give it, chunk by chunk verified; a
// changed object is refused, never served.
func TestImageChunks(t *testing.T) {
	srv := objstoretest.Start(t)
	s := store(t, srv, srv.Bucket("images"), srv.AccessKey, srv.SecretKey)
	ctx := context.Background()
	const chunk = 1 << 20
	data := make([]byte, 3*chunk+chunk/2)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	man, err := s.PutImage(ctx, "img", oneByOne{bytes.NewReader(data)}, chunk)
	if err != nil {
		t.Fatal(err)
	}
	m, sh := md5.Sum(data), sha512.Sum512(data)
	if len(man.Chunks) != 4 || man.Size != int64(len(data)) || man.Checksum != hex.EncodeToString(m[:]) || man.OSHashValue != hex.EncodeToString(sh[:]) {
		t.Fatalf("manifest %+v", man)
	}
	buf := make([]byte, chunk)
	for i, ref := range man.Chunks {
		want := data[i*chunk : min((i+1)*chunk, len(data))]
		sum := blake3.Sum256(want) // the chunk store's name of a chunk
		if d := hex.EncodeToString(sum[:]); ref.Digest != d || ref.Size != int64(len(want)) {
			t.Fatalf("chunk %d: %+v, want %s (%d bytes)", i, ref, d, len(want))
		}
		got, err := s.ReadChunk(ctx, "img", man, i, buf)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	// Another object under the same key: every chunk that changed is
	// refused.
	bad := bytes.Clone(data)
	bad[chunk+5] ^= 1
	if _, err := s.Put(ctx, "img", bytes.NewReader(bad), int64(len(bad))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadChunk(ctx, "img", man, 1, buf); !errors.Is(err, objstore.ErrCorrupt) {
		t.Fatalf("a changed chunk: %v", err)
	}
	if _, err := s.ReadChunk(ctx, "img", man, 0, buf); err != nil {
		t.Fatalf("an unchanged chunk: %v", err)
	}
}

// Package objstore keeps image data in an S3 object store, laid out as
// glance_store's S3 driver lays it out: one object per image, named by the
// image id, in the store's bucket. Writes stream (multipart, a bounded
// part in memory) and hash as they go; reads take byte ranges, so a
// caller verifies each chunk against the catalog before serving it.
package objstore

import (
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Errors, for callers to tell apart (wrapped with the store's detail).
var (
	// ErrNotFound: no such object.
	ErrNotFound = errors.New("object not found")
	// ErrNoBucket: the bucket does not exist.
	ErrNoBucket = errors.New("bucket does not exist")
	// ErrAccessDenied: the credentials are wrong or lack a permission.
	ErrAccessDenied = errors.New("access denied by the object store")
)

// PartSize is the part of a multipart upload held in memory at once.
const PartSize = 16 << 20

// Config names one S3 store.
type Config struct {
	// Name is the store's name (Glance's store id).
	Name string
	// Endpoint is host[:port]; Secure uses https.
	Endpoint string
	Secure   bool
	Bucket   string
	// AccessKey and SecretKey are the credentials (never in a URL).
	AccessKey, SecretKey string
	// Region is the bucket's region ("" lets the client ask).
	Region string
	// PathStyle addresses the bucket in the path (host/bucket/key), as
	// most S3 servers other than AWS want; false: virtual-host style
	// where the server supports it.
	PathStyle bool
	// Transport carries the requests (nil: a default one).
	Transport http.RoundTripper
}

// ParseStore reads the --object-store flag's value NAME=s3://HOST[:PORT]/BUCKET
// (s3+https:// for TLS). Credentials are never taken from the URL: one
// there is an error, so it is never logged.
func ParseStore(s string) (Config, error) {
	name, raw, ok := strings.Cut(s, "=")
	if !ok || name == "" || strings.ContainsAny(name, "/ ,") {
		return Config{}, fmt.Errorf("object store %q: want NAME=s3://HOST[:PORT]/BUCKET", s)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("object store %s: not a URL", name)
	}
	c := Config{Name: name, PathStyle: true}
	switch u.Scheme {
	case "s3":
	case "s3+https":
		c.Secure = true
	default:
		return Config{}, fmt.Errorf("object store %s: scheme %q, want s3 or s3+https", name, u.Scheme)
	}
	if u.User != nil {
		return Config{}, fmt.Errorf("object store %s: credentials do not go in the URL; set P2PGLANCE_OBJECT_STORE_%s_ACCESS_KEY and _SECRET_KEY", name, EnvName(name))
	}
	c.Endpoint = u.Host
	c.Bucket = strings.Trim(u.Path, "/")
	if c.Endpoint == "" || c.Bucket == "" || strings.Contains(c.Bucket, "/") {
		return Config{}, fmt.Errorf("object store %s: want s3://HOST[:PORT]/BUCKET", name)
	}
	q := u.Query()
	c.Region = q.Get("region")
	if v := q.Get("path_style"); v == "false" {
		c.PathStyle = false
	}
	return c, nil
}

// EnvName is a store name as it appears in environment variable names.
func EnvName(name string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name))
}

// Store is one S3 bucket holding image objects.
type Store struct {
	cfg    Config
	client *minio.Client
}

// New returns a client for cfg; it does not connect (Check does).
func New(cfg Config) (*Store, error) {
	lookup := minio.BucketLookupPath
	if !cfg.PathStyle {
		lookup = minio.BucketLookupAuto
	}
	tr := cfg.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
		}
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       cfg.Secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    tr,
		MaxRetries:   3, // a broken store fails a request in seconds, not minutes
	})
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", cfg.Name, err)
	}
	return &Store{cfg: cfg, client: client}, nil
}

// Name returns the store's name.
func (s *Store) Name() string { return s.cfg.Name }

// Bucket returns the store's bucket.
func (s *Store) Bucket() string { return s.cfg.Bucket }

// URL is the location of object key as glance_store's S3 driver writes it,
// without credentials: s3://HOST/BUCKET/KEY (s3+https for TLS).
func (s *Store) URL(key string) string {
	scheme := "s3"
	if s.cfg.Secure {
		scheme = "s3+https"
	}
	return scheme + "://" + s.cfg.Endpoint + "/" + s.cfg.Bucket + "/" + key
}

// mapErr turns the S3 answer into this package's errors.
func (s *Store) mapErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchKey", "NotFound":
		if key == "" {
			return fmt.Errorf("object store %s: %s: %w", s.cfg.Name, op, ErrNoBucket)
		}
		return fmt.Errorf("object store %s: %s %s: %w", s.cfg.Name, op, key, ErrNotFound)
	case "NoSuchBucket":
		return fmt.Errorf("object store %s: %s: bucket %s: %w", s.cfg.Name, op, s.cfg.Bucket, ErrNoBucket)
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken":
		return fmt.Errorf("object store %s: %s: %w (%s)", s.cfg.Name, op, ErrAccessDenied, resp.Code)
	}
	if resp.StatusCode == http.StatusNotFound && key != "" {
		return fmt.Errorf("object store %s: %s %s: %w", s.cfg.Name, op, key, ErrNotFound)
	}
	if resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("object store %s: %s: %w", s.cfg.Name, op, ErrAccessDenied)
	}
	return fmt.Errorf("object store %s: %s %s: %w", s.cfg.Name, op, key, err)
}

// Check reports whether the bucket exists and the credentials may use it.
func (s *Store) Check(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return s.mapErr("check bucket", "", err)
	}
	if !ok {
		return fmt.Errorf("object store %s: bucket %s: %w", s.cfg.Name, s.cfg.Bucket, ErrNoBucket)
	}
	return nil
}

// Written is what Put wrote: its size and the hashes Glance records.
type Written struct {
	Size   int64
	MD5    string // hex
	SHA512 string // hex
}

// hashReader hashes what passes through it.
type hashReader struct {
	r           io.Reader
	md5, sha512 hash.Hash
	n           int64
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if n > 0 {
		h.md5.Write(p[:n])
		h.sha512.Write(p[:n])
		h.n += int64(n)
	}
	return n, err
}

// Put streams r into object key (size bytes, or -1 when unknown), in
// multipart parts of PartSize, hashing as it goes. The object exists only
// once the upload completed: an upload cut short leaves none (the store
// discards the parts of an unfinished multipart upload).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) (Written, error) {
	m, sh := md5.New(), sha512.New()
	hr := &hashReader{r: r, md5: m, sha512: sh}
	_, err := s.client.PutObject(ctx, s.cfg.Bucket, key, hr, size, minio.PutObjectOptions{
		PartSize:    PartSize,
		ContentType: "application/octet-stream",
	})
	if err != nil {
		return Written{}, s.mapErr("put", key, err)
	}
	return Written{Size: hr.n, MD5: hex.EncodeToString(m.Sum(nil)), SHA512: hex.EncodeToString(sh.Sum(nil))}, nil
}

// ReadRange reads n bytes of object key from offset off into buf (which
// must hold them) and returns them.
func (s *Store) ReadRange(ctx context.Context, key string, off, n int64, buf []byte) ([]byte, error) {
	if int64(cap(buf)) < n {
		return nil, fmt.Errorf("object store %s: read %s: range of %d bytes over the buffer", s.cfg.Name, key, n)
	}
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(off, off+n-1); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, key, opts)
	if err != nil {
		return nil, s.mapErr("get", key, err)
	}
	defer obj.Close()
	buf = buf[:n]
	if _, err := io.ReadFull(obj, buf); err != nil {
		return nil, s.mapErr("get", key, err)
	}
	return buf, nil
}

// Open streams the whole object key.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.mapErr("get", key, err)
	}
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s.mapErr("get", key, err)
	}
	return obj, nil
}

// Size returns the size of object key.
func (s *Store) Size(ctx context.Context, key string) (int64, error) {
	info, err := s.client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return 0, s.mapErr("stat", key, err)
	}
	return info.Size, nil
}

// Delete removes object key; one already gone is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.client.RemoveObject(ctx, s.cfg.Bucket, key, minio.RemoveObjectOptions{})
	if err = s.mapErr("delete", key, err); errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

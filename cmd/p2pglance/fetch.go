package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const fetchUsage = `usage: p2pglance fetch IMAGE_ID --to PATH [flags]

Downloads an active image from a node (by default the local one) into PATH.
The data streams into PATH.part; size, checksum (md5) and os_hash_value
(sha512) are checked against the catalog, the file is synced and only then
renamed to PATH. A check that fails leaves PATH untouched.

An interrupted fetch (Ctrl-C, lost connection, stalled node) keeps PATH.part
and its record PATH.part.json: the same command resumes where it stopped
(the kept bytes are hashed again, the rest is asked for with a Range).
Aligned 4 KiB blocks of zeros become holes (a sparse file, same bytes when
read) unless --no-sparse.

flags:
`

// Errors of the fetch command.
var (
	// errImageNotActive: the image exists but has no data to fetch (yet).
	errImageNotActive = errors.New("image is not active")
	// errVerify: the downloaded bytes do not match the catalog.
	errVerify = errors.New("verification failed")
	// errStalled: the node sent no data for the idle timeout.
	errStalled = errors.New("download stalled")
	// errPartBusy: another fetch is writing the same PATH.part.
	errPartBusy = errors.New("another fetch is writing this file")
)

// runFetch runs "p2pglance fetch ...".
func runFetch(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := imageFetcher{out: stderr}
	fs.StringVar(&f.to, "to", "", "file to write the image to (required); PATH.part and PATH.part.json are kept next to it while fetching")
	fs.StringVar(&f.node, "node", envOr("P2PGLANCE_NODE", "http://127.0.0.1:9292"), "Glance API URL of the node to fetch from (environment P2PGLANCE_NODE)")
	fs.StringVar(&f.token, "token", os.Getenv("OS_TOKEN"), "Keystone token sent as X-Auth-Token (keystone auth mode; environment OS_TOKEN)")
	fs.StringVar(&f.project, "project", "", "X-Project-Id to act as (noauth mode; none: the noauth admin)")
	fs.StringVar(&f.roles, "roles", "", "X-Roles to send with --project (noauth mode; the node's default: member,reader)")
	fs.BoolVar(&f.noProgress, "no-progress", false, "print no progress: neither the bar nor the start and final lines (errors are still printed)")
	fs.BoolVar(&f.noSparse, "no-sparse", false, "write zero blocks as data instead of leaving holes (a fully allocated file)")
	fs.Usage = func() {
		fmt.Fprint(stderr, fetchUsage)
		fs.PrintDefaults()
	}
	// The image id comes first in the usage line, and the flag package
	// stops at the first argument that is not a flag: parse around it.
	var ids []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		ids = append(ids, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case len(ids) == 0:
		fs.Usage()
		return errors.New("fetch: no image id given")
	case len(ids) > 1:
		return fmt.Errorf("fetch: one image id expected, got %q", ids)
	case f.to == "":
		fs.Usage()
		return errors.New("fetch: --to PATH is required")
	}
	f.tty = isTerminal(os.Stderr)
	return f.fetch(ctx, ids[0])
}

// imageFetcher downloads one image into a local file, resumably.
type imageFetcher struct {
	node    string // base URL, e.g. http://127.0.0.1:9292
	token   string // X-Auth-Token
	project string // X-Project-Id
	roles   string // X-Roles
	to      string // destination path

	noProgress bool // no output but errors
	noSparse   bool // write zero blocks as data
	tty        bool // out is a terminal: draw a progress bar

	out         io.Writer     // progress and summary lines
	client      *http.Client  // nil: fetchClient()
	idleTimeout time.Duration // no body bytes for this long fails the download; 0: 2 minutes
}

// catalogImage is the part of the image record that a fetch checks.
type catalogImage struct {
	ID          string  `json:"id"`
	Name        *string `json:"name"`
	Status      string  `json:"status"`
	DiskFormat  *string `json:"disk_format"`
	Size        *int64  `json:"size"`
	Checksum    *string `json:"checksum"`
	OSHashAlgo  *string `json:"os_hash_algo"`
	OSHashValue *string `json:"os_hash_value"`
}

// fetchClient is an HTTP client for large downloads: no overall timeout
// (a stall is caught per read), but bounded connection and header waits.
func fetchClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = 2 * time.Minute
	t.DisableCompression = true // sizes and ranges are of the image bytes
	return &http.Client{Transport: t}
}

// fetch downloads image id to f.to; see fetchUsage.
func (f *imageFetcher) fetch(ctx context.Context, id string) error {
	if f.client == nil {
		f.client = fetchClient()
	}
	if f.idleTimeout <= 0 {
		f.idleTimeout = 2 * time.Minute
	}
	if f.out == nil || f.noProgress {
		f.out = io.Discard
	}
	f.node = strings.TrimRight(f.node, "/")
	if st, err := os.Stat(f.to); err == nil && st.IsDir() {
		return fmt.Errorf("fetch: --to %s is a directory", f.to)
	}
	img, err := f.image(ctx, id)
	if err != nil {
		return err
	}
	part, err := openPart(f.to, img, !f.noSparse)
	if err != nil {
		return err
	}
	defer part.close()

	sum := newImageHash(img)
	defer sum.close()
	prog := newProgress(f.out, f.tty && !f.noProgress, *img.Size)
	defer prog.stop()
	if part.offset > 0 {
		prog.line("resuming image %s at %s of %s: checking the %s already in %s", img.ID, fmtBytes(part.offset), fmtBytes(*img.Size), fmtBytes(part.offset), part.path)
		if err := hashPrefix(ctx, part, sum, prog); err != nil {
			return err
		}
	} else {
		prog.line("fetching image %s (%s, %s) from %s to %s", img.ID, imageName(img), fmtBytes(*img.Size), f.node, f.to)
	}
	start := time.Now()
	received, err := f.download(ctx, img, part, sum, prog)
	if err != nil {
		return err
	}
	prog.stop()
	if err := sum.verify(); err != nil {
		part.disclaim()
		return fmt.Errorf("fetch %s: %w; %s kept for inspection, PATH %s untouched (the next fetch starts over)", img.ID, err, part.path, f.to)
	}
	if err := part.commit(f.to); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	prog.line("fetched image %s to %s: %s (%s received in %.1fs, %s/s), %s verified%s",
		img.ID, f.to, fmtBytes(*img.Size), fmtBytes(received), secs, fmtBytes(int64(float64(received)/max(secs, 1e-3))), sum.names(), part.holeNote())
	return nil
}

func imageName(img *catalogImage) string {
	if img.Name == nil || *img.Name == "" {
		return "no name"
	}
	return fmt.Sprintf("%q", *img.Name)
}

// image reads the catalog record and checks that there is data to fetch.
// An active image without size or checksum may have its data only at an
// http(s) location, pulled on first download: the node is asked for the
// first byte (which makes the cluster pull and verify the data) and the
// record read again, so the fetch verifies against the pulled data's
// size and hashes.
func (f *imageFetcher) image(ctx context.Context, id string) (*catalogImage, error) {
	img, err := f.record(ctx, id)
	if err == nil && (img.Size == nil || img.Checksum == nil) {
		resp, gerr := f.get(ctx, "/v2/images/"+url.PathEscape(id)+"/file", "bytes=0-0")
		if gerr != nil {
			return nil, gerr
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		img, err = f.record(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	if img.Size == nil || *img.Size < 0 {
		return nil, fmt.Errorf("fetch %s: the catalog records no size for it", id)
	}
	return img, nil
}

// record reads the catalog record of an active image.
func (f *imageFetcher) record(ctx context.Context, id string) (*catalogImage, error) {
	resp, err := f.get(ctx, "/v2/images/"+url.PathEscape(id), "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("get image %s: read answer: %w", id, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("image %s not found on %s (or not visible to this project)", id, f.node)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, apiError("get image "+id, resp.StatusCode, body)
	}
	var img catalogImage
	if err := json.Unmarshal(body, &img); err != nil {
		return nil, fmt.Errorf("get image %s: decode answer: %w", id, err)
	}
	if img.Status != "active" {
		return nil, fmt.Errorf("fetch %s: %w: its status is %q", id, errImageNotActive, img.Status)
	}
	return &img, nil
}

// get sends a GET with the identity headers.
func (f *imageFetcher) get(ctx context.Context, path, rng string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.node+path, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	if f.token != "" {
		req.Header.Set("X-Auth-Token", f.token)
	}
	if f.project != "" {
		req.Header.Set("X-Project-Id", f.project)
	}
	if f.roles != "" {
		req.Header.Set("X-Roles", f.roles)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return resp, nil
}

// download writes the image bytes from part.offset on into the part,
// hashing them, and returns how many bytes it received. An error leaves
// the part synced and its record in place for a later resume.
func (f *imageFetcher) download(ctx context.Context, img *catalogImage, part *partFile, sum *imageHash, prog *progress) (int64, error) {
	size := *img.Size
	if part.offset == size && size > 0 {
		return 0, nil // complete before an interruption; only checks remain
	}
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rng := ""
	if part.offset > 0 {
		rng = fmt.Sprintf("bytes=%d-", part.offset)
	}
	resp, err := f.get(reqCtx, "/v2/images/"+url.PathEscape(img.ID)+"/file", rng)
	if err != nil {
		return 0, f.interrupted(ctx, img, part, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK && part.offset > 0:
		// The node ignored the Range: take the whole image from byte 0.
		prog.line("the node answered the range with the whole image: starting over")
		if err := part.restart(); err != nil {
			return 0, err
		}
		sum.reset()
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusPartialContent && part.offset > 0:
		want := fmt.Sprintf("bytes %d-%d/%d", part.offset, size-1, size)
		if cr := resp.Header.Get("Content-Range"); cr != want {
			return 0, fmt.Errorf("fetch %s: node answered range %q, asked for %q", img.ID, cr, want)
		}
	case resp.StatusCode == http.StatusNoContent:
		return 0, fmt.Errorf("fetch %s: the node has no data for it (204)", img.ID)
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return 0, apiError("download image "+img.ID, resp.StatusCode, body)
	}
	want := size - part.offset
	if resp.ContentLength >= 0 && resp.ContentLength != want {
		return 0, fmt.Errorf("fetch %s: %w: node sends %d bytes, catalog size needs %d", img.ID, errVerify, resp.ContentLength, want)
	}
	if md := resp.Header.Get("Content-MD5"); md != "" && img.Checksum != nil && !strings.EqualFold(md, *img.Checksum) {
		return 0, fmt.Errorf("fetch %s: %w: node's Content-MD5 %s is not the catalog checksum %s", img.ID, errVerify, md, *img.Checksum)
	}

	body := newIdleReader(resp.Body, f.idleTimeout, func() { cancel(errStalled) })
	defer body.stop()
	prog.phase("", part.offset, size)
	n, err := copyImage(part, sum, body, want, prog)
	if err == nil {
		// Anything past the catalog size is a wrong image, not a longer one.
		var extra [1]byte
		if k, _ := io.ReadFull(body, extra[:]); k > 0 {
			err = fmt.Errorf("%w: the node sends more than the catalog size %d", errVerify, size)
		}
	}
	if err != nil {
		if errors.Is(err, errVerify) {
			part.disclaim()
			return n, fmt.Errorf("fetch %s: %w; %s kept for inspection, PATH %s untouched (the next fetch starts over)", img.ID, err, part.path, f.to)
		}
		if c := context.Cause(reqCtx); c != nil && ctx.Err() == nil {
			err = fmt.Errorf("%w: no data for %s", c, f.idleTimeout)
		}
		return n, f.interrupted(ctx, img, part, err)
	}
	return n, nil
}

// interrupted keeps what was received and describes how to resume.
func (f *imageFetcher) interrupted(ctx context.Context, img *catalogImage, part *partFile, err error) error {
	if e := part.keep(); e != nil {
		return fmt.Errorf("fetch %s: %w (and syncing %s: %w)", img.ID, err, part.path, e)
	}
	if ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	return fmt.Errorf("fetch %s interrupted at %s of %s (%w); %s kept: run the same command again to resume",
		img.ID, fmtBytes(part.written()), fmtBytes(*img.Size), err, part.path)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if e := d.Close(); err == nil {
		err = e
	}
	return err
}

// partPaths returns the temporary file and its record for a destination.
func partPaths(to string) (part, record string) {
	part = to + ".part"
	return part, part + ".json"
}

// dirOf returns the directory to sync after renaming into path.
func dirOf(path string) string { return filepath.Dir(path) }

package raftfsm

import (
	"strings"
	"unique"

	"github.com/p2pglance/p2pglance/catalog"
)

// imageRec is how the catalog holds one image: the attributes the indexes
// order and filter by, as fields, and everything else packed in enc
// (varints, hex digests as bytes). A record is immutable once built: a
// write replaces it, so readers holding the old one never see it change,
// and every image handed out is decoded afresh (decodeImage).
//
// Low-cardinality strings are interned (unique.Handle: one pointer, the
// string stored once per process); id and name are substrings of enc.
type imageRec struct {
	id      string
	name    string // valid when recName is set
	created uint64 // uint64(CreatedAt.UnixNano()): the index keys' order
	updated uint64
	size    int64 // valid when recSize is set
	rev     uint64
	// Interned strings; the zero Handle stands for a nil pointer.
	status, visibility, owner, diskFormat, containerFormat interned
	flags                                                  uint8
	enc                                                    string
}

// imageRec flags.
const (
	recName = 1 << iota
	recSize
	// recNUL: an indexed string (id, name, status, visibility, owner,
	// disk or container format) holds a NUL byte, so the fast field
	// comparisons do not order it like the index keys' bytes do.
	recNUL
	// recProbe: not an image but a position in an index (probe); enc
	// holds the key bytes.
	recProbe
)

// enc flag bits (the byte after id and name).
const (
	encProtected = 1 << iota
	encHidden
	encShortPlacement
	encVirtualSize
	encStores // Stores follows the locations (absent in records made before it)
)

// interned is a string stored once per process; the zero value stands
// for a nil *string.
type interned = unique.Handle[string]

func intern(s string) interned { return unique.Make(s) }

func internPtr(p *string) interned {
	if p == nil {
		return interned{}
	}
	return unique.Make(*p)
}

// value returns h's string; ok is false for the zero handle (nil).
func value(h interned) (s string, ok bool) {
	if h == (interned{}) {
		return "", false
	}
	return h.Value(), true
}

func (r *imageRec) hasName() bool { return r.flags&recName != 0 }
func (r *imageRec) hasSize() bool { return r.flags&recSize != 0 }

// encodeImage builds the record of img at revision rev, coding repeated
// short strings through dict (nil: none). img is only read.
func encodeImage(img *catalog.Image, rev uint64, dict *strDict) *imageRec {
	r := &imageRec{
		created: uint64(img.CreatedAt.UnixNano()), updated: uint64(img.UpdatedAt.UnixNano()), rev: rev,
		status: intern(img.Status), visibility: intern(img.Visibility), owner: internPtr(img.Owner),
		diskFormat: internPtr(img.DiskFormat), containerFormat: internPtr(img.ContainerFormat),
	}
	if img.Size != nil {
		r.flags |= recSize
		r.size = *img.Size
	}
	hasNUL := func(s string) bool { return strings.IndexByte(s, 0) >= 0 }
	hasNULPtr := func(p *string) bool { return p != nil && hasNUL(*p) }
	if hasNUL(img.ID) || hasNULPtr(img.Name) || hasNUL(img.Status) || hasNUL(img.Visibility) ||
		hasNULPtr(img.Owner) || hasNULPtr(img.DiskFormat) || hasNULPtr(img.ContainerFormat) {
		r.flags |= recNUL
	}

	e := encoder{b: make([]byte, 0, 512), dict: dict}
	e.str(img.ID)
	idEnd := len(e.b)
	e.nullStr(img.Name)
	nameEnd := len(e.b)
	var f byte
	if img.Protected {
		f |= encProtected
	}
	if img.OSHidden {
		f |= encHidden
	}
	if img.ShortPlacement {
		f |= encShortPlacement
	}
	if img.VirtualSize != nil {
		f |= encVirtualSize
	}
	if img.Stores != nil {
		f |= encStores
	}
	e.b = append(e.b, f)
	e.nullVal(img.Checksum)
	e.nullVal(img.OSHashAlgo)
	e.nullVal(img.OSHashValue)
	if img.VirtualSize != nil {
		e.varint(*img.VirtualSize)
	}
	e.varint(img.MinRAM)
	e.varint(img.MinDisk)
	e.time(img.CreatedAt)
	e.time(img.UpdatedAt)
	e.strs(img.Tags)
	e.strMap(img.Properties)
	e.manifest(img.Manifest)
	e.strs(img.Placement)
	if u := img.Upload; u != nil {
		e.b = append(e.b, 1)
		e.val(u.Node)
		e.str(u.Session)
		e.time(u.Started)
	} else {
		e.b = append(e.b, 0)
	}
	e.manifest(img.Staging)
	e.strs(img.StagingPlacement)
	e.count(img.Locations == nil, len(img.Locations))
	for _, l := range img.Locations {
		e.str(l.URL)
		e.strMap(l.Metadata)
	}
	if img.Stores != nil {
		e.strs(img.Stores)
	}

	r.enc = string(e.b)
	dict.publish()
	// id and name share enc's bytes. Their length prefixes are varints,
	// so the strings end where their fields end.
	r.id = r.enc[idEnd-len(img.ID) : idEnd]
	if img.Name != nil {
		r.flags |= recName
		r.name = r.enc[nameEnd-len(*img.Name) : nameEnd]
	}
	return r
}

// decodedImage holds a decoded image and the values its pointer fields
// point to: one allocation instead of one per field.
type decodedImage struct {
	img  catalog.Image
	strs [7]string
	ints [2]int64
}

// decodeImage returns a new image equal to the one r was built from (same
// JSON, nil and empty collections kept apart), dict being the one it was
// encoded with. It shares no memory the catalog writes to.
func decodeImage(r *imageRec, dict *strDict) *catalog.Image {
	blk := &decodedImage{}
	img := &blk.img
	d := decoder{s: r.enc, dict: dict.strings()}
	img.ID = d.str()
	if p := d.nullStr(); p.ok {
		blk.strs[0] = p.s
		img.Name = &blk.strs[0]
	}
	img.Status, _ = value(r.status)
	img.Visibility, _ = value(r.visibility)
	f := d.byte()
	img.Protected = f&encProtected != 0
	img.OSHidden = f&encHidden != 0
	img.ShortPlacement = f&encShortPlacement != 0
	img.Checksum = d.nullVal().ptr(&blk.strs[1])
	img.OSHashAlgo = d.nullVal().ptr(&blk.strs[2])
	img.OSHashValue = d.nullVal().ptr(&blk.strs[3])
	if s, ok := value(r.owner); ok {
		blk.strs[4] = s
		img.Owner = &blk.strs[4]
	}
	if s, ok := value(r.diskFormat); ok {
		blk.strs[5] = s
		img.DiskFormat = &blk.strs[5]
	}
	if s, ok := value(r.containerFormat); ok {
		blk.strs[6] = s
		img.ContainerFormat = &blk.strs[6]
	}
	if r.hasSize() {
		blk.ints[0] = r.size
		img.Size = &blk.ints[0]
	}
	if f&encVirtualSize != 0 {
		blk.ints[1] = d.varint()
		img.VirtualSize = &blk.ints[1]
	}
	img.MinRAM = d.varint()
	img.MinDisk = d.varint()
	img.CreatedAt = d.time()
	img.UpdatedAt = d.time()
	img.Tags = d.strs()
	img.Properties = d.strMap()
	img.Manifest = d.manifest()
	img.Placement = d.strs()
	if d.byte() == 1 {
		img.Upload = &catalog.UploadLock{Node: d.val(), Session: d.str(), Started: d.time()}
	}
	img.Staging = d.manifest()
	img.StagingPlacement = d.strs()
	if n, isNil := d.count(); !isNil {
		img.Locations = make([]catalog.Location, n)
		for i := range img.Locations {
			img.Locations[i].URL = d.str()
			img.Locations[i].Metadata = d.strMap()
		}
	}
	if f&encStores != 0 {
		img.Stores = d.strs()
	}
	img.Revision = r.rev
	return img
}

package peer

import (
	"fmt"
	"io"
)

// Who holds which chunk is kept by a few "trackers" per image (package
// node/tracker): a holder sends each of an image's trackers its bitmap
// of the image (Holdings), a downloader asks one of them (HoldersQuery).

// Holdings is a batch one holder sends one tracker: for each image, the
// chunks it holds now, replacing whatever it said about the image
// before, or that it holds none any more.
type Holdings struct {
	// Holder is the sending node's id.
	Holder string `json:"holder"`
	// Epoch is the holder's boot time (unix nanoseconds, as its gossip
	// metadata says): a batch with a newer epoch replaces everything the
	// tracker had from the holder; one with an older epoch is dropped.
	Epoch int64 `json:"epoch"`
	// Images are the holder's images, each at most once.
	Images []ImageHoldings `json:"images"`
}

// ImageHoldings is what one holder holds of one image.
type ImageHoldings struct {
	Image string `json:"image"`
	// Version grows with every change the holder makes to any of its
	// holdings; a tracker ignores a version not newer than the one it
	// has for the holder and image.
	Version uint64 `json:"version"`
	// Total is the image's chunk count (1 to MaxChunks; 0 with Gone).
	Total int `json:"total,omitempty"`
	// All: the holder holds every chunk (Bits is empty).
	All bool `json:"all,omitempty"`
	// Bits has one bit per chunk (chunk i: byte i/8, bit i%8, least
	// significant first), exactly (Total+7)/8 bytes, unless All or Gone.
	Bits []byte `json:"bits,omitempty"`
	// Gone: the holder holds no chunk of the image any more.
	Gone bool `json:"gone,omitempty"`
}

// HoldersQuery asks a tracker who holds an image.
type HoldersQuery struct {
	Image string `json:"image"`
	// Zone and Rack are the asker's: holders in its rack come first,
	// then holders in its zone, then the others.
	Zone string `json:"zone,omitempty"`
	Rack string `json:"rack,omitempty"`
	// Limit bounds the holders answered (0, or over MaxHolders:
	// MaxHolders).
	Limit int `json:"limit,omitempty"`
	// Full asks only for holders of every chunk.
	Full bool `json:"full,omitempty"`
}

// HoldersAnswer is a tracker's answer: the holders it knows of, nearest
// to the asker first.
type HoldersAnswer struct {
	Holders []Holder `json:"holders"`
	// Partial: the tracker became one of the image's trackers lately
	// (a node joined or left, or it restarted), so holders may not all
	// have told it yet: ask the next tracker too.
	Partial bool `json:"partial,omitempty"`
}

// Holder is one holder in a HoldersAnswer: its id, and what it said of
// the image (Epoch and Version tell two trackers' answers apart: the
// newer wins).
type Holder struct {
	Node    string `json:"node"`
	Epoch   int64  `json:"epoch"`
	Version uint64 `json:"version"`
	Total   int    `json:"total"`
	All     bool   `json:"all,omitempty"`
	Bits    []byte `json:"bits,omitempty"`
}

// BitmapLen is the length of the bitmap of an image of total chunks.
func BitmapLen(total int) int { return (total + 7) / 8 }

// check checks an image's holdings as far as the protocol goes.
func (h ImageHoldings) check() error {
	switch {
	case h.Image == "" || len(h.Image) > MaxImageIDLen:
		return fmt.Errorf("image id of %d bytes", len(h.Image))
	case h.Version == 0:
		return fmt.Errorf("image %s: version 0", h.Image)
	case h.Gone:
		if h.Total != 0 || h.All || len(h.Bits) != 0 {
			return fmt.Errorf("image %s: gone with chunks", h.Image)
		}
	case h.Total <= 0 || h.Total > MaxChunks:
		return fmt.Errorf("image %s: chunk count %d", h.Image, h.Total)
	case h.All && len(h.Bits) != 0:
		return fmt.Errorf("image %s: every chunk, with a bitmap", h.Image)
	case !h.All && len(h.Bits) != BitmapLen(h.Total):
		return fmt.Errorf("image %s: %d bitmap bytes for %d chunks", h.Image, len(h.Bits), h.Total)
	}
	return nil
}

// DecodeHoldings decodes and checks the body of a holdings batch as the
// handler does: at most MaxHoldingsBody bytes of one JSON value, an
// epoch, and for every image an id of at most MaxImageIDLen bytes, a
// version, and a chunk count with a bitmap that fits it (or Gone, or
// All), no image twice. The holder's id is the Server's to check.
func DecodeHoldings(r io.Reader) (Holdings, error) {
	var h Holdings
	if err := decodeJSON(r, MaxHoldingsBody, &h); err != nil {
		return h, err
	}
	if h.Epoch <= 0 {
		return h, fmt.Errorf("%w: epoch %d", ErrBadRequest, h.Epoch)
	}
	seen := make(map[string]bool, len(h.Images))
	for _, im := range h.Images {
		if err := im.check(); err != nil {
			return h, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		if seen[im.Image] {
			return h, fmt.Errorf("%w: image %s twice", ErrBadRequest, im.Image)
		}
		seen[im.Image] = true
	}
	return h, nil
}

// DecodeHoldersQuery decodes and checks a holders query as the handler
// does: at most MaxHoldersQueryBody bytes, an image id of 1 to
// MaxImageIDLen bytes, a limit of at least 0 (over MaxHolders is taken
// as MaxHolders).
func DecodeHoldersQuery(r io.Reader) (HoldersQuery, error) {
	var q HoldersQuery
	if err := decodeJSON(r, MaxHoldersQueryBody, &q); err != nil {
		return q, err
	}
	switch {
	case q.Image == "" || len(q.Image) > MaxImageIDLen:
		return q, fmt.Errorf("%w: image id of %d bytes", ErrBadRequest, len(q.Image))
	case q.Limit < 0:
		return q, fmt.Errorf("%w: limit %d", ErrBadRequest, q.Limit)
	}
	if q.Limit == 0 || q.Limit > MaxHolders {
		q.Limit = MaxHolders
	}
	return q, nil
}

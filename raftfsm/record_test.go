package raftfsm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// fillValue sets every field reachable from v to a non-zero value that
// depends on seed, so a field the record encoding forgets shows up.
func fillValue(v reflect.Value, seed *int) {
	*seed++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *seed))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int64:
		v.SetInt(int64(*seed) * 1000)
	case reflect.Uint64:
		v.SetUint(uint64(*seed))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillValue(v.Elem(), seed)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fillValue(v.Index(i), seed)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fillValue(k, seed)
			fillValue(e, seed)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Unix(1700000000+int64(*seed), int64(*seed)).UTC()))
			return
		}
		for i := range v.NumField() {
			fillValue(v.Field(i), seed)
		}
	default:
		panic("fillValue: add kind " + v.Kind().String())
	}
}

// TestRecordRoundTrip checks that an image comes out of its record as it
// went in, for every field of catalog.Image (filled by reflection, so a
// field added later and not encoded fails here), and for nil against
// empty collections, which JSON tells apart.
func TestRecordRoundTrip(t *testing.T) {
	var full catalog.Image
	seed := 0
	fillValue(reflect.ValueOf(&full).Elem(), &seed)
	md5 := "0123456789abcdef0123456789abcdef"
	full.Checksum = &md5
	full.Manifest.Chunks[0].Digest = strings.Repeat("ab", 32)
	full.Manifest.Chunks[1].Digest = strings.Repeat("AB", 32) // not lowercase: kept as a string
	full.CreatedAt = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 5*3600+30*60))
	full.UpdatedAt = time.Date(1960, 1, 1, 0, 0, 0, 1, time.UTC) // before 1970
	full.Upload.Started = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", -8*3600))

	empty := catalog.Image{ID: "e", Tags: []string{}, Properties: map[string]string{}, Placement: []string{},
		StagingPlacement: []string{}, Stores: []string{}, Locations: []catalog.Location{{URL: "u", Metadata: map[string]string{}}},
		Manifest: &catalog.Manifest{Chunks: []catalog.ChunkRef{}}, Staging: &catalog.Manifest{}, Upload: &catalog.UploadLock{}}
	zero := catalog.Image{}
	nulls := catalog.Image{ID: "a\x00b", Name: strp("\x00"), Status: "x\x00", Owner: strp(""), DiskFormat: strp(""), Checksum: strp("")}

	dict := newStrDict()
	// Three rounds: strings seen once stay raw, then take a code.
	for _, img := range slices.Repeat([]*catalog.Image{&full, &empty, &zero, &nulls}, 3) {
		r := encodeImage(img, 42, dict)
		got := decodeImage(r, dict)
		want := img.Clone()
		want.Revision = 42
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(got)
		if !bytes.Equal(wj, gj) {
			t.Fatalf("JSON differs:\n got %s\nwant %s", gj, wj)
		}
		// Times keep their instant and offset; zone names are not kept.
		for _, p := range [][2]*time.Time{{&want.CreatedAt, &got.CreatedAt}, {&want.UpdatedAt, &got.UpdatedAt}} {
			_, wo := p[0].Zone()
			_, go_ := p[1].Zone()
			if !p[0].Equal(*p[1]) || wo != go_ {
				t.Fatalf("time %v came back as %v", *p[0], *p[1])
			}
			*p[1] = *p[0]
		}
		if want.Upload != nil {
			got.Upload.Started = want.Upload.Started
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, want)
		}
		if img.Name != nil && r.name != *img.Name || r.id != img.ID {
			t.Fatalf("record id %q name %q", r.id, r.name)
		}
	}
}

// TestRecordKeys checks the index keys computed from records against the
// ones computed from images, and the fast comparison against the keys'
// bytes, including strings with NUL bytes and times before 1970.
func TestRecordKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	strs := []string{"", "a", "a\x00", "a\x00b", "ab", "b", "\x00", "\xff"}
	pick := func() string { return strs[rng.IntN(len(strs))] }
	pickPtr := func() *string {
		if rng.IntN(4) == 0 {
			return nil
		}
		s := pick()
		return &s
	}
	var recs []*imageRec
	var imgs []*catalog.Image
	for i := range 300 {
		img := &catalog.Image{ID: fmt.Sprintf("%s%d", pick(), i), Name: pickPtr(), Status: pick(), Visibility: pick(),
			Owner: pickPtr(), DiskFormat: pickPtr(), ContainerFormat: pickPtr(),
			CreatedAt: time.Unix(int64(rng.IntN(5)-2)*1e9, 0).UTC(), UpdatedAt: time.Unix(int64(rng.IntN(5)-2), 0)}
		if rng.IntN(3) > 0 {
			sz := int64(rng.IntN(5) - 2)
			img.Size = &sz
		}
		imgs = append(imgs, img)
		recs = append(recs, encodeImage(img, 1, nil))
	}
	sign := func(c int) int { return min(max(c, -1), 1) }
	for ix := range numIndexes {
		for i, r := range recs {
			var want []byte
			switch ix {
			case ixOwner:
				if imgs[i].Owner == nil {
					continue
				}
				want = FilterIndexKey(*imgs[i].Owner, imgs[i])
			case ixVisibility:
				want = FilterIndexKey(imgs[i].Visibility, imgs[i])
			default:
				want = SortIndexKey(indexSortKey[ix], imgs[i])
			}
			if got := recKey(ix, r); !bytes.Equal(got, want) {
				t.Fatalf("index %d key of %+v: %q, want %q", ix, imgs[i], got, want)
			}
			for _, o := range recs[:50] {
				c := bytes.Compare(recKey(ix, r), recKey(ix, o))
				if c == 0 {
					c = strings.Compare(r.id, o.id)
				}
				if got := sign(compare(ix, r, o)); got != c {
					t.Fatalf("index %d: compare(%q, %q) = %d, keys say %d", ix, r.id, o.id, got, c)
				}
			}
		}
	}
	specs := []catalog.SortSpec{{Key: "name", Desc: true}, {Key: "status"}, {Key: "size", Desc: true}, {Key: "id"}, {Key: "created_at", Desc: true}}
	for _, r := range recs {
		for _, o := range recs[:50] {
			if got, want := sign(compareSpecs(specs, r, o)), bytes.Compare(specKey(specs, r), specKey(specs, o)); got != want {
				t.Fatalf("compareSpecs(%q, %q) = %d, keys say %d", r.id, o.id, got, want)
			}
		}
	}
}

// TestImagesAreTheCallers checks that changing an image a read returned
// changes nothing in the catalog.
func TestImagesAreTheCallers(t *testing.T) {
	f := New()
	img := realisticImage(rand.New(rand.NewPCG(1, 1)), 1, 2)
	apply(t, f, 1, &CreateImage{Image: img})
	want, _ := json.Marshal(mustImage(t, f, img.ID))
	for _, got := range [][]*catalog.Image{{mustImage(t, f, img.ID)}, mustList(t, f)} {
		g := got[0]
		*g.Name = "x"
		*g.Owner = "x"
		*g.Checksum = "x"
		g.Tags[0] = "x"
		g.Properties["os_distro"] = "x"
		g.Manifest.Chunks[0].Digest = "x"
		g.Placement[0] = "x"
		g.Locations[0].URL = "x"
	}
	if again, _ := json.Marshal(mustImage(t, f, img.ID)); !bytes.Equal(again, want) {
		t.Fatalf("a caller's change reached the catalog:\n%s\n%s", again, want)
	}
}

func mustImage(t *testing.T, f *FSM, id string) *catalog.Image {
	img, err := f.State().Image(id)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func mustList(t *testing.T, f *FSM) []*catalog.Image {
	imgs, err := f.State().List(catalog.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return imgs
}

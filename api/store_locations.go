package api

import (
	"maps"
	"strings"

	"github.com/p2pglance/p2pglance/catalog"
)

// An image whose data the cluster stores shows, as Glance shows an image
// in its stores, one location per store: p2pglance://STORE/IMAGE-ID with
// metadata {"store": STORE}. They follow the image's http(s) locations
// (catalog.Image.Locations, which only images made from a location have)
// and are not records of their own: they are derived from Image.Stores,
// so a PATCH can keep them but neither move nor edit them, and removing
// one is DELETE /v2/stores/{store}/{id}.

// storeLocationScheme is the URL scheme of the store locations.
const storeLocationScheme = "p2pglance"

// storeLocationURL is the location of image id's data in store.
func storeLocationURL(store, id string) string {
	return storeLocationScheme + "://" + store + "/" + id
}

// isStoreLocation reports a URL of the store location form.
func isStoreLocation(url string) bool { return strings.HasPrefix(url, storeLocationScheme+"://") }

// storeLocations are img's store locations: one per store its data was
// put in (Image.Stores), none for data from an http(s) location.
func storeLocations(img *catalog.Image) []catalog.Location {
	if img.Manifest == nil || img.Stores == nil {
		return nil
	}
	out := make([]catalog.Location, len(img.Stores))
	for i, st := range img.Stores {
		out[i] = catalog.Location{URL: storeLocationURL(st, img.ID), Metadata: map[string]string{"store": st}}
	}
	return out
}

// imageLocations is what "locations" lists: the http(s) locations, then
// the store locations.
func imageLocations(img *catalog.Image) []catalog.Location {
	return append(append([]catalog.Location(nil), img.Locations...), storeLocations(img)...)
}

// sameLocation reports two locations with the same URL and metadata.
func sameLocation(a, b catalog.Location) bool {
	return a.URL == b.URL && maps.Equal(a.Metadata, b.Metadata)
}

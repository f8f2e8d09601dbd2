package api

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"
)

// Fleet answers the operator's questions about where data is: which nodes
// hold an image, which images are being repaired. Admin only.
type Fleet interface {
	// ImageHolders names the nodes holding image id: its durable holders
	// and the nodes with a cached copy.
	ImageHolders(ctx context.Context, id string) (*ImageHolders, error)
	// Repairs lists the images whose durable copies are short of R, as
	// this node sees the cluster.
	Repairs(ctx context.Context) ([]Repair, error)
}

// ImageHolders is the answer of GET /p2p/v1/images/{id}/holders.
type ImageHolders struct {
	ImageID string `json:"image_id"`
	// Durable are the image's durable holders (its placement), with
	// whether each is alive and holds every chunk.
	Durable []Holder `json:"durable"`
	// Cached are the other nodes holding every chunk (cached copies).
	Cached []Holder `json:"cached"`
	// Replicas is R, the durable copies every image should have.
	Replicas int `json:"replicas"`
}

// Holder is one node holding an image.
type Holder struct {
	ID       string `json:"id"`
	Zone     string `json:"zone,omitempty"`
	Rack     string `json:"rack,omitempty"`
	Alive    bool   `json:"alive"`
	Complete bool   `json:"complete"`
}

// Repair is an image short of durable copies.
type Repair struct {
	ImageID string `json:"image_id"`
	Name    string `json:"name,omitempty"`
	Size    int64  `json:"size"`
	// Holders are its durable holders still alive; Lost those gone.
	Holders []string `json:"holders"`
	Lost    []string `json:"lost,omitempty"`
	// Short is set while its placement has fewer than R nodes.
	Short bool `json:"short,omitempty"`
}

// fleetAPI serves the fleet routes.
type fleetAPI struct {
	srv   *Server
	fleet Fleet
}

// Routes implements the route table's group.
func (fa *fleetAPI) Routes() []Route {
	return []Route{
		{Path: "/p2p/v1/images/{id}/holders", Methods: map[string]HandlerFunc{"GET": fa.holders}, Allow: "GET"},
		{Path: "/p2p/v1/repairs", Methods: map[string]HandlerFunc{"GET": fa.repairs}, Allow: "GET"},
	}
}

func (fa *fleetAPI) holders(w http.ResponseWriter, r *http.Request) error {
	if err := adminOnly(r.Context(), "image holders"); err != nil {
		return err
	}
	img, err := fa.srv.visibleImage(r, mux.Vars(r)["id"], false)
	if err != nil {
		return err
	}
	h, err := fa.fleet.ImageHolders(r.Context(), img.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, h)
}

func (fa *fleetAPI) repairs(w http.ResponseWriter, r *http.Request) error {
	if err := adminOnly(r.Context(), "repairs"); err != nil {
		return err
	}
	list, err := fa.fleet.Repairs(r.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []Repair{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"repairs": list})
}

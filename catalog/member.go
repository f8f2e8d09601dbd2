package catalog

import (
	"encoding/json"
	"time"
)

// Member statuses.
const (
	MemberPending  = "pending"
	MemberAccepted = "accepted"
	MemberRejected = "rejected"
)

// Member is one project an image is shared with.
type Member struct {
	ImageID   string    `json:"image_id"`
	MemberID  string    `json:"member_id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Revision  uint64    `json:"revision"`
}

// Doc is a catalog record other than an image or member — a task, a
// metadefs namespace, a prefetch job — stored as JSON under (Kind, ID).
type Doc struct {
	Kind      string          `json:"kind"`
	ID        string          `json:"id"`
	Owner     string          `json:"owner,omitempty"`
	Body      json.RawMessage `json:"body"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	Revision  uint64          `json:"revision"`
}

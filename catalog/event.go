package catalog

import (
	"encoding/json"
	"fmt"
	"time"
)

// Notification events are Glance's: what a committed change means to the
// services that listen to an image service (telemetry, billing, search).
// The catalog keeps the events of committed changes in an outbox (the
// FSM writes them as documents of kind OutboxKind, in log order, while
// the document NotificationsConfigID of kind ConfigKind exists); the
// leader publishes them and trims the outbox.
const (
	// OutboxKind is the document kind of an unpublished event; its id
	// orders events (the log index, then the event's place in the entry).
	OutboxKind = "outbox"
	// ConfigKind is the document kind of cluster-wide settings.
	ConfigKind = "config"
	// NotificationsConfigID is the settings document that turns the
	// outbox on.
	NotificationsConfigID = "notifications"
)

// Event types, as Glance names them.
const (
	EventImageCreate   = "image.create"
	EventImagePrepare  = "image.prepare"
	EventImageUpload   = "image.upload"
	EventImageActivate = "image.activate"
	EventImageUpdate   = "image.update"
	EventImageDelete   = "image.delete"
	EventImageSend     = "image.send"
	EventMemberCreate  = "image.member.create"
	EventMemberUpdate  = "image.member.update"
	EventMemberDelete  = "image.member.delete"
	EventTaskCreate    = "task.create"
	EventTaskRun       = "task.run"
	EventTaskProcess   = "task.processing"
	EventTaskSuccess   = "task.success"
	EventTaskFailure   = "task.failure"
	EventTaskDelete    = "task.delete"
)

// Event is one notification: its type, when it happened (zero: not known
// from the change; the publisher stamps it) and the object as it was.
type Event struct {
	Type   string  `json:"type"`
	Image  *Image  `json:"image,omitempty"`
	Member *Member `json:"member,omitempty"`
	Task   *Task   `json:"task,omitempty"`
	// Time is when the change happened, as its command recorded it.
	Time time.Time `json:"time,omitzero"`
	// Deleted marks the object deleted (image, member, task delete).
	Deleted bool `json:"deleted,omitempty"`
	// Send is set on image.send.
	Send *SendInfo `json:"send,omitempty"`
}

// SendInfo is what image.send tells: bytes sent, and to whom.
type SendInfo struct {
	BytesSent       int64  `json:"bytes_sent"`
	ReceiverProject string `json:"receiver_tenant_id,omitempty"`
	ReceiverUser    string `json:"receiver_user_id,omitempty"`
	// Complete is false when fewer bytes went than the image has (Glance
	// then sends the event at error priority).
	Complete bool `json:"complete"`
}

// EventFromDoc decodes an outbox document.
func EventFromDoc(d *Doc) (*Event, error) {
	var e Event
	if err := json.Unmarshal(d.Body, &e); err != nil {
		return nil, fmt.Errorf("decode event %s: %w", d.ID, err)
	}
	return &e, nil
}

// Package notify turns catalog events into Glance's notifications and
// publishes them to RabbitMQ as oslo.messaging's messagingv2 driver does:
// the same exchange, routing keys, envelope and payloads, so Ceilometer,
// billing and search indexers that listen to Glance listen to p2pglance
// unchanged.
package notify

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/p2pglance/p2pglance/catalog"
)

// Exchange is the exchange Glance's notifications go to (its
// control_exchange).
const Exchange = "glance"

// Priorities, as oslo.messaging names them on the wire.
const (
	PriorityInfo  = "INFO"
	PriorityError = "ERROR"
)

// Message is one notification ready to publish.
type Message struct {
	// ID is the event's id: the outbox document's, or the node's own
	// for image.send. MessageID and the envelope's _unique_id derive
	// from it, so a notification sent again is recognisably the same.
	ID        string
	EventType string
	Priority  string
	Payload   map[string]any
	Timestamp time.Time
}

// idSpace names the message ids derived from event ids.
var idSpace = uuid.MustParse("7d5f3a47-3c56-4c5e-9a43-2a1b9c0e6f10")

// MessageID is the oslo message_id of the event with id: a UUID derived
// from it.
func MessageID(id string) string { return uuid.NewHash(sha1.New(), idSpace, []byte(id), 5).String() }

// isotime is oslo_utils.timeutils.isotime: seconds, "Z".
func isotime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func isotimeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return isotime(*t)
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// imagePayload is Glance's format_image_notification: never the
// locations, which may hold credentials.
func imagePayload(img *catalog.Image) map[string]any {
	props := map[string]any{}
	for k, v := range img.Properties {
		props[k] = v
	}
	tags := img.Tags
	if tags == nil {
		tags = []string{}
	}
	return map[string]any{
		"id":               img.ID,
		"name":             deref(img.Name),
		"status":           img.Status,
		"created_at":       isotime(img.CreatedAt),
		"updated_at":       isotime(img.UpdatedAt),
		"min_disk":         img.MinDisk,
		"min_ram":          img.MinRAM,
		"protected":        img.Protected,
		"checksum":         deref(img.Checksum),
		"owner":            deref(img.Owner),
		"disk_format":      deref(img.DiskFormat),
		"container_format": deref(img.ContainerFormat),
		"size":             deref(img.Size),
		"virtual_size":     deref(img.VirtualSize),
		"is_public":        img.Visibility == catalog.VisibilityPublic,
		"visibility":       img.Visibility,
		"properties":       props,
		"tags":             tags,
		"deleted":          false,
		"deleted_at":       nil,
	}
}

// memberPayload is Glance's format_image_member_notification.
func memberPayload(m *catalog.Member) map[string]any {
	return map[string]any{
		"image_id":   m.ImageID,
		"member_id":  m.MemberID,
		"status":     m.Status,
		"created_at": isotime(m.CreatedAt),
		"updated_at": isotime(m.UpdatedAt),
		"deleted":    false,
		"deleted_at": nil,
	}
}

// taskPayload is Glance's format_task_notification: never the input,
// which may hold credentials.
func taskPayload(t *catalog.Task) map[string]any {
	return map[string]any{
		"id":         t.ID,
		"type":       t.Type,
		"status":     t.Status,
		"result":     nil,
		"owner":      t.Owner,
		"message":    nil,
		"expires_at": isotimeOrNil(t.ExpiresAt),
		"created_at": isotime(t.CreatedAt),
		"updated_at": isotime(t.UpdatedAt),
		"deleted":    false,
		"deleted_at": nil,
	}
}

// FromEvent builds the notification of an event with id; now stamps what
// the event does not date.
func FromEvent(id string, ev *catalog.Event, now time.Time) (Message, error) {
	m := Message{ID: id, EventType: ev.Type, Priority: PriorityInfo, Timestamp: ev.Time}
	if m.Timestamp.IsZero() {
		m.Timestamp = now
	}
	switch {
	case ev.Send != nil:
		m.Payload = map[string]any{
			"bytes_sent":         ev.Send.BytesSent,
			"image_id":           ev.Image.ID,
			"owner_id":           deref(ev.Image.Owner),
			"receiver_tenant_id": ev.Send.ReceiverProject,
			"receiver_user_id":   ev.Send.ReceiverUser,
		}
		if !ev.Send.Complete {
			m.Priority = PriorityError
		}
	case ev.Image != nil:
		m.Payload = imagePayload(ev.Image)
		switch ev.Type {
		case catalog.EventImagePrepare, catalog.EventImageUpload:
			// Glance adds the import's store lists (empty for an upload).
			m.Payload["os_glance_importing_to_stores"] = splitList(ev.Image.Properties[catalog.PropImportingToStores])
			m.Payload["os_glance_failed_import"] = splitList(ev.Image.Properties[catalog.PropFailedImport])
		}
	case ev.Member != nil:
		m.Payload = memberPayload(ev.Member)
	case ev.Task != nil:
		m.Payload = taskPayload(ev.Task)
	default:
		return Message{}, fmt.Errorf("event %s (%s) carries no object", id, ev.Type)
	}
	if ev.Deleted {
		m.Payload["deleted"] = true
		m.Payload["deleted_at"] = isotime(m.Timestamp)
		if ev.Image != nil {
			m.Payload["status"] = catalog.StatusDeleted // as Glance's image is once deleted
		}
	}
	return m, nil
}

func splitList(s string) []string {
	out := []string{}
	for _, part := range strings.Split(s, ",") {
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}

// oslo's timeutils.utcnow() printed by str(): "2026-12-08 01:52:00.123456".
func osloTimestamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000") }

// Envelope returns the AMQP body of m as oslo.messaging's messagingv2
// driver sends it: {"oslo.version": "2.0", "oslo.message": "<JSON>"},
// the message holding message_id, publisher_id, event_type, priority,
// payload, timestamp and the _unique_id its listeners deduplicate on.
func Envelope(m Message, publisherID string) ([]byte, error) {
	inner, err := json.Marshal(map[string]any{
		"message_id":   MessageID(m.ID),
		"publisher_id": publisherID,
		"event_type":   m.EventType,
		"priority":     m.Priority,
		"payload":      m.Payload,
		"timestamp":    osloTimestamp(m.Timestamp),
		"_unique_id":   strings.ReplaceAll(MessageID(m.ID), "-", ""),
	})
	if err != nil {
		return nil, fmt.Errorf("encode notification %s: %w", m.ID, err)
	}
	return json.Marshal(map[string]string{"oslo.version": "2.0", "oslo.message": string(inner)})
}

package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

func TestParseTransportURL(t *testing.T) {
	for _, tc := range []struct {
		in, safe string
		urls     []string
		err      bool
	}{
		{in: "rabbit://u:p@h:5672/", safe: "rabbit://h:5672/", urls: []string{"amqp://u:p@h:5672/"}},
		{in: "rabbit://u:p@h/vh", safe: "rabbit://h:5672/vh", urls: []string{"amqp://u:p@h:5672/vh"}},
		{in: "rabbit://u:p@h1:1,v:q@h2:2/?ssl=1", safe: "rabbit://h1:1,h2:2/", urls: []string{"amqps://u:p@h1:1/", "amqps://v:q@h2:2/"}},
		{in: "rabbit://h", safe: "rabbit://h:5672/", urls: []string{"amqp://h:5672/"}},
		{in: "amqp://u:p@h/", err: true},
		{in: "rabbit:///", err: true},
		{in: "rabbit://u:p@/", err: true},
	} {
		urls, safe, err := ParseTransportURL(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("%s: accepted as %v", tc.in, urls)
			}
			continue
		}
		if err != nil || safe != tc.safe || strings.Join(urls, " ") != strings.Join(tc.urls, " ") {
			t.Errorf("%s: %v %q %v; want %v %q", tc.in, urls, safe, err, tc.urls, tc.safe)
		}
		if strings.Contains(safe, "p@") {
			t.Errorf("%s: the safe form shows the password: %s", tc.in, safe)
		}
	}
}

// TestEnvelope: the message oslo.messaging's messagingv2 driver sends,
// with Glance's image payload.
func TestEnvelope(t *testing.T) {
	name, owner, size := "cirros", "p1", int64(42)
	at := time.Date(2026, 12, 8, 1, 2, 3, 456789000, time.UTC)
	img := &catalog.Image{ID: "i1", Name: &name, Owner: &owner, Size: &size, Status: catalog.StatusActive,
		Visibility: catalog.VisibilityPublic, CreatedAt: at, UpdatedAt: at, Properties: map[string]string{"os_distro": "cirros"},
		Locations: []catalog.Location{{URL: "http://u:secret@x/y"}}}
	m, err := FromEvent("0000000000000007.00", &catalog.Event{Type: catalog.EventImageActivate, Image: img, Time: at}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, err := Envelope(m, "image.host1")
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	if err := json.Unmarshal(body, &env); err != nil || env["oslo.version"] != "2.0" || len(env) != 2 {
		t.Fatalf("envelope %s", body)
	}
	var msg map[string]any
	if err := json.Unmarshal([]byte(env["oslo.message"]), &msg); err != nil {
		t.Fatal(err)
	}
	if msg["publisher_id"] != "image.host1" || msg["event_type"] != "image.activate" || msg["priority"] != "INFO" ||
		msg["timestamp"] != "2026-12-08 01:02:03.456789" || msg["message_id"] != MessageID("0000000000000007.00") {
		t.Fatalf("message %v", msg)
	}
	p := msg["payload"].(map[string]any)
	if p["id"] != "i1" || p["name"] != "cirros" || p["owner"] != "p1" || p["size"] != float64(42) || p["is_public"] != true ||
		p["created_at"] != "2026-12-08T01:02:03Z" || p["checksum"] != nil || p["deleted"] != false ||
		p["properties"].(map[string]any)["os_distro"] != "cirros" {
		t.Fatalf("payload %v", p)
	}
	if strings.Contains(string(body), "secret") {
		t.Fatal("the payload carries the image's locations")
	}
	// The same event is the same message: a consumer can drop a repeat.
	again, _ := FromEvent("0000000000000007.00", &catalog.Event{Type: catalog.EventImageActivate, Image: img, Time: at}, time.Now())
	if b2, _ := Envelope(again, "image.host2"); !strings.Contains(string(b2), MessageID(m.ID)) {
		t.Fatal("a repeated event has another message_id")
	}
}

func TestSendAndDelete(t *testing.T) {
	owner := "p1"
	img := &catalog.Image{ID: "i1", Owner: &owner}
	m, _ := FromEvent("s", &catalog.Event{Type: catalog.EventImageSend, Image: img, Send: &catalog.SendInfo{BytesSent: 5, ReceiverProject: "p2", ReceiverUser: "u2"}}, time.Now())
	if m.Priority != PriorityError || m.Payload["bytes_sent"] != int64(5) || m.Payload["owner_id"] != "p1" || m.Payload["receiver_tenant_id"] != "p2" {
		t.Fatalf("short image.send %+v", m)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m, _ = FromEvent("d", &catalog.Event{Type: catalog.EventImageDelete, Image: img, Time: at, Deleted: true}, time.Now())
	if m.Payload["deleted"] != true || m.Payload["deleted_at"] != "2026-01-02T03:04:05Z" || m.Payload["status"] != "deleted" {
		t.Fatalf("image.delete %+v", m.Payload)
	}
	if _, err := FromEvent("x", &catalog.Event{Type: "image.create"}, time.Now()); err == nil {
		t.Fatal("an event without an object was accepted")
	}
}

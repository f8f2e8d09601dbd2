package testcluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/members"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/notify"
	"github.com/p2pglance/p2pglance/testcluster"
)

// received is one notification as a consumer decodes it.
type received struct {
	MessageID   string         `json:"message_id"`
	PublisherID string         `json:"publisher_id"`
	EventType   string         `json:"event_type"`
	Priority    string         `json:"priority"`
	Payload     map[string]any `json:"payload"`
	Timestamp   string         `json:"timestamp"`
	UniqueID    string         `json:"_unique_id"`
}

// consumer collects the notifications of one topic from the test broker.
type consumer struct {
	mu   sync.Mutex
	msgs []received
}

// consume declares topic's info and error queues as oslo.messaging's
// listener does and collects what arrives until the test ends.
func consume(t *testing.T, rabbitURL, topic string) *consumer {
	t.Helper()
	urls, _, err := notify.ParseTransportURL(rabbitURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := amqp.Dial(urls[0])
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(notify.Exchange, "topic", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	c := &consumer{}
	var wg sync.WaitGroup
	for _, prio := range []string{"info", "error"} {
		q := topic + "." + prio
		if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		if err := ch.QueueBind(q, q, notify.Exchange, false, nil); err != nil {
			t.Fatal(err)
		}
		deliveries, err := ch.Consume(q, "", true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range deliveries {
				var env map[string]string
				var m received
				if err := json.Unmarshal(d.Body, &env); err != nil || env["oslo.version"] != "2.0" {
					t.Errorf("not an oslo messagingv2 envelope: %s", d.Body)
					continue
				}
				if err := json.Unmarshal([]byte(env["oslo.message"]), &m); err != nil {
					t.Errorf("oslo.message: %v", err)
					continue
				}
				c.mu.Lock()
				c.msgs = append(c.msgs, m)
				c.mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() {
		for _, prio := range []string{"info", "error"} {
			_, _ = ch.QueueDelete(topic+"."+prio, false, false, false)
		}
		conn.Close()
		wg.Wait()
	})
	return c
}

// of returns the notifications received so far about image id (any
// event whose payload names it).
func (c *consumer) of(id string) []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []received
	for _, m := range c.msgs {
		if m.Payload["id"] == id || m.Payload["image_id"] == id {
			out = append(out, m)
		}
	}
	return out
}

func (c *consumer) all() []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]received(nil), c.msgs...)
}

func types(ms []received) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.EventType)
	}
	return out
}

func rabbitURL(t *testing.T) string {
	u := os.Getenv("P2PGLANCE_TEST_RABBIT_URL")
	if u == "" {
		t.Skip(`P2PGLANCE_TEST_RABBIT_URL is unset: no RabbitMQ to test against (CI sets it; by hand: eval "$(scripts/rabbitmq-setup.sh)")`)
	}
	return u
}

// notifyingCluster starts 3 nodes publishing to the test broker on a
// topic of their own, adjusted by more, and a consumer of that topic.
func notifyingCluster(t *testing.T, more func(i int, cfg *node.Config)) (*testcluster.Cluster, *consumer) {
	t.Helper()
	url := rabbitURL(t)
	topic := fmt.Sprintf("notifications-test-%x", rand.Uint64())
	cons := consume(t, url, topic)
	c := testcluster.New(t, 3, testcluster.WithConfig(func(i int, cfg *node.Config) {
		cfg.NotificationTransportURL = url
		cfg.NotificationTopics = []string{topic}
		more(i, cfg)
	}))
	return c, cons
}

// TestNotifications: a 3-node cluster publishes Glance's notifications of
// an image's life, each once (not once per replica), in order, in
// oslo.messaging's envelope; the node that served a download publishes
// its image.send.
func TestNotifications(t *testing.T) {
	c, cons := notifyingCluster(t, func(i int, cfg *node.Config) {
		cfg.NotificationPublisherID = fmt.Sprintf("image.node%d", i)
	})
	leader := c.WaitForLeader()
	other := (leader + 1) % 3
	client := glance(c.URL(other), "p1")
	data := randomBytes(3, 300<<10)
	img := createAndUpload(t, client, "announced", data)
	name := "renamed"
	if _, err := images.Update(context.Background(), client, img.ID, images.UpdateOpts{images.ReplaceImageName{NewName: name}}).Extract(); err != nil {
		t.Fatal(err)
	}
	if _, err := members.Create(context.Background(), client, img.ID, "p2").Extract(); err != nil {
		t.Fatal(err)
	}
	download(t, glance(c.URL((leader+2)%3), "p1"), img.ID)
	if err := images.Delete(context.Background(), client, img.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}

	want := []string{"image.create", "image.prepare", "image.update", "image.upload", "image.activate", "image.update",
		"image.update", "image.member.create", "image.delete"}
	c.Eventually(20*time.Second, "every notification arrives", func() bool {
		got := types(cons.of(img.ID))
		return len(got) >= len(want)+1 // + image.send
	})
	time.Sleep(500 * time.Millisecond) // room for a duplicate to show
	got := cons.of(img.ID)
	var catalogEvents []received
	var sends []received
	seen := map[string]bool{}
	for _, m := range got {
		if seen[m.MessageID] {
			t.Errorf("message %s (%s) received twice", m.MessageID, m.EventType)
		}
		seen[m.MessageID] = true
		if m.EventType == "image.send" {
			sends = append(sends, m)
		} else {
			catalogEvents = append(catalogEvents, m)
		}
	}
	if g := strings.Join(types(catalogEvents), ","); g != strings.Join(want, ",") {
		t.Fatalf("events\n got %s\nwant %s", g, strings.Join(want, ","))
	}
	for _, m := range catalogEvents {
		if m.PublisherID != fmt.Sprintf("image.node%d", leader) {
			t.Errorf("%s published by %s, not the leader (node %d)", m.EventType, m.PublisherID, leader)
		}
		if m.Priority != "INFO" || m.Timestamp == "" || len(m.UniqueID) != 32 {
			t.Errorf("%s: priority %q, timestamp %q, _unique_id %q", m.EventType, m.Priority, m.Timestamp, m.UniqueID)
		}
	}
	if act := catalogEvents[4]; act.Payload["status"] != "active" || act.Payload["size"] != float64(len(data)) || act.Payload["checksum"] != img.Checksum {
		t.Errorf("image.activate payload %v", act.Payload)
	}
	if ren := catalogEvents[6]; ren.Payload["name"] != name {
		t.Errorf("image.update after the rename: %v", ren.Payload)
	}
	if mem := catalogEvents[7]; mem.Payload["member_id"] != "p2" || mem.Payload["status"] != "pending" {
		t.Errorf("image.member.create payload %v", mem.Payload)
	}
	if del := catalogEvents[8]; del.Payload["deleted"] != true || del.Payload["deleted_at"] == nil || del.Payload["status"] != "deleted" {
		t.Errorf("image.delete payload %v", del.Payload)
	}
	if len(sends) != 1 || sends[0].Payload["bytes_sent"] != float64(len(data)) || sends[0].Payload["receiver_tenant_id"] != "p1" ||
		sends[0].PublisherID != fmt.Sprintf("image.node%d", (leader+2)%3) {
		t.Errorf("image.send: %+v", sends)
	}

	// An interoperable import (glance-direct): its task's events.
	api := newAPIClient(c).as("p1")
	api.base = c.URL(other)
	id := api.create(t, `{"name": "imported", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	api.do(t, "PUT", "/v2/images/"+id+"/stage", randomBytes(4, 200<<10), "Content-Type", "application/octet-stream").want(t, http.StatusNoContent)
	task := api.importOK(t, id, `{"method": {"name": "glance-direct"}}`)
	taskID := task["id"].(string)
	wantTask := []string{"task.create", "task.run", "task.processing", "task.success"}
	var taskEvents []string
	c.Eventually(20*time.Second, "the task's notifications arrive", func() bool {
		taskEvents = nil
		for _, m := range cons.all() {
			if m.Payload["id"] == taskID {
				taskEvents = append(taskEvents, m.EventType)
			}
		}
		return len(taskEvents) >= len(wantTask)
	})
	if !slices.Equal(taskEvents, wantTask) {
		t.Errorf("task events %v, want %v", taskEvents, wantTask)
	}
	c.Eventually(20*time.Second, "the imported image's activation arrives", func() bool {
		return slices.Contains(types(cons.of(id)), "image.activate")
	})
}

// TestNotificationsSurviveLeaderChange: while the leader cannot reach the
// broker, the events of committed writes wait in the catalog's outbox on
// every node and API requests do not wait for them; once that leader
// stops, the next one publishes them all.
func TestNotificationsSurviveLeaderChange(t *testing.T) {
	c, cons := notifyingCluster(t, func(i int, cfg *node.Config) {
		if i == 0 { // the first leader: a broker address nothing listens on
			cfg.NotificationTransportURL = "rabbit://p2pglance:x@127.0.0.1:1/"
		}
	})
	if l := c.WaitForLeader(); l != 0 {
		t.Skipf("node %d leads, not node 0", l)
	}
	client := glance(c.URL(1), "p1")
	var ids []string
	for i := range 5 {
		img, err := images.Create(context.Background(), client, images.CreateOpts{Name: fmt.Sprintf("waiting-%d", i)}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, img.ID)
	}
	// The outbox was turned on by the first leader, and holds the events
	// on every node; nothing was published.
	for i := range 3 {
		c.Eventually(10*time.Second, fmt.Sprintf("node %d's outbox holds the events", i), func() bool {
			v, _ := metricValue(scrape(t, c.URL(i)), "p2pglance_notifications_outbox")
			return v >= 5
		})
	}
	if n := len(cons.all()); n != 0 {
		t.Fatalf("%d notifications published through a leader that cannot reach the broker", n)
	}
	c.Stop(0)
	c.Eventually(20*time.Second, "a new leader", func() bool { return c.Leader() > 0 })
	c.Eventually(30*time.Second, "the new leader publishes the waiting events", func() bool {
		for _, id := range ids {
			if len(cons.of(id)) == 0 {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		if got := types(cons.of(id)); len(got) != 1 || got[0] != "image.create" {
			t.Errorf("image %s: %v", id, got)
		}
	}
	c.Eventually(10*time.Second, "the outbox is trimmed", func() bool {
		v, _ := metricValue(scrape(t, c.URL(c.Leader())), "p2pglance_notifications_outbox")
		return v == 0
	})
}

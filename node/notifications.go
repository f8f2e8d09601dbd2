package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/notify"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// Notifications (Glance's, through oslo.messaging's RabbitMQ driver; see
// package notify). The events of committed changes wait in the catalog's
// outbox (raftfsm/outbox.go), the same on every node; the leader
// publishes them in log order and, once the broker confirmed them, trims
// the outbox through Raft. A leader change or a broker outage therefore
// loses nothing: the next leader, or the next attempt, sends what is left
// (a consumer may see an event twice, with the same message_id). Nothing
// here runs in an API request: a write only adds to the outbox as it
// commits. image.send (a download) is no catalog change: the node that
// served it publishes it, from a bounded queue in memory.

// outboxBatch is how many events one publish sends.
const outboxBatch = 256

// sendQueueMax bounds the image.send events waiting on a node.
const sendQueueMax = 4096

// notifier publishes this node's share of the notifications.
type notifier struct {
	self     string
	pub      *notify.Publisher
	disabled []string // event types or groups not sent (Glance's disabled_notifications)
	log      *slog.Logger

	// leads reports whether this node is the Raft leader; state reads
	// the catalog; enable turns the outbox on (once); trim commits a
	// TrimOutbox.
	leads  func() bool
	state  func() *raftfsm.State
	enable func(ctx context.Context) error
	trim   func(ctx context.Context, through string) error

	wake    chan struct{}
	mu      sync.Mutex
	sends   []notify.Message // image.send events not yet confirmed
	sendSeq atomic.Uint64
	enabled bool // the outbox is known to be on

	published, failures, dropped atomic.Int64
	lastErrLog                   atomic.Int64 // Unix nanoseconds
}

// kick wakes the notifier (a committed change, a leader change, a send).
func (nt *notifier) kick() {
	if nt == nil {
		return
	}
	select {
	case nt.wake <- struct{}{}:
	default:
	}
}

// skip reports whether event type t is disabled: listed itself, or a
// group it belongs to ("image", "image.member", "task").
func (nt *notifier) skip(t string) bool {
	for _, d := range nt.disabled {
		if t == d || strings.HasPrefix(t, d+".") {
			return true
		}
	}
	return false
}

// imageSent queues the image.send of a download this node served.
func (nt *notifier) imageSent(img *catalog.Image, project, user string, sent, want int64) {
	if nt == nil || nt.skip(catalog.EventImageSend) {
		return
	}
	id := fmt.Sprintf("send.%s.%d.%d", nt.self, time.Now().UnixNano(), nt.sendSeq.Add(1))
	ev := &catalog.Event{Type: catalog.EventImageSend, Image: img, Time: time.Now(),
		Send: &catalog.SendInfo{BytesSent: sent, ReceiverProject: project, ReceiverUser: user, Complete: sent == want}}
	m, err := notify.FromEvent(id, ev, time.Now())
	if err != nil {
		return
	}
	nt.mu.Lock()
	if len(nt.sends) >= sendQueueMax {
		nt.sends = nt.sends[1:]
		nt.dropped.Add(1)
	}
	nt.sends = append(nt.sends, m)
	nt.mu.Unlock()
	nt.kick()
}

// run publishes until ctx ends: woken by kicks, retrying after failures
// with a growing pause.
func (nt *notifier) run(ctx context.Context) {
	defer nt.pub.Close()
	var backoff time.Duration
	for {
		var retry <-chan time.Time
		if backoff > 0 {
			retry = time.After(backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-nt.wake:
			if backoff > 0 {
				continue // a failure's pause is not cut short by new work
			}
		case <-retry:
		}
		err := errors.Join(nt.publishOutbox(ctx), nt.publishSends(ctx))
		switch {
		case err == nil:
			backoff = 0
		case ctx.Err() != nil:
			return
		default:
			nt.failures.Add(1)
			backoff = min(max(2*backoff, time.Second), 30*time.Second)
			if now := time.Now().UnixNano(); now-nt.lastErrLog.Load() > int64(time.Minute) {
				nt.lastErrLog.Store(now)
				nt.log.Warn("notifications not published; retrying", "broker", nt.pub.Target(), "retry_in", backoff, "err", err)
			}
		}
	}
}

// publishOutbox, on the leader, publishes the outbox in order and trims
// what the broker confirmed.
func (nt *notifier) publishOutbox(ctx context.Context) error {
	if !nt.leads() {
		return nil
	}
	if !nt.enabled {
		if err := nt.enable(ctx); err != nil && !errors.Is(err, catalog.ErrExists) {
			return fmt.Errorf("turn the notification outbox on: %w", err)
		}
		nt.enabled = true
	}
	for ctx.Err() == nil && nt.leads() {
		docs := nt.state().Docs(catalog.OutboxKind)
		if len(docs) == 0 {
			return nil
		}
		docs = docs[:min(len(docs), outboxBatch)]
		msgs := make([]notify.Message, 0, len(docs))
		now := time.Now()
		for _, d := range docs {
			ev, err := catalog.EventFromDoc(d)
			if err != nil {
				nt.log.Error("undecodable notification event dropped", "id", d.ID, "err", err)
				continue
			}
			if nt.skip(ev.Type) {
				continue
			}
			m, err := notify.FromEvent(d.ID, ev, now)
			if err != nil {
				nt.log.Error("notification event dropped", "id", d.ID, "err", err)
				continue
			}
			msgs = append(msgs, m)
		}
		if len(msgs) > 0 {
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := nt.pub.Publish(pctx, msgs)
			cancel()
			if err != nil {
				return err
			}
			nt.published.Add(int64(len(msgs)))
		}
		if err := nt.trim(ctx, docs[len(docs)-1].ID); err != nil {
			return fmt.Errorf("trim the notification outbox: %w", err)
		}
	}
	return nil
}

// publishSends publishes the image.send events this node queued.
func (nt *notifier) publishSends(ctx context.Context) error {
	nt.mu.Lock()
	batch := append([]notify.Message(nil), nt.sends...)
	nt.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := nt.pub.Publish(pctx, batch); err != nil {
		return err
	}
	nt.published.Add(int64(len(batch)))
	// Drop what was sent: everything up to the batch's last message
	// (sends queued meanwhile stay; any dropped for room went first).
	last := batch[len(batch)-1].ID
	nt.mu.Lock()
	if i := slices.IndexFunc(nt.sends, func(m notify.Message) bool { return m.ID == last }); i >= 0 {
		nt.sends = nt.sends[i+1:]
	}
	nt.mu.Unlock()
	return nil
}

// newNotifier builds the node's notifier, or nil when no transport URL is
// configured.
func (n *Node) newNotifier() (*notifier, error) {
	cfg := n.cfg
	if cfg.NotificationTransportURL == "" {
		return nil, nil
	}
	publisherID := cfg.NotificationPublisherID
	if publisherID == "" {
		publisherID = "image." + hostname()
	}
	pub, err := notify.NewPublisher(notify.Config{
		TransportURL: cfg.NotificationTransportURL, Topics: cfg.NotificationTopics,
		PublisherID: publisherID, Durable: cfg.NotificationDurable, Logger: n.log,
	})
	if err != nil {
		return nil, err
	}
	return &notifier{
		self: n.id, pub: pub, disabled: cfg.DisabledNotifications, log: n.log.With("component", "notifications"),
		leads: n.replica.IsLeader, state: n.fsm.State,
		enable: func(ctx context.Context) error {
			if _, err := n.replica.Doc(ctx, catalog.ConfigKind, catalog.NotificationsConfigID); err == nil {
				return nil
			}
			_, err := n.replica.PutDoc(ctx, &catalog.Doc{Kind: catalog.ConfigKind, ID: catalog.NotificationsConfigID, Body: []byte(`{"enabled":true}`)}, true, 0)
			return err
		},
		trim: func(ctx context.Context, through string) error {
			_, err := n.replica.propose(ctx, &raftfsm.TrimOutbox{Through: through})
			return err
		},
		wake: make(chan struct{}, 1),
	}, nil
}

// hostname is this host's name, for the default publisher id.
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

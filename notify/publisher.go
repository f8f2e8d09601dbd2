package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Config configures a Publisher.
type Config struct {
	// TransportURL is oslo.messaging's transport URL:
	// rabbit://USER:PASS@HOST:PORT[,USER:PASS@HOST2:PORT]/VHOST, with
	// ?ssl=1 for TLS. The hosts are tried in order.
	TransportURL string
	// Topics are the notification topics (oslo's [oslo_messaging_notifications]
	// topics); empty: "notifications".
	Topics []string
	// PublisherID is each message's publisher_id ("image.HOST").
	PublisherID string
	// Durable declares the exchange and queues durable and sends
	// messages persistent (oslo's amqp_durable_queues): it must match
	// what the consumers declare.
	Durable bool
	Logger  *slog.Logger
}

// Publisher publishes notifications to RabbitMQ, one connection and one
// confirming channel, opened when first needed and again after a
// failure. It is safe for concurrent use (publishes are serialized).
type Publisher struct {
	cfg  Config
	urls []string // amqp(s):// URLs, one per host
	safe string   // the transport URL without credentials, for logs
	log  *slog.Logger

	mu   sync.Mutex
	conn *amqp.Connection
	ch   *amqp.Channel
	next int // the host to try first
}

// ParseTransportURL turns oslo's rabbit:// transport URL into one AMQP URL
// per host, and the URL without its credentials for logs.
func ParseTransportURL(raw string) (urls []string, safe string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("notification transport URL: %w", errors.New("not a URL"))
	}
	if u.Scheme != "rabbit" {
		return nil, "", fmt.Errorf("notification transport URL: scheme %q, want rabbit://", u.Scheme)
	}
	scheme := "amqp"
	if v := u.Query().Get("ssl"); v == "1" || strings.EqualFold(v, "true") {
		scheme = "amqps"
	}
	// The host part may list several USER:PASS@HOST:PORT, comma-separated;
	// url.Parse keeps only the last user information, so split it here.
	rest := strings.TrimPrefix(raw, "rabbit://")
	hostPart, _, _ := strings.Cut(rest, "/")
	hostPart, _, _ = strings.Cut(hostPart, "?")
	vhost := strings.TrimPrefix(u.Path, "/")
	var shown []string
	for _, h := range strings.Split(hostPart, ",") {
		if h == "" {
			continue
		}
		userinfo, host, found := strings.Cut(h, "@")
		if !found {
			host, userinfo = userinfo, ""
		}
		if host == "" {
			return nil, "", errors.New("notification transport URL: a host is empty")
		}
		if !strings.Contains(host, ":") || strings.HasSuffix(host, "]") {
			host += ":5672"
		}
		cred := ""
		if userinfo != "" {
			cred = userinfo + "@"
		}
		path := "/" + vhost
		if vhost == "" {
			path = "/"
		}
		urls = append(urls, scheme+"://"+cred+host+path)
		shown = append(shown, host)
	}
	if len(urls) == 0 {
		return nil, "", errors.New("notification transport URL: no host")
	}
	return urls, "rabbit://" + strings.Join(shown, ",") + "/" + vhost, nil
}

// NewPublisher checks cfg; it connects on the first Publish.
func NewPublisher(cfg Config) (*Publisher, error) {
	urls, safe, err := ParseTransportURL(cfg.TransportURL)
	if err != nil {
		return nil, err
	}
	if len(cfg.Topics) == 0 {
		cfg.Topics = []string{"notifications"}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Publisher{cfg: cfg, urls: urls, safe: safe, log: log}, nil
}

// Target names the broker without credentials.
func (p *Publisher) Target() string { return p.safe }

// connectLocked opens a connection and a confirming channel, and declares
// the exchange and, per topic and priority, the queue oslo declares (so
// that notifications sent before any consumer listens are kept).
func (p *Publisher) connectLocked(ctx context.Context) error {
	if p.ch != nil && !p.ch.IsClosed() {
		return nil
	}
	p.closeLocked()
	var errs []error
	for i := range p.urls {
		u := p.urls[(p.next+i)%len(p.urls)]
		conn, err := amqp.DialConfig(u, amqp.Config{
			Heartbeat: 10 * time.Second,
			Locale:    "en_US",
			Dial:      amqp.DefaultDial(10 * time.Second),
			Properties: amqp.Table{
				"connection_name": "p2pglance " + p.cfg.PublisherID,
			},
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := p.setup(conn); err != nil {
			_ = conn.Close()
			errs = append(errs, err)
			continue
		}
		p.next = (p.next + i) % len(p.urls)
		p.conn = conn
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("connect to %s: %w", p.safe, errors.Join(errs...))
}

func (p *Publisher) setup(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("confirm mode: %w", err)
	}
	if err := ch.ExchangeDeclare(Exchange, "topic", p.cfg.Durable, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", Exchange, err)
	}
	for _, topic := range p.cfg.Topics {
		for _, prio := range []string{PriorityInfo, PriorityError} {
			key := routingKey(topic, prio)
			if _, err := ch.QueueDeclare(key, p.cfg.Durable, false, false, false, nil); err != nil {
				return fmt.Errorf("declare queue %s: %w", key, err)
			}
			if err := ch.QueueBind(key, key, Exchange, false, nil); err != nil {
				return fmt.Errorf("bind queue %s: %w", key, err)
			}
		}
	}
	p.ch = ch
	return nil
}

// routingKey is oslo's notification routing key: topic.priority.
func routingKey(topic, priority string) string { return topic + "." + strings.ToLower(priority) }

func (p *Publisher) closeLocked() {
	if p.ch != nil {
		_ = p.ch.Close()
		p.ch = nil
	}
	if p.conn != nil {
		_ = p.conn.Close()
		p.conn = nil
	}
}

// Publish sends msgs, in order, to every topic and returns once the
// broker confirmed every one of them; on any failure the connection is
// dropped (the next call reconnects) and the error returned: the caller
// sends them all again (a consumer may then see one twice, with the same
// message_id).
func (p *Publisher) Publish(ctx context.Context, msgs []Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.connectLocked(ctx); err != nil {
		return err
	}
	var pending []*amqp.DeferredConfirmation
	for _, m := range msgs {
		body, err := Envelope(m, p.cfg.PublisherID)
		if err != nil {
			return err
		}
		pub := amqp.Publishing{ContentType: "application/json", ContentEncoding: "utf-8", Body: body, Timestamp: m.Timestamp}
		if p.cfg.Durable {
			pub.DeliveryMode = amqp.Persistent
		}
		for _, topic := range p.cfg.Topics {
			dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, Exchange, routingKey(topic, m.Priority), false, false, pub)
			if err != nil {
				p.closeLocked()
				return fmt.Errorf("publish %s to %s: %w", m.EventType, p.safe, err)
			}
			pending = append(pending, dc)
		}
	}
	for _, dc := range pending {
		ok, err := dc.WaitContext(ctx)
		if err != nil || !ok {
			p.closeLocked()
			if err == nil {
				err = errors.New("the broker refused a message (nack)")
			}
			return fmt.Errorf("confirm from %s: %w", p.safe, err)
		}
	}
	return nil
}

// Close closes the connection.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closeLocked()
	return nil
}

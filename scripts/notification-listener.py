#!/usr/bin/python3
"""An oslo.messaging notification listener, as Ceilometer runs one for Glance.

usage: notification-listener.py TRANSPORT_URL OUT_FILE [TOPIC]

Listens on exchange "glance", topic TOPIC (default "notifications"), at info
and error priority, through oslo.messaging's own rabbit driver (Debian's
python3-oslo.messaging), and appends every notification it is handed to
OUT_FILE as one JSON line: priority, publisher_id, event_type, payload,
metadata (message_id, timestamp). Runs until SIGTERM or SIGINT.
"""
import json
import signal
import sys
import threading

from oslo_config import cfg
import oslo_messaging

url, out_path = sys.argv[1], sys.argv[2]
topic = sys.argv[3] if len(sys.argv) > 3 else "notifications"
lock = threading.Lock()


class Endpoint:
    def _record(self, priority, ctxt, publisher_id, event_type, payload, metadata):
        line = json.dumps({"priority": priority, "publisher_id": publisher_id, "event_type": event_type,
                           "payload": payload, "metadata": metadata}, sort_keys=True)
        with lock, open(out_path, "a") as f:
            f.write(line + "\n")
            f.flush()
        return oslo_messaging.NotificationResult.HANDLED

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        return self._record("info", ctxt, publisher_id, event_type, payload, metadata)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        return self._record("error", ctxt, publisher_id, event_type, payload, metadata)


conf = cfg.ConfigOpts()
conf([], project="p2pglance-test")
transport = oslo_messaging.get_notification_transport(conf, url=url)
targets = [oslo_messaging.Target(topic=topic, exchange="glance")]
listener = oslo_messaging.get_notification_listener(transport, targets, [Endpoint()], executor="threading")
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
listener.start()
with open(out_path + ".ready", "w") as f:
    f.write("listening\n")
stop.wait()
listener.stop()
listener.wait()

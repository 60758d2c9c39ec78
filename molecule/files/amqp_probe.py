"""Connect to the broker as a Pulsar or Galaxy host's client would, and say whether it could.

    amqp_probe.py pulsar|galaxy PORT CONFIG

Run with that client's python: Pulsar's venv (CONFIG its app.yml) or Galaxy's (CONFIG its job_conf.yml, its
first MQ runner). Uses the client's own Pulsar library code (get_exchange) with the URL and amqp_* options it
was given, the port replaced by PORT. Prints "connected", or "refused: " and the error.
"""

import sys

import yaml
from pulsar.client.amqp_exchange_factory import get_exchange

who, port, path = sys.argv[1:4]
with open(path) as f:
    conf = yaml.safe_load(f)
if who == "galaxy":
    conf = next(runner for runner in conf["runners"].values() if "amqp_url" in runner)
    url = conf["amqp_url"]
else:
    url = conf["message_queue_url"]
url = url.replace(":5671/", f":{port}/")
exchange = get_exchange(url, "_default_", conf)
try:
    with exchange.connection(url, connect_timeout=10) as connection:
        connection.connect()
    print("connected")
except Exception as exc:  # noqa: BLE001 (any failure to connect is the answer)
    print(f"refused: {exc!r}")

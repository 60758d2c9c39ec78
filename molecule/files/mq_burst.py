"""A burst of sleeping jobs sent to a Pulsar host over AMQP, as Galaxy's MQ runner sends them.

    mq_burst.py GALAXY_YML ENVIRONMENT COUNT SECONDS

Run on the Galaxy host with Galaxy's venv python, Galaxy stopped: Galaxy consumes the same status update
queue and would take the burst's updates. The runner and destination parameters are those of ENVIRONMENT in
galaxy.yml's job_config (broker URL, TLS options, key prefix, jobs directory); the client is Pulsar's own
client library, as in Galaxy. COUNT jobs of `sleep SECONDS` are set up and published at once; the makespan runs
from the first publication to the last final status. A job is lost unless its final status is complete with
return code 0 and its stdout. Prints one JSON object.
"""

import json
import sys
import threading
import time

import yaml
from pulsar.client.manager import build_client_manager

path, environment, count, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(path) as f:
    job_config = yaml.safe_load(f)["galaxy"]["job_config"]
destination = dict(job_config["execution"]["environments"][environment])
runner = dict(job_config["runners"][destination.pop("runner")])
for key in ("load", "workers", "galaxy_url"):
    runner.pop(key, None)

final, all_done = {}, threading.Event()
stamp = int(time.time() * 1000)
ids = [f"mqburst-{stamp}-{index}" for index in range(count)]
started = None


def on_update(message):
    if message.get("job_id") in ids and message.get("status") in ("complete", "cancelled", "failed", "lost"):
        final.setdefault(message["job_id"], (time.monotonic() - started, message))
        if len(final) == count:
            all_done.set()


manager = build_client_manager(**runner)
clients = [manager.get_client(dict(destination), job_id) for job_id in ids]
setups = [client.setup(tool_id="mq_burst", tool_version="1") for client in clients]
manager.ensure_has_status_update_callback(on_update)
expected = f"finished after {seconds} s"
started = time.monotonic()
for client, setup in zip(clients, setups):
    client.launch(f"sleep {seconds}; echo {expected}", job_config=setup)
all_done.wait(600)
lost = [job_id for job_id in ids if job_id not in final
        or final[job_id][1].get("returncode") != 0
        or expected not in (final[job_id][1].get("stdout") or "") + (final[job_id][1].get("job_stdout") or "")]
manager.shutdown()
print(json.dumps({"jobs": count, "seconds": seconds, "lost": lost,
                  "makespan": max((t for t, _message in final.values()), default=None)}))

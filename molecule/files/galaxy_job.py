"""Run the test tool on a real Galaxy through its API and report what happened.

    galaxy_job.py TOOL_ID INPUT_FILE [TIMEOUT]

Run on the Galaxy host with Galaxy's venv python (Galaxy listens on
localhost:8080). The user test@example.org and its API key are made with
the test Galaxy's bootstrap admin key. Uploads INPUT_FILE into a new history,
runs TOOL_ID on it, waits for the job and prints one JSON object: the job's
state, runner and Pulsar URL, output content, job metrics by plugin and the seconds from tool submission to the
output being available.
"""

import json
import sys
import time

import requests

API = "http://localhost:8080/api"
tool_id, path = sys.argv[1:3]
timeout = int(sys.argv[3]) if len(sys.argv) > 3 else 600
session = requests.Session()


def call(method, route, **kwargs):
    resp = session.request(method, f"{API}/{route}", timeout=120, **kwargs)
    resp.raise_for_status()
    return resp.json() if resp.headers.get("content-type", "").startswith("application/json") else resp.text


def wait(route, done, seconds):
    """Poll route until done(its answer) or seconds passed; a Galaxy restarting meanwhile is waited for."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            obj = call("GET", route)
        except requests.RequestException:  # Galaxy is restarting (the amqp scenario restarts it mid-job)
            obj = None
        if obj is not None and done(obj) or time.monotonic() > deadline:
            return obj
        time.sleep(1)


BOOTSTRAP = {"x-api-key": "molecule-bootstrap-admin-key"}
EMAIL = "test@example.org"
users = call("GET", "users", params={"f_email": EMAIL}, headers=BOOTSTRAP)
if not users:
    users = [call("POST", "users", headers=BOOTSTRAP,
                  json={"username": "test", "email": EMAIL, "password": "molecule-test-password"})]
session.headers["x-api-key"] = call("POST", f"users/{users[0]['id']}/api_key", headers=BOOTSTRAP)

history = call("POST", "histories", json={"name": f"pulsar test {tool_id}"})
with open(path) as f:
    content = f.read()
fetch = call("POST", "tools/fetch", json={
    "history_id": history["id"],
    "targets": [{"destination": {"type": "hdas"},
                 "elements": [{"src": "pasted", "paste_content": content, "ext": "txt", "name": "input.txt"}]}],
})
dataset_id = fetch["outputs"][0]["id"]
dataset = wait(f"datasets/{dataset_id}", lambda d: d["state"] in ("ok", "error"), 300)
if dataset["state"] != "ok":
    print(json.dumps({"error": "upload failed", "dataset": dataset}))
    sys.exit(1)

start = time.monotonic()
run = call("POST", "tools", json={"tool_id": tool_id, "history_id": history["id"],
                                  "inputs": {"input": {"src": "hda", "id": dataset_id}}})
job_id = run["jobs"][0]["id"]
job = wait(f"jobs/{job_id}?full=true", lambda j: j["state"] in ("ok", "error", "failed", "deleted"), timeout)
seconds = time.monotonic() - start
output = call("GET", f"datasets/{run['outputs'][0]['id']}/display?preview=false") if job["state"] == "ok" else None
# Where Galaxy sent the job (admin view); the destination's token is left out.
destination = call("GET", f"jobs/{job_id}/destination_params")
# What the job metrics plugins collected, by plugin (admin view).
metrics = {}
for metric in call("GET", f"jobs/{job_id}/metrics"):
    metrics.setdefault(metric["plugin"], {})[metric["name"]] = metric.get("raw_value", metric.get("value"))
print(json.dumps({
    "job_id": job_id,
    "state": job["state"],
    "seconds": seconds,
    "runner": destination.get("Runner"),
    "url": destination.get("url"),
    "runner_job_id": destination.get("Runner Job ID"),
    "stderr": job.get("stderr"),
    "messages": job.get("job_messages"),
    "output": output,
    "metrics": metrics,
}))

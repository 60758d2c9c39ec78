"""Run the test tool on a real Galaxy through its API and report what happened.

    galaxy_job.py TOOL_ID INPUT_FILE [TIMEOUT]

Run on the Galaxy host with Galaxy's venv python (Galaxy listens on
localhost:8080 in single-user mode). Uploads INPUT_FILE into a new history,
runs TOOL_ID on it, waits for the job and prints one JSON object: the job's
state, runner, output content and the seconds from tool submission to the
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
    deadline = time.monotonic() + seconds
    while True:
        obj = call("GET", route)
        if done(obj) or time.monotonic() > deadline:
            return obj
        time.sleep(1)


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
print(json.dumps({
    "job_id": job_id,
    "state": job["state"],
    "seconds": seconds,
    "job_runner_name": job.get("job_runner_name"),
    "destination_id": job.get("destination_id"),
    "external_id": job.get("external_id"),
    "stderr": job.get("stderr"),
    "info": job.get("job_messages") or job.get("info"),
    "output": output,
}))

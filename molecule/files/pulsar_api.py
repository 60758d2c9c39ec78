"""A small client of Pulsar's REST API, for tests and benchmarks.

Run with the Pulsar venv's python on the Pulsar host (the token is read from
app.yml, never passed on the command line):

    pulsar_api.py BASE_URL APP_YML upload FILE [CAFILE]  stage FILE into a new job as a chunked body
    pulsar_api.py BASE_URL APP_YML start SECONDS         launch a job that sleeps, then writes an output
    pulsar_api.py BASE_URL APP_YML collect JOB_ID        wait for the job, print its status and output
    pulsar_api.py BASE_URL APP_YML clean JOB_ID          delete the job's files on Pulsar
    pulsar_api.py BASE_URL APP_YML run SCRIPT            run a shell script file as a job, print what it wrote

Each prints one JSON object.
"""

import base64
import hashlib
import http.client
import json
import ssl
import sys
import time
import urllib.parse

import yaml

base, app_yml, action, arg = sys.argv[1:5]
cafile = sys.argv[5] if len(sys.argv) > 5 else None
token = yaml.safe_load(open(app_yml))["private_token"]
url = urllib.parse.urlsplit(base)
if url.scheme == "https":
    conn = http.client.HTTPSConnection(url.hostname, url.port or 443, timeout=600,
                                       context=ssl.create_default_context(cafile=cafile))
else:
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=600)


def call(method, route, body=None, raw=False, **params):
    query = urllib.parse.urlencode(dict(params, private_token=token))
    conn.request(method, f"{route}?{query}", body=body)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        print(json.dumps({"error": f"{method} {route}: HTTP {resp.status}", "body": data[:300].decode(errors="replace")}))
        sys.exit(1)
    if raw:
        return data.decode()
    try:
        return json.loads(data)
    except ValueError:  # routes without a JSON response
        return data.decode()


class Hashing:
    """File object that hashes what http.client reads from it (chunked, no length)."""

    def __init__(self, f):
        self.f, self.sha = f, hashlib.sha256()

    def read(self, n=-1):
        chunk = self.f.read(n)
        self.sha.update(chunk)
        return chunk


def upload(path):
    job_id = f"upload-{int(time.time() * 1000)}"
    call("POST", "/jobs", job_id=job_id)
    with open(path, "rb") as f:
        body = Hashing(f)
        start = time.monotonic()
        call("POST", f"/jobs/{job_id}/files", body=body, name="upload.dat", type="input")
        seconds = time.monotonic() - start
    stored = call("GET", f"/jobs/{job_id}/files/path", name="upload.dat", type="input")["path"]
    return {"job_id": job_id, "sha256": body.sha.hexdigest(), "path": stored, "seconds": seconds}


def start(seconds):
    job_id = f"long-{int(time.time() * 1000)}"
    call("POST", "/jobs", job_id=job_id)
    command = f"sleep {int(seconds)}; echo finished after {int(seconds)} s > ../outputs/result.txt"
    call("POST", f"/jobs/{job_id}/submit", command_line=command)
    return {"job_id": job_id}


def collect(job_id, timeout=900):
    deadline = time.monotonic() + timeout
    while True:
        status = call("GET", f"/jobs/{job_id}/status")
        if status.get("complete") == "true" or time.monotonic() > deadline:
            break
        time.sleep(1)
    output = call("GET", f"/jobs/{job_id}/files", raw=True, name="result.txt", type="output")
    return {"job_id": job_id, "status": status.get("status"), "returncode": status.get("returncode"),
            "complete": status.get("complete"), "output": output}


def run(script):
    """A job whose command is the shell script SCRIPT (read here, sent as the job's
    command line); its stdout and stderr come back through the job's output file."""
    job_id = f"run-{int(time.time() * 1000)}"
    call("POST", "/jobs", job_id=job_id)
    encoded = base64.b64encode(open(script, "rb").read()).decode()
    command = f"echo {encoded} | base64 -d | sh > ../outputs/result.txt 2>&1; echo exit $? >> ../outputs/result.txt"
    call("POST", f"/jobs/{job_id}/submit", command_line=command)
    return collect(job_id, timeout=120)


def clean(job_id):
    call("DELETE", f"/jobs/{job_id}")
    return {"job_id": job_id, "cleaned": True}


print(json.dumps({"upload": upload, "start": start, "collect": collect, "clean": clean, "run": run}[action](arg)))

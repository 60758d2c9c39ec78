"""The one client of Pulsar's REST API for tests, the demo and benchmarks.

Run with the Pulsar venv's python on the Pulsar host. The token is read from
app.yml here and nowhere else (never passed on our command line);
PULSAR_API_TOKEN replaces it, to send a wrong one. SSL_CERT_FILE names the CA
to trust for an https URL.

    pulsar_api.py BASE_URL APP_YML check          Pulsar's own pulsar-check: a job with files staged in and out
    pulsar_api.py BASE_URL APP_YML upload FILE    stage FILE into a new job as a chunked body
    pulsar_api.py BASE_URL APP_YML start SECONDS  launch a job that sleeps, then writes an output
    pulsar_api.py BASE_URL APP_YML collect JOB_ID wait for the job, print its status and output
    pulsar_api.py BASE_URL APP_YML clean JOB_ID   delete the job's files on Pulsar
    pulsar_api.py BASE_URL APP_YML run SCRIPT     run a shell script file as a job, print what it wrote

check prints pulsar-check's own output and exits with its status; the others
print one JSON object.
"""

import base64
import hashlib
import http.client
import json
import os
import ssl
import sys
import time
import urllib.parse

import yaml


def read_token(app_yml):
    if os.environ.get("PULSAR_API_TOKEN") is not None:
        return os.environ["PULSAR_API_TOKEN"]
    with open(app_yml) as f:
        return yaml.safe_load(f)["private_token"]


base, app_yml, action = sys.argv[1:4]
arg = sys.argv[4] if len(sys.argv) > 4 else None
token = read_token(app_yml)
if action == "check":
    check = os.path.join(sys.prefix, "bin", "pulsar-check")
    os.execv(check, [check, "--url", base, "--private_token", token])
url = urllib.parse.urlsplit(base)
if url.scheme == "https":
    conn = http.client.HTTPSConnection(url.hostname, url.port or 443, timeout=600,
                                       context=ssl.create_default_context())
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


# A job busy on one CPU for S seconds of CPU time (a shell one-liner, as Galaxy's commands are).
CPU_JOB = ("python -c 'import time; t = time.process_time; e = t() + {s}; "
           "[0 for _ in iter(lambda: t() < e, False)]'; echo finished after {s} s > ../outputs/result.txt")


def burst(spec):
    """N:S[:cpu]: N jobs of S seconds (sleeping, or busy on a CPU) submitted at once; the makespan from the first
    submission to the last completion, and the jobs that did not finish with their output."""
    count, seconds, *kind = spec.split(":")
    count, seconds = int(count), int(seconds)
    stamp = int(time.time() * 1000)
    command = (CPU_JOB.format(s=seconds) if kind == ["cpu"]
               else f"sleep {seconds}; echo finished after {seconds} s > ../outputs/result.txt")
    started = time.monotonic()
    ids = [f"burst-{stamp}-{index}" for index in range(count)]
    for job_id in ids:
        call("POST", "/jobs", job_id=job_id)
        call("POST", f"/jobs/{job_id}/submit", command_line=command)
    done, deadline = {}, started + 900
    while len(done) < count and time.monotonic() < deadline:
        for job_id in ids:
            if job_id not in done and call("GET", f"/jobs/{job_id}/status").get("complete") == "true":
                done[job_id] = time.monotonic() - started
        time.sleep(0.2)
    lost = [job_id for job_id in ids if job_id not in done
            or call("GET", f"/jobs/{job_id}/files", raw=True, name="result.txt", type="output").strip()
            != f"finished after {seconds} s"]
    for job_id in ids:
        call("DELETE", f"/jobs/{job_id}")
    return {"jobs": count, "seconds": seconds, "makespan": max(done.values(), default=None), "lost": lost}


def clean(job_id):
    call("DELETE", f"/jobs/{job_id}")
    return {"job_id": job_id, "cleaned": True}


print(json.dumps({"upload": upload, "start": start, "collect": collect, "clean": clean, "run": run,
                  "burst": burst}[action](arg)))

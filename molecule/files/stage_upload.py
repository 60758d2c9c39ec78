"""Stage a file into a new Pulsar job as Galaxy does: a chunked POST body.

Run with the Pulsar venv's python on the Pulsar host:
    stage_upload.py BASE_URL APP_YML FILE [CAFILE]
Prints JSON: the client-side sha256, the path Pulsar stored the file at, and
the upload's seconds. The token is read from app.yml, never from argv.
"""

import hashlib
import http.client
import json
import ssl
import sys
import time
import urllib.parse

import yaml

base, app_yml, path = sys.argv[1:4]
cafile = sys.argv[4] if len(sys.argv) > 4 else None
token = yaml.safe_load(open(app_yml))["private_token"]
url = urllib.parse.urlsplit(base)
if url.scheme == "https":
    conn = http.client.HTTPSConnection(url.hostname, url.port or 443, timeout=600,
                                       context=ssl.create_default_context(cafile=cafile))
else:
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=600)
job_id = f"stage-{int(time.time() * 1000)}"


def call(method, route, body=None, **params):
    query = urllib.parse.urlencode(dict(params, private_token=token))
    conn.request(method, f"{route}?{query}", body=body)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise SystemExit(f"{method} {route}: HTTP {resp.status} {data[:200]!r}")
    return json.loads(data) if data else None


class Hashing:
    """File object that hashes what http.client reads from it (chunked, no length)."""

    def __init__(self, f):
        self.f, self.sha = f, hashlib.sha256()

    def read(self, n=-1):
        chunk = self.f.read(n)
        self.sha.update(chunk)
        return chunk


call("POST", "/jobs", job_id=job_id)
with open(path, "rb") as f:
    body = Hashing(f)
    start = time.monotonic()
    call("POST", f"/jobs/{job_id}/files", body=body, name="upload.dat", type="input")
    seconds = time.monotonic() - start
stored = call("GET", f"/jobs/{job_id}/files/path", name="upload.dat", type="input")["path"]
print(json.dumps({"job_id": job_id, "sha256": body.sha.hexdigest(), "path": stored, "seconds": seconds}))

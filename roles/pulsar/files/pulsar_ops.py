"""Day-2 operations of one Pulsar service: running jobs, restarts that wait for
them, health, Prometheus textfile metrics and cleanup.

Installed by the galaxy_ops.pulsar.pulsar role and run with Pulsar's own
virtualenv Python (kombu and PyYAML come with Pulsar), through the wrapper
/usr/local/sbin/<service>-ops. It reads what Pulsar reads (app.yml) and the
role's ops.yml; it never prints a secret.

    running             number of jobs running on this host (processes whose
                        working directory is in the staging directory)
    wait-idle SECONDS   wait until no job runs; exit 3 if one still runs then
    restart-when-idle   wait for no job to run, then restart the service
    health              check the service answers (REST) or its broker or relay
                        takes Pulsar's account (MQ, relay); exit 1 on a failure
    metrics             write the textfile collector's file (and print it)
    cleanup [--dry-run] remove what no client will collect any more
"""

import json
import os
import shutil
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ACTIVE_INDEXES = ("active-jobs", "preprocessing-jobs", "postprocessing-jobs")
STAGES = {"active-jobs": "launched", "preprocessing-jobs": "preprocessing", "postprocessing-jobs": "postprocessing"}
OUTBOXES = ("status-outbox", "relay-status-outbox")
EXIT_BUSY = 3
DAY = 86400


def load_config(path):
    import yaml  # pylint: disable=import-outside-toplevel  # Pulsar's venv has it; the unit tests need not

    with open(path, encoding="utf-8") as handle:
        ops = yaml.safe_load(handle)
    with open(ops["app_yml"], encoding="utf-8") as handle:
        app = yaml.safe_load(handle) or {}
    ops["app"] = app
    ops["staging"] = os.path.realpath(app.get("staging_directory", ""))
    ops["persistence"] = app.get("persistence_directory") or ""
    ops["managers"] = sorted(app.get("managers") or {"_default_": {}})
    return ops


# --- Jobs -------------------------------------------------------------------

def running_jobs(staging, proc="/proc"):
    """Job ids with a process whose working directory is inside staging/<job id>."""
    prefix = staging.rstrip("/") + "/"
    jobs = set()
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(os.path.join(proc, entry, "cwd"))
        except OSError:
            continue
        if cwd.startswith(prefix):
            jobs.add(cwd[len(prefix):].split("/", 1)[0])
    return jobs


def running_jobs_of(ops):
    """running_jobs, looked at as the service user: root may lack CAP_SYS_PTRACE (an unprivileged container),
    which reading another user's /proc/PID/cwd takes."""
    if os.geteuid() != 0 or not ops.get("user"):
        return running_jobs(ops["staging"])
    found = subprocess.run([sys.executable, "-I", os.path.abspath(__file__), "-", "running-in", ops["staging"]],
                           user=ops["user"], group=ops["group"], extra_groups=[], capture_output=True, text=True,
                           check=True, cwd="/")
    return set(json.loads(found.stdout))


def indexed_jobs(persistence, managers):
    """{index: set of job ids} of Pulsar's own job indexes (the stateful manager's files)."""
    found = {index: set() for index in ACTIVE_INDEXES}
    for manager in managers:
        for index in ACTIVE_INDEXES:
            path = os.path.join(persistence, f"{manager}-{index}")
            if os.path.isdir(path):
                found[index].update(os.listdir(path))
    return found


def wait_idle(ops, timeout, poll=2.0, clock=time.monotonic, sleep=time.sleep):
    deadline = clock() + timeout
    while running_jobs_of(ops):
        if clock() >= deadline:
            return False
        sleep(poll)
    return True


def restart_when_idle(ops, poll=5.0):
    while running_jobs_of(ops):
        time.sleep(poll)
    print(f"no job runs: restarting {ops['service']}", flush=True)
    return subprocess.call(["systemctl", "restart", f"{ops['service']}.service"])


# --- Health -------------------------------------------------------------------

def _rest_health(ops):
    # The token travels in the query string (Pulsar's API): straight to Pulsar,
    # never through nginx's access log, and never printed.
    query = urllib.parse.urlencode({"private_token": ops["app"].get("private_token") or ""})
    try:
        with urllib.request.urlopen(f"{ops['rest_url']}/healthz?{query}", timeout=10) as answer:  # noqa: S310
            body = json.load(answer)
    except urllib.error.HTTPError as err:
        hint = " (the token in app.yml is refused)" if err.code in (401, 403) else ""
        return False, f"Pulsar at {ops['rest_url']} answered HTTP {err.code}{hint}"
    except (OSError, ValueError) as err:
        return False, f"Pulsar at {ops['rest_url']} did not answer: {err.__class__.__name__}"
    return True, f"Pulsar {body.get('version', '?')} answers at {ops['rest_url']}"


def masked(url):
    """The broker or relay URL without its password."""
    parts = []
    for part in url.split(";"):
        split = urllib.parse.urlsplit(part)
        if split.password:
            netloc = f"{split.username}:***@{split.hostname}" + (f":{split.port}" if split.port else "")
            split = split._replace(netloc=netloc)
        parts.append(urllib.parse.urlunsplit(split))
    return ";".join(parts)


def _amqp_health(ops):
    import kombu  # pylint: disable=import-outside-toplevel  # Pulsar's venv
    from pulsar.client.amqp_exchange_factory import (  # pylint: disable=import-outside-toplevel
        parse_amqp_connect_ssl_params,
    )

    url = ops["app"]["message_queue_url"]
    ssl_options = parse_amqp_connect_ssl_params(ops["app"]) or False
    try:
        with kombu.Connection(url, ssl=ssl_options, connect_timeout=10) as connection:
            connection.ensure_connection(max_retries=1, timeout=20)
    except Exception as err:  # pylint: disable=broad-except  # kombu raises many kinds
        return False, f"broker {masked(url)} refused or unreachable: {err.__class__.__name__}"
    return True, f"broker {masked(url)} takes Pulsar's account"


def _relay_health(ops):
    app = ops["app"]
    base = app["message_queue_url"].rstrip("/")
    context = ssl.create_default_context()
    body = urllib.parse.urlencode({"username": app.get("message_queue_username") or "",
                                   "password": app.get("message_queue_password") or ""}).encode()
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=10, context=context):  # noqa: S310
            pass
        with urllib.request.urlopen(urllib.request.Request(f"{base}/auth/login", data=body),  # noqa: S310
                                    timeout=10, context=context):
            pass
    except urllib.error.HTTPError as err:
        hint = " (Pulsar's relay account is refused)" if err.code in (401, 403) else ""
        return False, f"relay {base} answered HTTP {err.code}{hint}"
    except OSError as err:
        return False, f"relay {base} unreachable: {err.__class__.__name__}"
    return True, f"relay {base} takes Pulsar's account"


def outbox_entries(persistence, managers, clock=time.time):
    """(entries, age in seconds of the oldest) of the status outboxes: status updates not delivered yet."""
    count, oldest = 0, 0.0
    for manager in managers:
        for suffix in OUTBOXES:
            path = os.path.join(persistence, f"{manager}-{suffix}")
            if not os.path.isdir(path):
                continue
            for name in os.listdir(path):
                if name.endswith(".json"):
                    count += 1
                    try:
                        oldest = max(oldest, clock() - os.lstat(os.path.join(path, name)).st_mtime)
                    except OSError:
                        pass
    return count, oldest


def health(ops):
    """[(ok, message)] for the service, its broker or relay, and its outbox."""
    checks = []
    active = subprocess.run(["systemctl", "is-active", "--quiet", f"{ops['service']}.service"], check=False)
    checks.append((active.returncode == 0, f"{ops['service']}.service is "
                   + ("active" if active.returncode == 0 else "not active")))
    mode = ops["mode"]
    checks.append({"rest": _rest_health, "mq": _amqp_health, "relay": _relay_health}[mode](ops))
    if mode != "rest":
        count, oldest = outbox_entries(ops["persistence"], ops["managers"])
        limit = ops["outbox_max_age"]
        checks.append((oldest <= limit, f"{count} status updates wait in the outbox, the oldest for "
                       f"{int(oldest)} s (at most {limit} s)"))
    return checks


# --- Metrics ------------------------------------------------------------------

def _state(ops):
    path = os.path.join(ops["state_dir"], "state.json")
    try:
        with open(path, encoding="utf-8") as handle:
            return path, json.load(handle)
    except (OSError, ValueError):
        return path, {}


def _save(path, data):
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def disk(path):
    usage = shutil.disk_usage(path)
    return usage.total - usage.free, usage.free


def staged_bytes(staging):
    total = 0
    for root, _dirs, files in os.walk(staging):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


def metrics_text(values):
    """Prometheus text format of {name: (help, type, [(labels, value)])}."""
    lines = []
    for name, (text, kind, samples) in values.items():
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            label = ",".join(f'{key}="{val}"' for key, val in sorted(labels.items()))
            lines.append(f"{name}{{{label}}} {value}" if label else f"{name} {value}")
    return "\n".join(lines) + "\n"


def installed_version():
    from importlib import metadata  # pylint: disable=import-outside-toplevel

    try:
        return metadata.version("pulsar-app")
    except metadata.PackageNotFoundError:
        return "unknown"


def collect(ops, checks):
    service = {"service": ops["service"]}
    path, state = _state(ops)
    ok = all(check[0] for check in checks)
    if ok and ops["mode"] != "rest":
        state["last_contact"] = time.time()
        _save(path, state)
    running = running_jobs_of(ops)
    indexes = indexed_jobs(ops["persistence"], ops["managers"])
    count, oldest = outbox_entries(ops["persistence"], ops["managers"])
    used, free = disk(ops["staging"])
    pending = subprocess.run(["systemctl", "is-active", "--quiet", f"{ops['service']}-restart.service"],
                             check=False).returncode == 0
    values = {
        "pulsar_up": ("1 when every health check passed.", "gauge", [(service, int(ok))]),
        "pulsar_info": ("Pulsar's version and mode.", "gauge",
                        [(dict(service, version=installed_version(), mode=ops["mode"]), 1)]),
        "pulsar_jobs_running": ("Jobs with a process on this host.", "gauge", [(service, len(running))]),
        "pulsar_jobs": ("Jobs in Pulsar's indexes, by stage (launched jobs include queued and cluster ones).",
                        "gauge", [(dict(service, stage=STAGES[index]), len(jobs))
                                  for index, jobs in sorted(indexes.items())]),
        "pulsar_jobs_queued": ("Launched jobs without a process on this host (queued locally or on the cluster).",
                               "gauge", [(service, len(indexes["active-jobs"] - running))]),
        "pulsar_staging_bytes": ("Bytes held by the staging directory.", "gauge",
                                 [(service, staged_bytes(ops["staging"]))]),
        "pulsar_staging_filesystem_used_bytes": ("Bytes used on the staging file system.", "gauge",
                                                 [(service, used)]),
        "pulsar_staging_filesystem_free_bytes": ("Bytes free on the staging file system.", "gauge",
                                                 [(service, free)]),
        "pulsar_restart_pending": ("1 while a deferred restart waits for running jobs.", "gauge",
                                   [(service, int(pending))]),
    }
    if ops["mode"] != "rest":
        values["pulsar_outbox_messages"] = ("Status updates not yet delivered to the broker or relay.", "gauge",
                                            [(service, count)])
        values["pulsar_outbox_oldest_seconds"] = ("Age of the oldest undelivered status update.", "gauge",
                                                  [(service, int(oldest))])
        values["pulsar_last_contact_timestamp_seconds"] = (
            "When the broker or relay last took Pulsar's account (0: never seen).", "gauge",
            [(service, int(state.get("last_contact", 0)))])
    return metrics_text(values)


def write_textfile(ops, text):
    target = ops["textfile"]
    if not target:
        return
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


# --- Cleanup ------------------------------------------------------------------

def newest_mtime(path):
    newest = os.lstat(path).st_mtime
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
            except OSError:
                pass
    return newest


def cleanup_plan(ops, now=None, running=None):
    """[(path, why)] to remove. Never a running job's directory or one in Pulsar's indexes."""
    now = time.time() if now is None else now
    staging, persistence, ages = ops["staging"], ops["persistence"], ops["cleanup"]
    running = running_jobs_of(ops) if running is None else running
    indexes = indexed_jobs(persistence, ops["managers"]) if persistence else {}
    active = set().union(*indexes.values()) if indexes else set()
    plan = []
    if ages["staging_days"] and os.path.isdir(staging):
        for job in sorted(os.listdir(staging)):
            path = os.path.join(staging, job)
            if job in running or job in active or not os.path.isdir(path) or os.path.islink(path):
                continue
            if now - newest_mtime(path) > ages["staging_days"] * DAY:
                plan.append((path, f"job directory untouched for more than {ages['staging_days']} days"))
    if not persistence or not os.path.isdir(persistence):
        return plan
    for manager in ops["managers"]:
        for index in ACTIVE_INDEXES:
            for job in sorted(indexes_in(persistence, manager, index)):
                if job not in running and not os.path.isdir(os.path.join(staging, job)):
                    plan.append((os.path.join(persistence, f"{manager}-{index}", job),
                                 "index entry of a job whose directory is gone"))
        for kind, days in (("amqp_ack", ages["ack_days"]), ("outbox", ages["outbox_days"])):
            if not days:
                continue
            dirs = ([os.path.join(persistence, f"amqp_ack-{manager}", sub) for sub in ("consume", "publish")]
                    if kind == "amqp_ack" else [os.path.join(persistence, f"{manager}-{sfx}") for sfx in OUTBOXES])
            for folder in dirs:
                if not os.path.isdir(folder):
                    continue
                for name in sorted(os.listdir(folder)):
                    path = os.path.join(folder, name)
                    if os.path.isfile(path) and now - os.lstat(path).st_mtime > days * DAY:
                        plan.append((path, f"{kind} entry older than {days} days"))
    return plan


def indexes_in(persistence, manager, index):
    path = os.path.join(persistence, f"{manager}-{index}")
    return os.listdir(path) if os.path.isdir(path) else []


def _owner_writable(path):
    """Give back write access to the directories of `path` the caller owns: a job may have left some
    read-only, which would make its directory impossible to remove. Links are not followed."""
    uid = os.geteuid()

    def fix(folder):
        info = os.lstat(folder)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == uid and info.st_mode & 0o700 != 0o700:
            os.chmod(folder, stat.S_IMODE(info.st_mode) | 0o700)

    fix(path)
    for root, dirs, dummy in os.walk(path):
        for name in dirs:
            fix(os.path.join(root, name))


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        _owner_writable(path)
        shutil.rmtree(path)
    else:
        os.unlink(path)


def cleanup(ops, dry_run):
    plan = cleanup_plan(ops)
    # Looked at again just before removing: a job may have started since.
    running = running_jobs_of(ops)
    failed = 0
    for path, why in plan:
        if os.path.basename(path) in running:
            continue
        print(f"{'would remove' if dry_run else 'removing'} {path}: {why}", flush=True)
        if dry_run:
            continue
        try:
            remove(path)
        except FileNotFoundError:
            pass
        except OSError as error:
            print(f"cannot remove {path}: {error}", file=sys.stderr, flush=True)
            failed += 1
    print(f"{len(plan)} entries {'to remove' if dry_run else 'removed'}"
          + (f", {failed} could not be removed" if failed else ""), flush=True)
    return 1 if failed else 0


def main(argv):
    config, command, args = argv[1], argv[2], argv[3:]
    if command == "running-in":  # running_jobs_of's child, as the service user
        print(json.dumps(sorted(running_jobs(args[0]))))
        return 0
    ops = load_config(config)
    if command == "running":
        print(len(running_jobs_of(ops)))
        return 0
    if command == "wait-idle":
        return 0 if wait_idle(ops, float(args[0])) else EXIT_BUSY
    if command == "restart-when-idle":
        return restart_when_idle(ops)
    if command == "health":
        checks = health(ops)
        for good, message in checks:
            print(f"{'OK  ' if good else 'FAIL'} {message}")
        return 0 if all(check[0] for check in checks) else 1
    if command == "metrics":
        text = collect(ops, health(ops))
        write_textfile(ops, text)
        sys.stdout.write(text)
        return 0
    if command == "cleanup":
        return cleanup(ops, dry_run="--dry-run" in args or ops["cleanup"]["dry_run"])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

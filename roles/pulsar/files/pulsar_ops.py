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
import tempfile
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
    ops["config"] = os.path.abspath(path)
    ops["staging"] = os.path.realpath(app.get("staging_directory", ""))
    ops["persistence"] = app.get("persistence_directory") or ""
    ops["managers"] = sorted(app.get("managers") or {"_default_": {}})
    return ops


# --- Jobs -------------------------------------------------------------------

def walk(path):
    """(directory, [os.DirEntry]) of `path` and every directory below it, without recursion (a job may nest
    directories deeper than Python's recursion limit) and without following links."""
    stack = [path]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
        except OSError:
            continue
        yield folder, entries
        stack.extend(entry.path for entry in entries if entry.is_dir(follow_symlinks=False))


def running_jobs(staging, proc="/proc"):
    """Job ids with a process whose working directory is inside staging/<job id>, but for jobs Pulsar has
    finished with (their `postprocessed` mark) and directories that are gone: a process a job left behind does
    not hold a restart back."""
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
    return {job for job in jobs
            if os.path.isdir(os.path.join(prefix, job)) and not os.path.lexists(os.path.join(prefix, job, "postprocessed"))}


def listener_of(port, pid, proc="/proc"):
    """Whether process `pid` holds the socket listening on TCP `port` (so a token sent there reaches Pulsar, not
    whoever bound the port while Pulsar was down)."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(os.path.join(proc, "net", table), encoding="ascii") as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    try:
        fds = os.listdir(os.path.join(proc, str(pid), "fd"))
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(os.path.join(proc, str(pid), "fd", fd)) in inodes:
                return True
        except OSError:
            continue
    return False


def observe(ops, main_pid=0, full=True):
    """What the service user sees of its jobs: {running, indexes, outbox: [count, oldest], outbox_jobs,
    staged_bytes, listener}, or only {running} unless `full`. Everything root reports of staging and persistence
    comes from here, run as the service user: those directories are the jobs' to change (links, races, depth),
    and root must not walk them (nor may it be able to read another user's /proc/PID/cwd: no CAP_SYS_PTRACE in
    an unprivileged container)."""
    if not full:
        return {"running": sorted(running_jobs(ops["staging"]))}
    indexes = indexed_jobs(ops["persistence"], ops["managers"]) if ops["persistence"] else {}
    count, oldest, outbox_jobs = outbox_entries(ops["persistence"], ops["managers"]) if ops["persistence"] \
        else (0, 0.0, set())
    port = int(ops.get("rest_url", ":0").rsplit(":", 1)[1] or 0)
    return {"running": sorted(running_jobs(ops["staging"])),
            "indexes": {index: sorted(jobs) for index, jobs in indexes.items()},
            "outbox": [count, oldest], "outbox_jobs": sorted(outbox_jobs),
            "staged_bytes": staged_bytes(ops["staging"]),
            "listener": bool(main_pid and port and listener_of(port, main_pid))}


def as_service_user(ops):
    return os.geteuid() == 0 and bool(ops.get("user"))


def observe_as_service_user(ops, main_pid=0, full=True):
    """observe(), as the service user when called by root. Raises OSError or ValueError when it cannot tell."""
    if not as_service_user(ops):
        return observe(ops, main_pid, full)
    try:
        found = subprocess.run([sys.executable, "-I", os.path.abspath(__file__), ops["config"], "observe-in",
                                str(main_pid), str(int(full))], user=ops["user"], group=ops["group"], extra_groups=[],
                               capture_output=True, text=True, check=True, cwd="/", timeout=600)
    except (subprocess.SubprocessError, OSError) as error:
        raise OSError(f"cannot look at the jobs as {ops['user']}: {error}") from error
    return json.loads(found.stdout)


def running_jobs_of(ops):
    return set(observe_as_service_user(ops, full=False)["running"])


def busy(ops):
    """Whether a job runs; when that cannot be told, it is taken to (a restart waits rather than kill one)."""
    try:
        return bool(running_jobs_of(ops))
    except (OSError, ValueError) as error:
        print(f"{error}: taken as busy", file=sys.stderr, flush=True)
        return True


def indexed_jobs(persistence, managers):
    """{index: set of job ids} of Pulsar's own job indexes (the stateful manager's files)."""
    found = {index: set() for index in ACTIVE_INDEXES}
    for manager in managers:
        for index in ACTIVE_INDEXES:
            found[index].update(indexes_in(persistence, manager, index))
    return found


def wait_idle(ops, timeout, poll=2.0, clock=time.monotonic, sleep=time.sleep):
    deadline = clock() + timeout
    while busy(ops):
        if clock() >= deadline:
            return False
        sleep(poll)
    return True


def restart_when_idle(ops, poll=5.0):
    while busy(ops):
        time.sleep(poll)
    print(f"no job runs: restarting {ops['service']}", flush=True)
    return subprocess.call(["systemctl", "restart", f"{ops['service']}.service"])


# --- Health -------------------------------------------------------------------

def _rest_health(ops, view):
    # The token travels in the query string (Pulsar's API): straight to Pulsar,
    # never through nginx's access log, and never printed; and only to the
    # socket Pulsar's main process holds.
    if not view.get("listener"):
        return False, f"Pulsar's main process does not listen at {ops['rest_url']} (no token sent)"
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


def _amqp_health(ops, view):  # pylint: disable=unused-argument
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


def _relay_health(ops, view):  # pylint: disable=unused-argument
    app = ops["app"]
    base = app["message_queue_url"].rstrip("/")
    context = ssl.create_default_context(cafile=ops.get("ca_bundle") or None)
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
    """(entries, age in seconds of the oldest, job ids) of the status outboxes: status updates not delivered."""
    count, oldest, jobs = 0, 0.0, set()
    for manager in managers:
        for suffix in OUTBOXES:
            folder = os.path.join(persistence, f"{manager}-{suffix}")
            if not os.path.isdir(folder):
                continue
            for name in os.listdir(folder):
                if not name.endswith(".json"):
                    continue
                count += 1
                path = os.path.join(folder, name)
                try:
                    oldest = max(oldest, clock() - os.lstat(path).st_mtime)
                    with open(path, encoding="utf-8") as handle:
                        jobs.add(str((json.load(handle).get("payload") or {}).get("job_id", "")))
                except (OSError, ValueError, AttributeError):
                    continue
    return count, oldest, jobs - {""}


def main_pid(service):
    shown = subprocess.run(["systemctl", "show", "-p", "MainPID", "--value", f"{service}.service"],
                           capture_output=True, text=True, check=False)
    return int(shown.stdout.strip() or 0) if shown.stdout.strip().isdigit() else 0


def health(ops):
    """([(ok, message)], view) for the service, its broker or relay, and its outbox; view is observe()'s, or
    None when the service user's view could not be had."""
    checks = []
    active = subprocess.run(["systemctl", "is-active", "--quiet", f"{ops['service']}.service"], check=False)
    checks.append((active.returncode == 0, f"{ops['service']}.service is "
                   + ("active" if active.returncode == 0 else "not active")))
    try:
        view = observe_as_service_user(ops, main_pid(ops["service"]))
    except (OSError, ValueError) as error:
        return checks + [(False, str(error))], None
    mode = ops["mode"]
    checks.append({"rest": _rest_health, "mq": _amqp_health, "relay": _relay_health}[mode](ops, view))
    if mode != "rest":
        count, oldest = view["outbox"]
        limit = ops["outbox_max_age"]
        checks.append((oldest <= limit, f"{count} status updates wait in the outbox, the oldest for "
                       f"{int(oldest)} s (at most {limit} s)"))
    return checks, view


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
    for folder, entries in walk(staging):
        for entry in entries:
            try:
                total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
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


def collect(ops, checks, view):
    service = {"service": ops["service"]}
    path, state = _state(ops)
    ok = all(check[0] for check in checks)
    if ok and ops["mode"] != "rest":
        state["last_contact"] = time.time()
        _save(path, state)
    if view is None:  # the service user's view failed: only what says so
        return metrics_text({"pulsar_up": ("1 when every health check passed.", "gauge", [(service, 0)])})
    running = set(view["running"])
    indexes = {index: set(jobs) for index, jobs in view["indexes"].items()} or {i: set() for i in ACTIVE_INDEXES}
    count, oldest = view["outbox"]
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
                                 [(service, view["staged_bytes"])]),
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
    """Replace the collector's file at once; the temporary file is new (O_EXCL) and randomly named, so nothing
    set up in the directory beforehand is followed or overwritten."""
    target = ops["textfile"]
    if not target:
        return
    handle, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".pulsar-ops-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            os.fchmod(out.fileno(), 0o644)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


# --- Cleanup ------------------------------------------------------------------

def newest_mtime(path):
    newest = os.lstat(path).st_mtime
    for folder, entries in walk(path):
        for entry in entries:
            try:
                newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
            except OSError:
                continue
    return newest


def cleanup_plan(ops, now=None, running=None):
    """[(path, why)] to remove. Never a directory a process works in, one in Pulsar's indexes, or one whose
    job has a status update still waiting in the outbox (its client is yet to be told to collect it)."""
    now = time.time() if now is None else now
    staging, persistence, ages = ops["staging"], ops["persistence"], ops["cleanup"]
    running = running_jobs(staging) if running is None else running
    indexes = indexed_jobs(persistence, ops["managers"]) if persistence else {}
    kept = set(running).union(*indexes.values())
    if persistence:
        kept |= outbox_entries(persistence, ops["managers"])[2]
    plan = []

    def aged(path, days):
        try:
            return now - newest_mtime(path) > days * DAY
        except OSError:  # gone meanwhile (Pulsar cleaned it)
            return False

    if ages["staging_days"] and os.path.isdir(staging):
        for job in sorted(os.listdir(staging)):
            path = os.path.join(staging, job)
            if job in kept or not os.path.isdir(path) or os.path.islink(path):
                continue
            if aged(path, ages["staging_days"]):
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
                    if os.path.isfile(path) and not os.path.islink(path) and aged(path, days):
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
    for folder, entries in walk(path):
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                fix(entry.path)


def remove(path):
    """Remove a file, a link, or a directory tree (without recursion, links not followed)."""
    if not os.path.isdir(path) or os.path.islink(path):
        os.unlink(path)
        return
    _owner_writable(path)
    folders = []
    for folder, entries in walk(path):  # a directory comes before everything below it
        folders.append(folder)
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)
    for folder in reversed(folders):
        os.rmdir(folder)


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
    ops = load_config(config)
    if command == "observe-in":  # observe_as_service_user's child, as the service user
        print(json.dumps(observe(ops, int(args[0]), args[1] == "1")))
        return 0
    if command == "running":
        try:
            print(len(running_jobs_of(ops)))
        except (OSError, ValueError) as error:
            print(error, file=sys.stderr)
            return 1
        return 0
    if command == "wait-idle":
        return 0 if wait_idle(ops, float(args[0])) else EXIT_BUSY
    if command == "restart-when-idle":
        return restart_when_idle(ops)
    if command == "health":
        checks = health(ops)[0]
        for good, message in checks:
            print(f"{'OK  ' if good else 'FAIL'} {message}")
        return 0 if all(check[0] for check in checks) else 1
    if command == "metrics":
        checks, view = health(ops)
        text = collect(ops, checks, view)
        write_textfile(ops, text)
        sys.stdout.write(text)
        for good, message in checks:
            if not good:
                print(f"FAIL {message}", file=sys.stderr)
        return 0
    if command == "cleanup":
        if as_service_user(ops):  # what a job can change is removed only with the job's own rights
            return subprocess.run([sys.executable, "-I", os.path.abspath(__file__), config, *argv[2:]],
                                  user=ops["user"], group=ops["group"], extra_groups=[], cwd="/",
                                  check=False).returncode
        return cleanup(ops, dry_run="--dry-run" in args or ops["cleanup"]["dry_run"])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Hostile jobs, then the admin's routine converge (tested in this order, per host).

A Pulsar job is any Galaxy user's code, run as the service user. Each attack
below is a real job submitted through Pulsar's REST API; what it achieved is
read from the host afterwards, never from the job's own report.
"""

import shlex
import time

import pytest

from conftest import MOLECULE_DIR, main_pid

testinfra_hosts = ["pulsarservers", "defaultlayout"]

URL = "http://localhost:8913"
CONVERGE = MOLECULE_DIR / "hostile" / "converge.yml"
# Only root can write these: a marker there proves root ran a job's code.
MARKER = "/var/lib/hostile-marker"
# A root-owned directory a job tries to have chowned to the service user.
TARGET = "/var/lib/hostile-target"
# The token, copied before any attack, where only root reads it.
TOKEN_COPY = "/root/hostile-token.yml"
# What each host looked like before the attacks (per host).
BEFORE = {}


def layout(host, pulsar):
    unit = host.file("/etc/systemd/system/pulsar.service").content_string
    server_dir = unit.split("WorkingDirectory=")[1].split("\n")[0]
    home = host.check_output("getent passwd pulsar | cut -d: -f6")

    def parent(path):
        return path.rsplit("/", 1)[0]

    return dict(pulsar["dirs"], server=server_dir, home=home, app_yml=pulsar["app_yml"],
                config_parent=parent(pulsar["dirs"]["config"]), venv_parent=parent(pulsar["dirs"]["venv"]),
                staging_parent=parent(pulsar["dirs"]["staging"]))


def fingerprint(host, path):
    """Every file below path with its owner, mode and checksum."""
    return host.check_output(
        f"cd {path} && find . -type f -exec stat -c '%n %U %G %a' {{}} + -exec sha256sum {{}} + | sort")


def run_job(host, pulsar, script):
    src = f"/var/tmp/hostile-{abs(hash(script))}.sh"
    host.run_test(f"printf %s {shlex.quote(script)} > {src}")
    cmd = host.run(f"{pulsar['dirs']['venv']}/bin/python /usr/local/bin/molecule-pulsar-api.py "
                   f"{URL} {TOKEN_COPY} run {src}")
    return cmd.stdout + cmd.stderr


# HTTP status of a request (0: no answer), with the host's Python (no curl in the image).
HTTP_STATUS = """
import sys, urllib.error, urllib.request
try:
    print(urllib.request.urlopen(urllib.request.Request(sys.argv[1], method=sys.argv[2], data=b""), timeout=10).status)
except urllib.error.HTTPError as err:
    print(err.code)
except OSError:
    print(0)
"""


def http_status(host, url, method="GET"):
    return host.check_output(f"python3 -c {shlex.quote(HTTP_STATUS)} {shlex.quote(url)} {method}")


def unauthenticated_status(host):
    """HTTP status of a job setup without a token (Pulsar answers 401 when it enforces one)."""
    return http_status(host, f"{URL}/jobs?job_id=unauth-{int(time.time())}", "POST")


def restart_and_wait(host):
    host.run_test("systemctl restart pulsar")
    for _attempt in range(60):
        if http_status(host, f"{URL}/") != "0":
            return
        time.sleep(2)
    raise AssertionError(host.run("journalctl -u pulsar -n 30 --no-pager").stdout)


def has_cap_sys_admin(host):
    cap_eff = host.check_output("awk '/^CapEff/ {print $2}' /proc/1/status")
    return bool(int(cap_eff, 16) & (1 << 21))


def writable_by_service_user(host, trees, dirs=()):
    """What the service user can write among `trees` (all their content), `dirs` (the directories
    themselves: the server dir holds Pulsar's writable directories) and all their ancestors."""
    script = (
        'for p in "$@"; do case "$p" in =*) p=${p#=}; depth="-maxdepth 0";; *) depth=;; esac; '
        'find "$p" $depth ! -type l -writable -print 2>/dev/null; d="$p"; '
        'while [ "$d" != / ]; do d=$(dirname "$d"); [ -w "$d" ] && echo "$d (ancestor of $p)"; done; done; true'
    )
    quoted = " ".join(shlex.quote(p) for p in list(trees) + ["=" + d for d in dirs])
    return host.check_output(f"runuser -u pulsar -- sh -c {shlex.quote(script)} _ {quoted}").splitlines()


def test_before_attacks(host, pulsar, pulsar_api):
    """A real job passes; record what the attacks must not change."""
    paths = layout(host, pulsar)
    host.run_test(f"install -m 0600 {pulsar['app_yml']} {TOKEN_COPY}")
    host.run_test(f"rm -f {MARKER} && install -d -o root -g root -m 0755 {TARGET}")
    BEFORE[host.backend.host] = {
        "paths": paths,
        "config": fingerprint(host, paths["config"]),
        "venv_python": host.check_output(f"readlink -f {paths['venv']}/bin/python"),
    }
    assert unauthenticated_status(host) == "401"


# Each attack: (name, script run as the job). {x} are filled from layout().
ATTACKS = [
    ("venv swapped for one whose python root runs",
     "mv {venv} {venv_parent}/venv.hostile-old && mkdir -p {venv}/bin && "
     "for f in python python3 pip pip3 uv; do printf '#!/bin/sh\\nid -u > {marker}\\n' > {venv}/bin/$f; "
     "chmod 755 {venv}/bin/$f; done; touch {venv}/bin/activate; ls -la {venv}/bin"),
    ("code planted in the venv's site-packages",
     "for d in {venv}/lib/python3*/site-packages; do echo 'import os; os.system(\"id -u > {marker}\")' "
     "> $d/sitecustomize.py; done"),
    ("ssh key planted in the service user's home",
     "mkdir -p {home}/.ssh && echo 'ssh-ed25519 AAAAhostile hostile' >> {home}/.ssh/authorized_keys && "
     "ls -la {home}/.ssh"),
    ("config dir swapped for one without a token",
     "cp -r {config} {config_parent}/config.hostile && grep -v private_token {config}/app.yml "
     "> {config_parent}/config.hostile/app.yml; mv {config} {config_parent}/config.hostile-old && "
     "mv {config_parent}/config.hostile {config}"),
    ("app.yml rewritten without its token",
     "grep -v private_token {app_yml} > ./app.yml.new; cat ./app.yml.new > {app_yml}; "
     "echo 'private_token: ~' >> {app_yml}"),
    ("systemd drop-in written",
     "mkdir -p /etc/systemd/system/pulsar.service.d && printf '[Service]\\nUser=root\\n' "
     "> /etc/systemd/system/pulsar.service.d/hostile.conf"),
    ("stop script rewritten",
     "echo 'id -u > {marker}' >> {config}/pulsar-stop.sh"),
    # Last: it moves the staging directory, where this very job runs.
    ("staging replaced by a link to a root-owned directory",
     "mv {staging} {staging_parent}/staging.hostile-old && ln -s {target} {staging}"),
]


@pytest.mark.parametrize("name,script", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_job(host, pulsar, pulsar_api, name, script):
    """Submit the attack; it must not break Pulsar (the next checks read what it achieved)."""
    paths = BEFORE[host.backend.host]["paths"]
    report = run_job(host, pulsar, script.format(marker=MARKER, target=TARGET, **paths))
    print(name, report)
    assert '"complete": "true"' in report, report


def test_attacks_changed_nothing_root_relies_on(host):
    before = BEFORE[host.backend.host]
    paths = before["paths"]
    assert host.file(paths["config"]).is_directory and not host.file(paths["config"]).is_symlink
    assert fingerprint(host, paths["config"]) == before["config"]
    assert host.check_output(f"readlink -f {paths['venv']}/bin/python") == before["venv_python"]
    assert host.run(f"ls -d {paths['venv_parent']}/venv.hostile-old {paths['config_parent']}/config.hostile-old "
                    f"{paths['staging_parent']}/staging.hostile-old 2>/dev/null").stdout == ""
    assert not host.file(paths["staging"]).is_symlink
    assert not host.file("/etc/systemd/system/pulsar.service.d").exists
    assert host.run("ls {0}/lib/python3*/site-packages/sitecustomize.py 2>/dev/null".format(paths["venv"])).stdout == ""


def test_no_login_planted(host):
    home = BEFORE[host.backend.host]["paths"]["home"]
    assert not host.file(f"{home}/.ssh").exists
    assert host.run(f"runuser -u pulsar -- test -w {home}").rc != 0


def test_token_enforced_after_restart(host):
    """A crash or reboot restarts Pulsar from what is on disk."""
    restart_and_wait(host)
    assert unauthenticated_status(host) == "401"


def test_routine_converge(host, ansible_playbook):
    run = ansible_playbook(CONVERGE, None, "--limit", host.backend.host)
    assert run.returncode == 0, run.stdout + run.stderr


def test_root_ran_nothing_a_job_planted(host):
    assert not host.file(MARKER).exists, host.file(MARKER).content_string


def test_link_target_untouched(host):
    target = host.file(TARGET)
    assert (target.user, target.group, target.mode) == ("root", "root", 0o755)


def test_token_still_enforced(host):
    restart_and_wait(host)
    assert unauthenticated_status(host) == "401"


def test_real_job_passes(host, pulsar_check):
    cmd = pulsar_check(f"{URL}/")
    assert cmd.rc == 0, cmd.stdout + cmd.stderr


# A job asking for more memory than each process may allocate: in one piece when the limit is about the host's size
# (the allocation is refused at once, nothing is touched), else in 32 MiB pieces it fills. Without a limit it says
# so and allocates nothing (a regression must not make this test take the machine's memory).
MEMORY_HOG = """python3 - <<'END'
import resource
limit = resource.getrlimit(resource.RLIMIT_DATA)[0]
if limit == resource.RLIM_INFINITY:
    raise SystemExit("no memory limit")
print("limit", limit, flush=True)
piece = limit + (64 << 20) if limit > (4 << 30) else 32 << 20
held = [b"x" * piece for _ in range((limit + (64 << 20)) // piece + 1)]
print("allocated", sum(map(len, held)))
END
"""


def test_an_oversized_job_fails_and_pulsar_keeps_serving(host, pulsar, pulsar_check):
    """A job allocating past the unit's per-process limit (LimitDATA: a kernel limit, in force in any container)
    fails with an out-of-memory error; Pulsar's main process is the same one after it, and the next job passes.
    The unit's limits for Pulsar and its jobs together are as systemd reads them."""
    before = main_pid(host)
    report = run_job(host, pulsar, MEMORY_HOG)
    assert '"complete": "true"' in report, report
    assert "MemoryError" in report and "allocated" not in report, report
    assert main_pid(host) == before and host.service("pulsar").is_running
    limits = dict(line.split("=", 1) for line in host.check_output(
        "systemctl show pulsar -p OOMPolicy,LimitDATA,MemoryMax,TasksMax,CPUWeight").splitlines())
    assert limits["OOMPolicy"] == "continue" and limits["CPUWeight"] == "50", limits
    assert "infinity" not in (limits["MemoryMax"], limits["TasksMax"], limits["LimitDATA"]), limits
    cmd = pulsar_check(f"{URL}/")
    assert cmd.rc == 0, cmd.stdout + cmd.stderr


def test_nothing_root_relies_on_is_writable_by_the_service_user(host):
    """The venv, the config, the unit, the CA files, the home: neither they nor an ancestor."""
    paths = BEFORE[host.backend.host]["paths"]
    trees = [paths["venv"], paths["config"], "/etc/systemd/system", "/usr/local/share/ca-certificates",
             "/etc/ssl/certs"]
    assert writable_by_service_user(host, trees, [paths["server"], paths["home"]]) == []


def test_only_pulsars_own_directories_writable_in_the_unit(host, pulsar):
    rw = host.check_output("systemctl show -p ReadWritePaths --value pulsar").split()
    paths = BEFORE[host.backend.host]["paths"]
    assert paths["server"] not in rw
    app = pulsar["app_config"]
    for key in ("staging_directory", "persistence_directory", "tool_dependency_dir"):
        d = host.file(app[key])
        assert (d.is_directory, d.user) == (True, "pulsar"), key
        if rw:
            assert app[key] in rw, key


def test_sandbox_as_the_unit_says(host):
    """With CAP_SYS_ADMIN the unit's mount namespace is in effect (/ read-only for Pulsar);
    without it the unit does not claim one that systemd silently skips (Debian 12) or
    cannot start with (Debian 13), and the settings that need no namespace still hold."""
    pid = main_pid(host)
    root_mount = host.check_output(f"awk '$5 == \"/\" {{o = $6}} END {{print o}}' /proc/{pid}/mountinfo")
    protect = host.check_output("systemctl show -p ProtectSystem --value pulsar")
    if has_cap_sys_admin(host):
        assert protect == "strict"
        assert root_mount.split(",")[0] == "ro"
    else:
        assert protect == "no", "the unit claims a sandbox systemd did not build"
        assert root_mount.split(",")[0] == "rw"
    assert host.check_output(f"awk '/^NoNewPrivs/ {{print $2}}' /proc/{pid}/status") == "1"


def test_job_writes_its_tool_dependency_dir(host, pulsar):
    """A path set inside pulsar_yaml_config is created and writable for jobs like the role's own."""
    deps = pulsar["app_config"]["tool_dependency_dir"]
    report = run_job(host, pulsar, f"touch {deps}/written-by-a-job && echo ok")
    assert host.file(f"{deps}/written-by-a-job").user == "pulsar", report


def test_writable_path_root_relies_on_refused(host, ansible_playbook):
    """A directory above the venv that the service user can write (here: anyone) stops the
    converge before any change, naming it; root runs nothing of the venv meanwhile."""
    parent = BEFORE[host.backend.host]["paths"]["venv_parent"]
    host.run_test(f"chmod o+w {parent}")
    try:
        run = ansible_playbook(CONVERGE, None, "--limit", host.backend.host)
    finally:
        host.run_test(f"chmod o-w {parent}")
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert f"{parent}: writable by pulsar" in out, out
    assert "changed=0 " in out, out


def test_sandbox_required_but_not_buildable_refused(host, ansible_playbook):
    if has_cap_sys_admin(host):
        pytest.skip("systemd builds the sandbox here")
    run = ansible_playbook(CONVERGE, {"pulsar_systemd_require_namespaces": True}, "--limit", host.backend.host)
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "pulsar_systemd_require_namespaces is true" in out, out
    assert "changed=0 " in out, out


def test_upgrade_from_the_old_layout_keeps_staged_jobs(host, pulsar, pulsar_api, ansible_playbook):
    """The previous layout (server dir and the directories above staging owned by the service
    user, app.yml the service user's 0600): one converge moves it to the new one while a
    staged job waits and a running job finishes."""
    paths = BEFORE[host.backend.host]["paths"]
    old_owned = sorted({paths["server"], paths["staging_parent"], paths["config_parent"]})
    host.run_test("chown pulsar: " + " ".join(old_owned))
    host.run_test(f"chown pulsar:pulsar {paths['app_yml']} && chmod 0600 {paths['app_yml']}")
    rc, staged = pulsar_api(URL, "upload", "/etc/os-release")
    assert rc == 0, staged
    rc, job = pulsar_api(URL, "start", 15)
    assert rc == 0, job
    run = ansible_playbook(CONVERGE, None, "--limit", host.backend.host)
    assert run.returncode == 0, run.stdout + run.stderr
    for path in old_owned:
        assert host.file(path).user == "root", path
    app = host.file(paths["app_yml"])
    assert (app.user, app.group, app.mode) == ("root", "pulsar", 0o640)
    assert host.check_output(f"sha256sum < {staged['path']}").split()[0] == staged["sha256"]
    rc, result = pulsar_api(URL, "collect", job["job_id"])
    assert rc == 0, result
    assert result["output"].strip() == "finished after 15 s", result
    assert writable_by_service_user(host, [paths["venv"], paths["config"]], [paths["server"]]) == []

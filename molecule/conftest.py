"""Fixtures shared by every scenario's testinfra tests (see pytest.ini)."""

import configparser
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import testinfra
import yaml
from testinfra.utils.ansible_runner import AnsibleRunner

# How a failure that is the test machine's, not the product's, starts: tools/scenarios.sh re-runs a scenario that
# failed only with these.
INFRASTRUCTURE_ERROR = "INFRASTRUCTURE ERROR"

MOLECULE_DIR = Path(__file__).parent
FILES = MOLECULE_DIR / "files"
REPO = MOLECULE_DIR.parent


def group_host(group, index=0):
    """The testinfra host of another inventory group of the scenario."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    name = AnsibleRunner(inventory).get_hosts(group)[index]
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory)


def plain(output):
    """A play's output without the colours the callback adds to each line (molecule forces them)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", output)


def destination_id(name):
    """The Galaxy destination id of a Pulsar host without pulsar_destination_id: its inventory name, every
    character other than a letter, digit or _ made _ (plugins/filter/galaxy.py, pulsar_destination_id)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def main_pid(host, service="pulsar"):
    return host.check_output(f"systemctl show -p MainPID --value {service}")


def wait_restarted(host, old_pid, timeout=240, port=None, service="pulsar"):
    """Wait for a new main process of the service (one that listens on `port` again, on any address, when given);
    its PID."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = main_pid(host, service)
        if pid not in ("0", old_pid) and host.service(service).is_running and (
                port is None or host.run(f"ss -Hltn 'sport = :{port}'").stdout.strip()):
            return pid
        time.sleep(2)
    raise AssertionError(host.run(f"journalctl -u {service} --no-pager -n 40").stdout)


def read_pulsar(host):
    """What the pulsar role deployed, read back from the host (not from our inputs)."""
    unit = host.file("/etc/systemd/system/pulsar.service").content_string
    config_dir = unit.split("PULSAR_CONFIG_DIR=")[1].split('"')[0]
    venv = unit.split("VIRTUAL_ENV=")[1].split('"')[0]
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(host.file(f"{config_dir}/server.ini").content_string)
    server = ini["server:main"] if ini.has_section("server:main") else {}  # none in message queue mode
    app_yml = f"{config_dir}/app.yml"
    app_config = yaml.safe_load(host.file(app_yml).content_string)
    return {
        "host": server.get("host"),
        "port": int(server["port"]) if "port" in server else None,
        "app_yml": app_yml,
        "app_config": app_config,
        "token": app_config.get("private_token"),
        "dirs": {"config": config_dir, "venv": venv, "staging": app_config["staging_directory"]},
    }


def pulsar_client(host, pulsar_info):
    """molecule/files/pulsar_api.py, the one Pulsar client, installed on the
    Pulsar host. Returns call(url, action, arg=None, token=None, cafile=None,
    timeout=None) -> the testinfra command result. The client reads the
    deployed token from app.yml on the host, so it never appears in the
    command lines testinfra logs; ``token`` sends another one instead."""
    script = "/usr/local/bin/molecule-pulsar-api.py"
    host.ansible("copy", f"src={FILES / 'pulsar_api.py'} dest={script} mode=0755", check=False, become=True)
    python = f"{pulsar_info['dirs']['venv']}/bin/python"

    def call(url, action, arg=None, token=None, cafile=None, timeout=None):
        env = (f"SSL_CERT_FILE={cafile} " if cafile else "") + (f"PULSAR_API_TOKEN={token} " if token else "")
        limit = f"timeout {timeout} " if timeout else ""
        tail = "" if arg is None else f" {arg}"
        return host.run(f"{env}{limit}{python} {script} {url} {pulsar_info['app_yml']} {action}{tail}")

    return call


def pulsar_check_runner(host, pulsar_info, call=None):
    """Pulsar's own client check, a job with files staged in and out:
    run(url, token=None, cafile=None) -> the command result (through
    ``call``, a pulsar_client, when one is installed already)."""
    call = call or pulsar_client(host, pulsar_info)
    return lambda url, token=None, cafile=None: call(url, "check", token=token, cafile=cafile, timeout=300)


@pytest.fixture(scope="module")
def pulsar(host):
    """What the pulsar role deployed (read_pulsar), once per test module."""
    return read_pulsar(host)


@pytest.fixture(scope="module")
def pulsar_call(host, pulsar):
    """The Pulsar client (pulsar_client), installed once per test module."""
    return pulsar_client(host, pulsar)


@pytest.fixture(scope="module")
def pulsar_check(host, pulsar, pulsar_call):
    """pulsar_check_runner for the deployed Pulsar: run(url, token=None, cafile=None)."""
    return pulsar_check_runner(host, pulsar, pulsar_call)


@pytest.fixture(scope="module")
def pulsar_api(pulsar_call):
    """A JSON action of the Pulsar client (pulsar_client); returns (rc, report)."""

    def run(url, action, arg, cafile=None):
        cmd = pulsar_call(url, action, arg, cafile=cafile)
        report = json.loads(cmd.stdout) if cmd.stdout.strip() else {"error": cmd.stderr}
        return cmd.rc, report

    return run


@pytest.fixture(scope="module")
def stage_upload(host, pulsar_api):
    """Upload a file of SIZE bytes into a new Pulsar job (chunked, like Galaxy).

    Returns the client's report plus the sha256 and size of the file as Pulsar
    stored it, computed on the Pulsar host.
    """

    def run(url, size, cafile=None):
        src = f"/var/tmp/upload-{size}.dat"
        host.run_test(f"test -s {src} || head -c {size} /dev/urandom > {src}")
        rc, report = pulsar_api(url, "upload", src, cafile)
        assert rc == 0, report
        report["stored_sha256"] = host.check_output(f"sha256sum {report['path']}").split()[0]
        report["stored_size"] = host.file(report["path"]).size
        return report

    return run


@pytest.fixture(scope="module")
def galaxy_job():
    """On the Galaxy host: run a tool on a 10 MiB text dataset through Galaxy's API
    (molecule/files/galaxy_job.py); returns the script's JSON report."""
    script, src, size = "/usr/local/bin/molecule-galaxy-job.py", "/var/tmp/input-10mb.txt", 10 * 1024 * 1024
    host = group_host("galaxyservers")
    host.ansible("copy", f"src={FILES / 'galaxy_job.py'} dest={script} mode=0755", check=False, become=True)
    host.run_test(f"test -s {src} || head -c {size} /dev/urandom | base64 -w 76 | head -c {size} > {src}")

    def run(tool_id, timeout=600):
        cmd = host.run(f"/srv/galaxy/venv/bin/python {script} {tool_id} {src} {timeout}")
        assert cmd.rc == 0, cmd.stdout + cmd.stderr
        return json.loads(cmd.stdout)

    def passes(tool_id, ran_on_prefix):
        """Run the checksum tool; assert it passed and computed the dataset's checksum on the named host."""
        result = run(tool_id)
        assert result["state"] == "ok", result
        sha, size, ran_on = result["output"].split()
        assert (sha, int(size)) == (run.expected_sha256, run.size)
        assert ran_on.startswith(ran_on_prefix), result
        return result

    run.expected_sha256 = host.check_output(f"sha256sum {src}").split()[0]
    run.size = size
    run.passes = passes
    return run


@pytest.fixture(scope="session")
def ansible_playbook():
    """Run a playbook against the scenario's inventory from the controller,
    with the shared test vars plus ``extra_vars`` (highest precedence);
    ``executable`` another ansible-playbook (e.g. the oldest ansible-core's), ``inventory``
    another inventory, or a list of inventory sources (the scenario's by default)."""

    def run(playbook, extra_vars=None, *args, executable="ansible-playbook", inventory=None):
        sources = inventory if isinstance(inventory, list) else [inventory or os.environ["MOLECULE_INVENTORY_FILE"]]
        result = subprocess.run(
            [executable, *(arg for source in sources for arg in ("-i", str(source))), str(playbook),
             "-e", f"@{MOLECULE_DIR / 'test_vars.yml'}", "-e", json.dumps(extra_vars or {}), *args],
            capture_output=True, text=True, env=os.environ, timeout=900, check=False,
        )
        assert_reached(result)
        return result

    return run


# What ssh says when it cannot reach a container through podman exec (one
# extended regular expression, which tools/scenarios.sh reads too).
LOST_CONNECTION = re.compile((MOLECULE_DIR / "lost-connection.ere").read_text(encoding="utf-8").strip())


def pytest_runtest_logreport(report):
    """Record each failed test as the product's or the machine's (INFRASTRUCTURE_ERROR or a lost ssh connection)
    in GOP_TEST_FAILURES, for tools/scenarios.sh."""
    if report.failed and os.environ.get("GOP_TEST_FAILURES"):
        text = str(report.longrepr)
        kind = "infrastructure" if INFRASTRUCTURE_ERROR in text or LOST_CONNECTION.search(text) else "product"
        with open(os.environ["GOP_TEST_FAILURES"], "a", encoding="utf-8") as failures:
            failures.write(f"{kind} {report.nodeid}\n")


def assert_reached(result):
    """Fail, saying so, when a play lost its connection to a test container: the product was not tested, and
    a test reading the play's output must not go on to misread it."""
    lost = re.findall(r"^.*UNREACHABLE!.*\n.*$", result.stdout, re.MULTILINE)  # and ssh's reason, below
    if lost or re.search(r"\sunreachable=[1-9]", result.stdout):
        pytest.fail(f"{INFRASTRUCTURE_ERROR}: a test container could not be reached over ssh through podman exec "
                    f"(the host is loaded or the container is gone): {' | '.join(lost)[:2000]}", pytrace=False)

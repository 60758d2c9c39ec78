"""Pulsar on HPC login nodes without root: each node's site account (no sudo) runs Pulsar, under its systemd user
manager (hpc-login) or from its crontab (hpc-login2); real Galaxy jobs go through the broker to Pulsar and on to
Slurm as that account; a killed Pulsar comes back; nothing is written outside the account's space."""

import os
import re
import time

import pytest
import testinfra
import yaml

from conftest import MOLECULE_DIR, group_host, plain

testinfra_hosts = ["pulsarservers"]


def harness_mounts():
    """The test harness's host mounts (caches, the ssh key) in the containers, which other containers write to:
    the container side of molecule/containers.yml's gop_volumes, or for a file the directory that holds it."""
    volumes = yaml.safe_load((MOLECULE_DIR / "containers.yml").read_text())[0]["vars"]["gop_volumes"]
    env = re.compile(r"\{\{ lookup\('ansible.builtin.env', '(\w+)'\) \}\}")
    mounts = []
    for volume in volumes:
        source, target = env.sub(lambda m: os.environ[m.group(1)], volume).split(":")[:2]
        mounts.append(os.path.dirname(target) if os.path.isfile(source) else target)
    return mounts


def account_of(host):
    return host.check_output("id -un")


def as_root(host):
    """The same container as root, over podman exec (the account cannot become root)."""
    return testinfra.get_host(f"podman://{host.backend.get_hostname()}")


def uses_user_manager(host):
    """hpc-login has a systemd user manager; hpc-login2 only cron."""
    return "login2" not in host.backend.get_hostname()


def tool_of(host):
    """The test tool Galaxy sends to this login node's Pulsar (molecule/hpc/converge.yml)."""
    return "pulsar_checksum" if uses_user_manager(host) else "hpc_checksum_cron"


def pulsar_pid(host):
    """The running Pulsar's pid, as its supervisor knows it ("" when none)."""
    if uses_user_manager(host):
        pid = host.check_output("systemctl --user show -P MainPID pulsar")
        return "" if pid == "0" else pid
    account = account_of(host)
    return host.run(f"/shared/{account}/pulsar/config/pulsar-supervise.sh status && "
                    f"cat /shared/{account}/pulsar/pulsar.$(uname -n).pid").stdout.strip()


def wait_for_new_pulsar(host, old, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = pulsar_pid(host)
        if pid and pid != old:
            return pid
        time.sleep(2)
    raise AssertionError(f"no new Pulsar on {host.backend.get_hostname()} within {timeout} s")


@pytest.fixture(scope="module")
def cluster():
    return group_host("slurmservers")


def test_the_account_has_no_root(host):
    assert host.check_output("id -u") != "0"
    assert host.run("sudo -n true").rc != 0


def test_pulsar_runs_as_the_account_under_its_supervisor(host):
    account = account_of(host)
    pid = pulsar_pid(host)
    assert pid, "Pulsar is not running"
    assert host.check_output(f"ps -o user= -p {pid}") == account
    assert "pulsar-main" in host.check_output(f"tr '\\0' ' ' < /proc/{pid}/cmdline")
    crontab = host.run("crontab -l").stdout
    if uses_user_manager(host):
        assert host.check_output("systemctl --user is-enabled pulsar") == "enabled"
        assert "pulsar" not in crontab
        # No system unit: the account has none to install.
        assert not host.file("/etc/systemd/system/pulsar.service").exists
    else:
        assert host.run("systemctl --user is-system-running").rc != 0  # no user manager here
        assert "@reboot" in crontab and "pulsar-supervise.sh start" in crontab
        assert "* * * * *" in crontab and "pulsar-supervise.sh watchdog" in crontab


def test_files_are_the_accounts_and_secrets_its_alone(host):
    account = account_of(host)
    root = f"/shared/{account}/pulsar"
    app = host.file(f"{root}/config/app.yml")
    assert (app.user, app.mode) == (account, 0o600)
    assert "galaxy_au:" in app.content_string  # the broker URL with its password
    assert host.file(f"{root}/config").mode == 0o700
    # Everything under Pulsar's root is the account's.
    assert host.check_output(f"find {root} ! -user {account} | head -5") == ""
    # The site CA the broker's certificate chains to, with the system's, in the account's bundle.
    bundle = host.file(f"{root}/config/ca-bundle.pem").content_string
    assert bundle.count("BEGIN CERTIFICATE") > host.file("/etc/ssl/certs/ca-certificates.crt").content_string.count(
        "BEGIN CERTIFICATE")


def test_galaxy_job_through_slurm_as_the_account(host, cluster, galaxy_job):
    account = account_of(host)
    galaxy_job.passes(tool_of(host), "hpc-cluster-")  # computed on the cluster's node
    log = cluster.check_output("cat /var/log/slurm/jobcomp.log")
    uid = host.check_output("id -u")
    assert f"UserId={account}({uid})" in log and "JobState=COMPLETED" in log


def test_killed_pulsar_comes_back(host, galaxy_job):
    """SIGKILL: the user manager restarts Pulsar at once (Restart=on-failure), cron's watchdog within a minute."""
    old = pulsar_pid(host)
    host.run_test(f"kill -9 {old}")
    wait_for_new_pulsar(host, old, timeout=30 if uses_user_manager(host) else 150)
    galaxy_job.passes(tool_of(host), "hpc-cluster-")


def test_config_change_restarts_pulsar(host, ansible_playbook):
    server_ini = host.file(f"/shared/{account_of(host)}/pulsar/config/server.ini")
    pulsar_level = re.compile(r"\[logger_pulsar\]\s*level = (\w+)")
    level = "INFO" if pulsar_level.search(server_ini.content_string).group(1) == "DEBUG" else "DEBUG"  # also re-run
    old = pulsar_pid(host)
    run = ansible_playbook("galaxy_ops.pulsar.pulsar", {"pulsar_log_level": level}, "--limit",
                           host.backend.get_hostname())
    assert run.returncode == 0, run.stdout[-3000:]
    assert wait_for_new_pulsar(host, old, timeout=60)
    assert pulsar_level.search(server_ini.content_string).group(1) == level


def test_nothing_written_outside_the_accounts_space(host):
    """Since the fixtures were made: no file outside the account's home and project directory, except what the
    system writes for it (its crontab, by crontab(1); the journal; sshd's login records; /run)."""
    account = account_of(host)
    root = as_root(host)
    allowed = [f"/home/{account}", f"/var/spool/cron/crontabs/{account}", "/var/spool/cron/crontabs",
               "/var/log/journal", "/var/log/lastlog", "/var/log/wtmp", "/var/tmp/hpc-before-converge"]
    harness = harness_mounts()
    assert "/root/.cache/pip" in harness and "/root/.ssh" in harness, harness
    prune = " -o ".join(f"-path {path}" for path in ["/proc", "/sys", "/dev", "/run", "/tmp", "/shared"] + allowed
                        + harness)
    written = root.check_output(f"find / -xdev \\( {prune} \\) -prune -o -newer /var/tmp/hpc-before-converge -print")
    assert written == "", written
    shared = root.check_output(f"find /shared -mindepth 1 -maxdepth 1 -newer /var/tmp/hpc-before-converge "
                               f"! -name {account} ! -name hpc ! -name hpc2 -print")
    assert shared == "", shared


@pytest.mark.parametrize("node, extra_vars, refusal", [
    ("login", {"ansible_user": "root"}, "the play runs as root"),
    ("login", {"pulsar_message_queue_url": ""}, "nothing listens on the login node"),
    ("login", {"pulsar_munge_key_file": "/etc/hostname", "pulsar_extra_os_packages": ["htop"],
               "pulsar_play_nginx": True, "pulsar_group": "staff"},
     "pulsar_extra_os_packages (htop): ask the site"),
    ("login", {"pulsar_python": "/bin/false"}, "a Python with venv and ensurepip at pulsar_python (/bin/false)"),
    ("login2", {"pulsar_rootless_supervisor": "systemd"}, "This account has no systemd user manager"),
])
def test_settings_that_need_root_are_refused(host, ansible_playbook, node, extra_vars, refusal):
    if ("login2" in host.backend.get_hostname()) != (node == "login2"):
        pytest.skip(f"a refusal on the {node} node")
    app_yml = f"/shared/{account_of(host)}/pulsar/config/app.yml"
    before = host.check_output(f"stat -c %Y {app_yml}")
    run = ansible_playbook("galaxy_ops.pulsar.pulsar", extra_vars, "--limit", host.backend.get_hostname())
    out = " ".join(plain(run.stdout + run.stderr).split())  # the failed task's message is on stderr
    assert run.returncode != 0 and refusal in out, out[-3000:]
    assert "nothing was changed" in out.lower() and "\\'" not in out  # Ansible keeps a Jinja literal's \\' as is
    assert host.check_output(f"stat -c %Y {app_yml}") == before

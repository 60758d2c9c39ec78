"""Pulsar on a Slurm submit node: a real staged job through nginx, run by Slurm; restarts and a crash of Pulsar
while Slurm runs a job."""

import os
import time

import pytest

from conftest import MOLECULE_DIR, group_host, main_pid, wait_restarted

testinfra_hosts = ["pulsarservers"]


@pytest.fixture(scope="module")
def head():
    return group_host("slurmservers")


def completed_pulsar_jobs(head):
    log = head.run("cat /var/log/slurm/jobcomp.log").stdout
    return [line for line in log.splitlines() if "UserId=pulsar(2000)" in line and "JobState=COMPLETED" in line]


def test_submit_node(host, head):
    for pkg in ("slurm-client", "munge"):
        assert host.package(pkg).is_installed, pkg
    key = host.file("/etc/munge/munge.key")
    assert (key.user, key.group, key.mode) == ("munge", "munge", 0o400)
    assert key.sha256sum == head.file("/etc/munge/munge.key").sha256sum
    assert host.service("munge").is_running
    # As the Pulsar user, inside the service's sandbox.
    out = host.check_output("systemd-run --wait --pipe -q -p User=pulsar -p ProtectSystem=strict "
                            "-p NoNewPrivileges=true sinfo -h -o %T")
    assert out.strip() == "idle"


def test_manager_is_slurm(pulsar):
    manager = pulsar["app_config"]["managers"]["_default_"]
    assert (manager["type"], manager["job_plugin"]) == ("queued_cli", "Slurm")


def test_pulsar_check_runs_through_slurm(host, head, pulsar_check):
    before = len(completed_pulsar_jobs(head))
    result = pulsar_check("http://localhost/")
    assert result.rc == 0, result.stdout + result.stderr
    jobs = completed_pulsar_jobs(head)
    assert len(jobs) > before, jobs  # Slurm ran it, as the Pulsar user
    job_id = jobs[-1].split("JobId=")[1].split()[0]
    assert f"_job_complete: JobId={job_id} done" in head.check_output("cat /var/log/slurm/slurmctld.log")
    assert jobs[-1].split("NodeList=")[1].split()[0].startswith("slurm-head-")


CONVERGE = MOLECULE_DIR / "slurm" / "converge.yml"
URL = "http://localhost/"


def converge(ansible_playbook, **extra):
    """The scenario's converge (its cluster files where molecule's provisioner puts them)."""
    cluster = {"cluster_files_dir": os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "cluster")}
    return ansible_playbook(CONVERGE, {**cluster, **extra})


def slurm_job_running(head, timeout=60):
    """Wait until Slurm runs a job of the Pulsar user; its job id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = head.run("squeue -h -u pulsar -t RUNNING -o %i").stdout.split()
        if out:
            return out[0]
        time.sleep(1)
    raise AssertionError(head.run("squeue -a").stdout)


def test_config_change_restarts_at_once_and_the_slurm_job_is_collected(host, head, pulsar_api, ansible_playbook):
    """Slurm's queued_cli jobs survive a Pulsar restart (found again by their Slurm job id): the default
    restart policy here is immediate."""
    rc, job = pulsar_api(URL, "start", 120)
    assert rc == 0, job
    slurm_id = slurm_job_running(head)
    old = main_pid(host)
    run = converge(ansible_playbook, slurm_log_level="DEBUG")
    assert run.returncode == 0, run.stdout + run.stderr
    assert main_pid(host) != old and "job(s) run on" not in run.stdout, run.stdout
    # Restarted while the job still runs under Slurm: the converge did not wait for it.
    assert slurm_id in head.check_output("squeue -h -t RUNNING -o %i").split()
    rc, result = pulsar_api(URL, "collect", job["job_id"])
    assert rc == 0, result
    assert result["complete"] == "true" and result["output"].strip() == "finished after 120 s", result


def test_sigkill_while_a_slurm_job_runs(host, head, pulsar_api, ansible_playbook):
    rc, job = pulsar_api(URL, "start", 45)
    assert rc == 0, job
    slurm_id = slurm_job_running(head)
    old = main_pid(host)
    host.run_test(f"kill -KILL {old}")
    # cgroup v1 here: after TimeoutStopSec (80 s); v2: RestartSec. Listening again, or nginx answers 502.
    wait_restarted(host, old, 150, port=8913)
    rc, result = pulsar_api(URL, "collect", job["job_id"])
    assert rc == 0, result
    assert result["complete"] == "true" and result["output"].strip() == "finished after 45 s", result
    assert f"JobId={slurm_id} " in head.check_output("cat /var/log/slurm/jobcomp.log")
    run = converge(ansible_playbook)  # back to the scenario's settings
    assert run.returncode == 0, run.stdout + run.stderr

"""Pulsar on a Slurm submit node: a real staged job through nginx, run by Slurm."""

import pytest

from conftest import group_host

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

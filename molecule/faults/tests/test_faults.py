"""Faults Pulsar must survive without losing a job (tested in this order)."""

import time

from conftest import MOLECULE_DIR

testinfra_hosts = ["pulsarservers"]

URL = "http://localhost:80"
CONVERGE = MOLECULE_DIR / "faults" / "converge.yml"


def main_pid(host):
    return host.check_output("systemctl show -p MainPID --value pulsar")


def wait_active(host, old_pid, timeout=240):
    """Wait for a new main process that listens again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = main_pid(host)
        if pid not in ("0", old_pid) and host.socket("tcp://0.0.0.0:8913").is_listening:
            return pid
        time.sleep(2)
    raise AssertionError(host.run("journalctl -u pulsar --no-pager -n 40").stdout)


def starts(host, since):
    return host.run(f"journalctl -u pulsar --since @{since} --no-pager -o cat | grep -c '^Started '").stdout.strip()


def test_sigkill_restarts_and_serves(host, pulsar_check):
    old = main_pid(host)
    host.run_test(f"kill -KILL {old}")
    wait_active(host, old)
    assert pulsar_check(f"{URL}/").rc == 0


def test_job_in_flight_survives_restart(host, pulsar_api):
    rc, job = pulsar_api(URL, "start", 20)
    assert rc == 0, job
    time.sleep(3)
    old = main_pid(host)
    host.run_test("systemctl restart pulsar")  # waits for the job (ExecStop)
    wait_active(host, old)
    rc, result = pulsar_api(URL, "collect", job["job_id"])
    assert rc == 0, result
    assert result["complete"] == "true" and str(result["returncode"]) == "0", result
    assert result["output"].strip() == "finished after 20 s"


def test_upgrade_with_job_in_flight(host, pulsar, pulsar_api, pulsar_check, ansible_playbook):
    assert host.check_output(f"{pulsar['dirs']['venv']}/bin/pip show pulsar-app | grep ^Version") == "Version: 0.15.16"
    rc, job = pulsar_api(URL, "start", 20)
    assert rc == 0, job
    since = int(time.time())
    run = ansible_playbook(CONVERGE, {"faults_pulsar_version": "0.16.0"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert host.check_output(f"{pulsar['dirs']['venv']}/bin/pip show pulsar-app | grep ^Version") == "Version: 0.16.0"
    assert starts(host, since) == "1"  # restarted exactly once
    rc, result = pulsar_api(URL, "collect", job["job_id"])
    assert rc == 0, result
    assert result["output"].strip() == "finished after 20 s", result
    assert pulsar_check(f"{URL}/").rc == 0


def test_downgrade_refused(ansible_playbook):
    run = ansible_playbook(CONVERGE, {"faults_pulsar_version": "0.15.16"})
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert "pulsar_allow_downgrade" in out and "changed=0" in out, out


def test_full_staging_disk_fails_job_not_server(host, pulsar, pulsar_api, pulsar_check):
    host.run_test("head -c 100M /dev/urandom > /var/tmp/too-big.dat")
    rc, report = pulsar_api(URL, "upload", "/var/tmp/too-big.dat")
    assert rc != 0, report  # the upload is refused...
    assert "HTTP 5" in report["error"], report
    assert "No space left on device" in host.check_output("journalctl -u pulsar --no-pager -n 100")
    assert host.service("pulsar").is_running  # ...and Pulsar keeps serving
    # The failed job's files go (Galaxy sends DELETE for a failed job); then there is room again.
    host.run_test(f"rm -rf {pulsar['dirs']['staging']}/upload-*")
    assert pulsar_check(f"{URL}/").rc == 0

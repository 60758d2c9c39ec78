"""Faults Pulsar must survive without losing a job (tested in this order)."""

import os
import time

import pytest

from conftest import MOLECULE_DIR, main_pid, wait_restarted

testinfra_hosts = ["pulsarservers"]

URL = "http://localhost:80"
CONVERGE = MOLECULE_DIR / "faults" / "converge.yml"


def wait_active(host, old_pid, timeout=240):
    """Wait for a new main process that listens again."""
    return wait_restarted(host, old_pid, timeout, port=8913)


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


def restart_pending(host):
    return host.run("systemctl is-active pulsar-restart.service").stdout.strip() in ("active", "activating")


def converge(ansible_playbook, **faults):
    """The scenario's converge on the current release, with faults_* settings; (run, seconds)."""
    start = time.monotonic()
    run = ansible_playbook(CONVERGE, {"faults_pulsar_version": "0.16.0", **faults})
    return run, time.monotonic() - start


def test_upgrade_with_job_in_flight(host, pulsar, pulsar_api, pulsar_check, ansible_playbook):
    assert host.check_output(f"{pulsar['dirs']['venv']}/bin/pip show pulsar-app | grep ^Version") == "Version: 0.15.16"
    rc, job = pulsar_api(URL, "start", 120)  # longer than the upgrade's converge
    assert rc == 0, job
    time.sleep(3)
    since, old = int(time.time()), main_pid(host)
    run = ansible_playbook(CONVERGE, {"faults_pulsar_version": "0.16.0"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert host.check_output(f"{pulsar['dirs']['venv']}/bin/pip show pulsar-app | grep ^Version") == "Version: 0.16.0"
    # The default policy here (queued_python): the converge returns, the old process serves the job to its end
    # and the restart follows it.
    assert "Pulsar restarts by itself once they" in run.stdout, run.stdout
    assert main_pid(host) == old and restart_pending(host)
    wait_active(host, old, 200)
    assert not restart_pending(host)
    rc, result = pulsar_api(URL, "collect", job["job_id"])
    assert rc == 0, result
    assert result["output"].strip() == "finished after 120 s", result
    time.sleep(10)
    assert starts(host, since) == "1"  # restarted exactly once
    assert pulsar_check(f"{URL}/").rc == 0


@pytest.mark.skipif(os.environ.get("GOP_SUITE", "bookworm") != "bookworm",
                    reason="the policies are Ansible's and pulsar-ops' logic; test_upgrade_with_job_in_flight covers "
                           "the deferred restart on this systemd")
def test_no_policy_kills_a_job_of_several_minutes(host, pulsar, pulsar_api, ansible_playbook):
    """One 300 s job in flight (longer than the four runs before the last wait) across a config change under
    defer, wait (timed out) and wait: the first two converges return at once and leave one restart pending,
    the third waits for the job; Pulsar restarts once, after the job, and the job's output is collected."""
    rc, job = pulsar_api(URL, "start", 300)
    assert rc == 0, job
    time.sleep(3)
    since, old = int(time.time()), main_pid(host)

    run, seconds = converge(ansible_playbook, faults_log_level="DEBUG")  # defer, the default here
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 job(s) run on" in run.stdout and seconds < 100, (seconds, run.stdout)
    assert main_pid(host) == old and restart_pending(host)

    check = ansible_playbook(CONVERGE, {"faults_pulsar_version": "0.16.0", "faults_log_level": "DEBUG"},
                             "--check", "--diff")
    assert check.returncode == 0 and "changed=0" in check.stdout, check.stdout
    assert "A restart of pulsar is pending" in check.stdout, check.stdout

    run, seconds = converge(ansible_playbook, faults_log_level="WARNING", faults_restart_policy="wait",
                            faults_restart_wait_timeout=5)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 job(s) run on" in run.stdout, run.stdout  # the wait timed out: deferred again
    assert main_pid(host) == old and restart_pending(host)

    assert host.check_output("pulsar-ops running") == "1"  # still, when the last converge starts
    run, seconds = converge(ansible_playbook, faults_restart_policy="wait")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "job(s) run on" not in run.stdout, run.stdout
    assert time.time() - since >= 290, "the converge returned before the job ended"
    new = main_pid(host)
    assert new != old and not restart_pending(host)
    rc, result = pulsar_api(URL, "collect", job["job_id"])
    assert rc == 0, result
    assert result["output"].strip() == "finished after 300 s", result
    time.sleep(10)
    journal = host.run(f"journalctl -u pulsar -u pulsar-restart --since @{since} --no-pager -o short-precise "
                       "| grep -v -e ' INFO ' -e ' DEBUG '").stdout
    assert starts(host, since) == "1" and main_pid(host) == new, journal
    # The last converge left the scenario's own settings in effect.
    server_ini = host.file(f"{pulsar['dirs']['config']}/server.ini").content_string
    assert "[logger_pulsar]\nlevel = INFO\n" in server_ini, server_ini


def test_immediate_refused_for_local_jobs(ansible_playbook):
    run = converge(ansible_playbook, faults_restart_policy="immediate")[0]
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert "pulsar_restart_policy immediate restarts Pulsar while jobs run" in out and "changed=0" in out, out


def test_downgrade_refused(ansible_playbook):
    run = ansible_playbook(CONVERGE, {"faults_pulsar_version": "0.15.16"})
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert "pulsar_allow_downgrade" in out and "changed=0" in out, out


TEXTFILE = "/var/lib/prometheus/node-exporter/pulsar.prom"


def metric(text, name):
    """The value of the first sample of NAME in a Prometheus text."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in {text}")


def test_health_check_and_metrics_follow_a_job(host, pulsar, pulsar_api):
    health = host.run("pulsar-ops health")
    assert health.rc == 0 and "Pulsar 0.16.0 answers at http://127.0.0.1:8913" in health.stdout, health.stdout
    # The timer writes node_exporter's textfile; a run by hand does the same.
    host.run_test("systemctl start pulsar-metrics.service")
    idle = host.file(TEXTFILE).content_string
    assert metric(idle, "pulsar_up") == 1 and metric(idle, "pulsar_jobs_running") == 0, idle
    assert 'version="0.16.0"' in idle and metric(idle, "pulsar_staging_filesystem_free_bytes") > 0, idle
    rc, job = pulsar_api(URL, "start", 15)
    assert rc == 0, job
    time.sleep(3)
    busy = host.check_output("pulsar-ops metrics")
    assert metric(busy, "pulsar_jobs_running") == 1, busy
    rc, result = pulsar_api(URL, "collect", job["job_id"])
    assert rc == 0, result
    assert metric(host.check_output("pulsar-ops metrics"), "pulsar_jobs_running") == 0
    assert host.file(TEXTFILE).mode == 0o644 and host.file(TEXTFILE).user == "root"
    # The check sends the token straight to Pulsar: in no log.
    assert pulsar["token"] not in host.check_output("journalctl --no-pager -n 2000")


def test_health_check_fails_on_a_wrong_token_and_a_stopped_pulsar(host, pulsar):
    config = pulsar["dirs"]["config"]
    wrong_dir = "/run/pulsar-ops-test"  # readable by the service user, as app.yml and ops.yml are
    host.run_test(f"install -d -o root -g pulsar -m 0750 {wrong_dir} && "
                  f"sed 's/^private_token: .*/private_token: not-the-token/' {config}/app.yml > {wrong_dir}/app.yml "
                  f"&& sed 's#^app_yml: .*#app_yml: {wrong_dir}/app.yml#' {config}/ops.yml > {wrong_dir}/ops.yml "
                  f"&& chgrp pulsar {wrong_dir}/app.yml && chmod 0640 {wrong_dir}/app.yml")
    wrong = host.run(f"{pulsar['dirs']['venv']}/bin/python -I {config}/pulsar_ops.py {wrong_dir}/ops.yml health")
    assert wrong.rc == 1 and "answered HTTP 401 (the token in app.yml is refused)" in wrong.stdout, wrong.stdout
    assert "not-the-token" not in wrong.stdout + wrong.stderr
    host.run_test("systemctl stop pulsar")
    try:
        down = host.run("pulsar-ops health")
        assert down.rc == 1 and "pulsar.service is not active" in down.stdout, down.stdout
        assert metric(host.check_output("pulsar-ops metrics"), "pulsar_up") == 0
        # Someone else takes Pulsar's port while it is down: the check sends it no token.
        host.run_test("systemd-run --unit fake-pulsar -p User=nobody -p StandardError=file:/run/fake-pulsar.log "
                      "python3 -m http.server 8913 --bind 127.0.0.1 --directory /")
        for dummy in range(30):
            if host.socket("tcp://127.0.0.1:8913").is_listening:
                break
            time.sleep(1)
        taken = host.run("pulsar-ops health")
        assert taken.rc == 1 and "does not listen at http://127.0.0.1:8913 (no token sent)" in taken.stdout, taken.stdout
        assert "GET" not in host.file("/run/fake-pulsar.log").content_string
    finally:
        host.run("systemctl stop fake-pulsar")
        host.run_test("systemctl start pulsar")
    wait_active(host, "0", 120)


def test_cleanup_removes_aged_job_dirs_only(host, pulsar, pulsar_api):
    staging = pulsar["dirs"]["staging"]
    rc, job = pulsar_api(URL, "start", 30)
    assert rc == 0, job
    time.sleep(3)
    for name in ("aged-job", "fresh-job"):  # as a job leaves them: the service user's, partly read-only
        tree = f"{staging}/{name}/outputs"
        host.run_test(f"runuser -u pulsar -- sh -c 'mkdir -p {tree} && touch {tree}/x && chmod 0500 {tree}'")
    old = "-d '10 days ago'"
    host.run_test(f"find {staging}/aged-job {staging}/{job['job_id']} -exec touch -h {old} {{}} +")
    dry = host.run("pulsar-ops cleanup --dry-run")
    assert dry.rc == 0 and f"would remove {staging}/aged-job" in dry.stdout, dry.stdout
    assert host.file(f"{staging}/aged-job").exists
    host.run_test("systemctl start pulsar-cleanup.service")  # the timer's unit, as the service user
    assert not host.file(f"{staging}/aged-job").exists
    assert host.file(f"{staging}/fresh-job").exists and host.file(f"{staging}/{job['job_id']}").exists
    log = host.check_output("journalctl -u pulsar-cleanup --no-pager -o cat")
    assert f"removing {staging}/aged-job" in log and job["job_id"] not in log, log
    rc, result = pulsar_api(URL, "collect", job["job_id"])
    assert rc == 0 and result["output"].strip() == "finished after 30 s", result
    assert host.service("pulsar-cleanup.timer").is_enabled
    host.run_test(f"rm -rf {staging}/fresh-job")


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

"""roles/pulsar/files/pulsar_ops.py: what the cleanup picks, how running jobs are found, the metrics format."""

import importlib.util
import os
import shutil
import tempfile
import time

import pytest

from conftest import ROOT

SPEC = importlib.util.spec_from_file_location("pulsar_ops", ROOT / "roles" / "pulsar" / "files" / "pulsar_ops.py")
ops_module = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(ops_module)

DAY = 86400
NOBODY = 65534


def age(path, days):
    stamp = time.time() - days * DAY
    os.utime(path, (stamp, stamp))


@pytest.fixture(name="site")
def fixture_site(tmp_path):
    staging, persistence = tmp_path / "staging", tmp_path / "persisted"
    staging.mkdir()
    persistence.mkdir()
    ops = {"staging": str(staging), "persistence": str(persistence), "managers": ["_default_"],
           "cleanup": {"staging_days": 7, "ack_days": 7, "outbox_days": 30, "dry_run": False}}

    def job(name, days, files=("metadata_launch_config",)):
        folder = staging / name
        folder.mkdir()
        for file in files:
            (folder / file).write_text("x")
            age(folder / file, days)
        age(folder, days)
        return folder

    return ops, job, persistence


def test_aged_job_dirs_go_and_fresh_running_and_indexed_ones_stay(site):
    ops, job, persistence = site
    job("aged", 10)
    job("fresh", 1)
    job("running", 10)
    job("queued", 10)
    touched = job("touched-inside", 10)
    (touched / "outputs").mkdir()  # something in it changed yesterday
    age(touched / "outputs", 1)
    age(touched, 10)
    (persistence / "_default_-active-jobs").mkdir()
    (persistence / "_default_-active-jobs" / "queued").write_text("")
    plan = ops_module.cleanup_plan(ops, running={"running"})
    assert [os.path.basename(path) for path, why in plan] == ["aged"]


def test_index_entries_of_gone_jobs_and_old_ack_and_outbox_entries_go(site):
    ops, job, persistence = site
    job("alive", 1)
    index = persistence / "_default_-active-jobs"
    index.mkdir()
    for name in ("alive", "gone"):
        (index / name).write_text("")
    consume = persistence / "amqp_ack-_default_" / "consume"
    consume.mkdir(parents=True)
    for name, days in (("old-uuid", 8), ("new-uuid", 1)):
        (consume / name).write_text("{}")
        age(consume / name, days)
    outbox = persistence / "_default_-status-outbox"
    outbox.mkdir()
    for name, days in (("0001-a.json", 31), ("0002-b.json", 2)):
        (outbox / name).write_text("{}")
        age(outbox / name, days)
    plan = {os.path.relpath(path, persistence) for path, why in ops_module.cleanup_plan(ops, running=set())}
    assert plan == {"_default_-active-jobs/gone", "amqp_ack-_default_/consume/old-uuid",
                    "_default_-status-outbox/0001-a.json"}


def test_zero_days_keeps_everything(site):
    ops, job = site[:2]
    job("aged", 100)
    ops["cleanup"]["staging_days"] = 0
    assert ops_module.cleanup_plan(ops, running=set()) == []


def test_a_link_in_staging_is_never_followed(site, tmp_path):
    ops = site[0]
    target = tmp_path / "elsewhere"
    target.mkdir()
    age(target, 30)
    os.symlink(target, os.path.join(ops["staging"], "link"))
    assert ops_module.cleanup_plan(ops, running=set()) == []


def test_dry_run_removes_nothing(site, capsys, monkeypatch):
    ops, job = site[:2]
    job("aged", 10)
    monkeypatch.setattr(ops_module, "running_jobs", lambda staging: set())
    ops_module.cleanup(ops, dry_run=True)
    assert os.path.isdir(os.path.join(ops["staging"], "aged"))
    assert "would remove" in capsys.readouterr().out
    ops_module.cleanup(ops, dry_run=False)
    assert not os.path.exists(os.path.join(ops["staging"], "aged"))


def removed_as_nobody(path):
    """remove(path) in a child running as nobody (root ignores permissions): did it succeed?"""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            ops_module.remove(str(path))
            os._exit(0)
        except BaseException:  # pylint: disable=broad-except
            os._exit(1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_a_job_tree_left_read_only_is_removed_by_its_owner(monkeypatch):
    base = tempfile.mkdtemp(dir="/tmp")
    try:
        os.chmod(base, 0o755)
        folder = os.path.join(base, "job")
        os.makedirs(os.path.join(folder, "outputs", "deep"))
        for root, dirs, files in os.walk(base):
            os.chown(root, NOBODY, NOBODY)
        for mode, sub in ((0o500, "outputs/deep"), (0o500, "outputs")):
            os.chmod(os.path.join(folder, sub), mode)
        with monkeypatch.context() as patch:  # without giving back write access, the owner cannot remove it
            patch.setattr(ops_module, "_owner_writable", lambda path: None)
            assert not removed_as_nobody(folder)
        assert removed_as_nobody(folder)
        assert not os.path.exists(folder)
    finally:
        shutil.rmtree(base)


def test_an_entry_that_cannot_be_removed_fails_the_run_and_says_why(site, capsys, monkeypatch):
    ops, job = site[:2]
    job("aged", 10)

    def refuse(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(ops_module, "running_jobs_of", lambda ops: set())
    monkeypatch.setattr(ops_module, "remove", refuse)
    assert ops_module.cleanup(ops, dry_run=False) == 1
    out = capsys.readouterr()
    assert "cannot remove" in out.err and "Permission denied" in out.err
    assert "1 could not be removed" in out.out


def test_running_jobs_are_processes_working_in_a_job_directory(tmp_path):
    proc, staging = tmp_path / "proc", tmp_path / "staging"
    (staging / "job1" / "working").mkdir(parents=True)
    for pid, cwd in (("10", staging / "job1" / "working"), ("11", tmp_path), ("self", staging / "job1")):
        (proc / pid).mkdir(parents=True)
        os.symlink(cwd, proc / pid / "cwd")
    assert ops_module.running_jobs(str(staging), proc=str(proc)) == {"job1"}


def test_a_process_left_behind_by_a_finished_or_removed_job_is_not_a_running_job(tmp_path):
    proc, staging = tmp_path / "proc", tmp_path / "staging"
    for job in ("running", "finished"):
        (staging / job / "working").mkdir(parents=True)
    (staging / "finished" / "postprocessed").write_text("true")  # Pulsar is done with it
    for pid, cwd in (("10", staging / "running" / "working"), ("11", staging / "finished" / "working"),
                     ("12", staging / "removed" / "working")):
        (proc / pid).mkdir(parents=True)
        os.symlink(cwd, proc / pid / "cwd")
    assert ops_module.running_jobs(str(staging), proc=str(proc)) == {"running"}


def test_a_job_tree_deeper_than_pythons_recursion_limit_is_measured_and_removed(tmp_path):
    folder = str(tmp_path / "job")
    deep = folder
    os.mkdir(deep)
    for dummy in range(1500):  # as a job can: one level at a time
        deep = os.path.join(deep, "a")
        os.mkdir(deep)
    with open(os.path.join(deep, "x"), "wb") as handle:
        handle.write(b"x" * 4096)
    assert ops_module.staged_bytes(str(tmp_path)) >= 4096
    assert ops_module.newest_mtime(folder) > 0
    ops_module.remove(folder)
    assert not os.path.exists(folder)


def test_a_job_whose_status_update_waits_in_the_outbox_is_kept(site):
    ops, job, persistence = site
    job("told", 10)
    job("untold", 10)
    outbox = persistence / "_default_-status-outbox"
    outbox.mkdir()
    (outbox / "1-abc.json").write_text('{"id": "abc", "payload": {"job_id": "untold", "status": "complete"}}')
    assert [os.path.basename(path) for path, why in ops_module.cleanup_plan(ops, running=set())] == ["told"]


def test_an_entry_gone_while_planning_is_skipped(site, monkeypatch):
    ops, job = site[:2]
    job("aged", 10)

    def gone(path):
        raise FileNotFoundError(2, "No such file or directory", path)

    monkeypatch.setattr(ops_module, "newest_mtime", gone)
    assert ops_module.cleanup_plan(ops, running=set()) == []


def test_a_job_count_that_fails_counts_as_busy(monkeypatch, capsys):
    def fail(ops):
        raise OSError("cannot look at the jobs as pulsar: killed")

    monkeypatch.setattr(ops_module, "running_jobs_of", fail)
    assert ops_module.busy({}) is True
    assert "taken as busy" in capsys.readouterr().err


def test_the_token_goes_only_to_the_socket_pulsars_main_process_holds(tmp_path):
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    (proc / "net" / "tcp").write_text(header + "   0: 0100007F:22D1 00000000:0000 0A 00000000:00000000 00:00000000 "
                                      "00000000   999        0 4242 1 0000000000000000 100 0 0 10 0\n")
    for pid, inode in (("100", "4242"), ("200", "7777")):
        (proc / pid / "fd").mkdir(parents=True)
        os.symlink(f"socket:[{inode}]", proc / pid / "fd" / "3")
    assert ops_module.listener_of(8913, 100, proc=str(proc))
    assert not ops_module.listener_of(8913, 200, proc=str(proc))  # another process
    assert not ops_module.listener_of(8080, 100, proc=str(proc))  # another port
    assert not ops_module.listener_of(8913, 300, proc=str(proc))  # no such process


def test_metrics_text_is_prometheus_format():
    text = ops_module.metrics_text({"pulsar_up": ("Up.", "gauge", [({"service": "pulsar"}, 1)]),
                                    "pulsar_jobs": ("Jobs.", "gauge", [({"stage": "active", "service": "p"}, 2)])})
    assert text == ('# HELP pulsar_up Up.\n# TYPE pulsar_up gauge\npulsar_up{service="pulsar"} 1\n'
                    '# HELP pulsar_jobs Jobs.\n# TYPE pulsar_jobs gauge\npulsar_jobs{service="p",stage="active"} 2\n')


def test_masked_hides_the_password_of_each_failover_url():
    assert ops_module.masked("amqps://pulsar:s3cret@mq1:5671/v;amqp://pulsar:s3cret@mq2/v") == \
        "amqps://pulsar:***@mq1:5671/v;amqp://pulsar:***@mq2/v"

"""The test harness tells a lost test container (the machine's failure) from the product's failure: the play's
output is not misread, and tools/scenarios.sh re-runs a scenario only when the machine failed."""

import importlib.util
import subprocess

import pytest

from conftest import ROOT

SPEC = importlib.util.spec_from_file_location("molecule_conftest", ROOT / "molecule" / "conftest.py")
harness = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(harness)

UNREACHABLE = ("fatal: [preflight-trixie]: UNREACHABLE! => changed=false\n  msg: 'Failed to connect to the host via "
               "ssh: Connection timed out during banner exchange'\nPLAY RECAP\npreflight-trixie : ok=3 changed=0 "
               "unreachable=1 failed=0\n")


def test_a_lost_container_fails_the_test_as_the_machines_error():
    played = subprocess.CompletedProcess([], 4, stdout=UNREACHABLE, stderr="")
    with pytest.raises(pytest.fail.Exception, match="(?s)INFRASTRUCTURE ERROR.*banner exchange"):
        harness.assert_reached(played)


def test_a_refused_play_is_left_to_the_test():
    refused = subprocess.CompletedProcess([], 2, stdout="fatal: [h]: FAILED! => msg: no\nh : ok=3 unreachable=0 "
                                                        "failed=1\n", stderr="")
    harness.assert_reached(refused)


def infrastructure_only(tmp_path, log, failures=None):
    (tmp_path / "log").write_text(log)
    if failures is not None:
        (tmp_path / "failures").write_text(failures)
    run = subprocess.run([ROOT / "tools" / "scenarios.sh", "--infrastructure-only", tmp_path], check=False)
    return run.returncode == 0


def test_a_scenario_is_re_run_when_only_the_machine_failed(tmp_path):
    assert infrastructure_only(tmp_path, "converge\n" + UNREACHABLE)
    assert infrastructure_only(tmp_path, "verify\nFailed: INFRASTRUCTURE ERROR: ...\n",
                               "infrastructure tests/test_preflight.py::test_x\n")


def test_a_scenario_is_not_re_run_when_the_product_failed(tmp_path):
    assert not infrastructure_only(tmp_path, "verify\nE   assert 1 == 0\n", "product tests/test_faults.py::test_y\n")
    # A lost container beside a product failure: the product's failure stands.
    assert not infrastructure_only(tmp_path, UNREACHABLE, "infrastructure a\nproduct b\n")
    assert not infrastructure_only(tmp_path, UNREACHABLE + "fatal: [h]: FAILED!\nh : ok=1 failed=1\n")
    assert not infrastructure_only(tmp_path, UNREACHABLE + "CRITICAL Idempotence test failed because of")


def test_the_summary_gives_each_molecule_step_its_time(tmp_path):
    """A stamped log (seconds since the scenario started) gives each step's time up to molecule's line for it."""
    step = "\x1b[36mINFO    \x1b[0m \x1b[32mdefault\x1b[0m ➜ \x1b[33m{}\x1b[0m: \x1b[32mExecuted: Successful\x1b[0m"
    log = "\n".join([f"[   3 s] {step.format('destroy')}", "[  40 s]   │ TASK [Install] ***",
                     f"[  41 s] {step.format('converge')}", f"[ 300 s] {step.format('verify')}",
                     "[ 301 s] \x1b[32mdefault\x1b[0m ➜ \x1b[33mverify\x1b[0m: \x1b[32mExecuted: Successful\x1b[0m"])
    (tmp_path / "log").write_text(log + "\n", encoding="utf-8")
    run = subprocess.run([ROOT / "tools" / "scenarios.sh", "--stages", tmp_path / "log"], capture_output=True,
                         text=True, check=True)
    assert run.stdout == "destroy 3 s, converge 38 s, verify 259 s"


def test_a_failed_step_keeps_its_time(tmp_path):
    """molecule prints a failed step's line as an ERROR: its time is the step's, not the next one's."""
    failed = "\x1b[31mERROR   \x1b[0m \x1b[32mhpc\x1b[0m ➜ \x1b[33mverify\x1b[0m: \x1b[31mExecuted: Failed\x1b[0m"
    done = "\x1b[36mINFO    \x1b[0m \x1b[32mhpc\x1b[0m ➜ \x1b[33m{}\x1b[0m: \x1b[32mExecuted: Successful\x1b[0m"
    log = "\n".join([f"[  10 s] {done.format('converge')}", f"[ 400 s] {failed}", f"[ 450 s] {done.format('destroy')}"])
    (tmp_path / "log").write_text(log + "\n", encoding="utf-8")
    run = subprocess.run([ROOT / "tools" / "scenarios.sh", "--stages", tmp_path / "log"], capture_output=True,
                         text=True, check=True)
    assert run.stdout == "converge 10 s, verify 390 s, destroy 50 s"

"""Bad input stops the tutorial's playbook before it changes anything."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

testinfra_hosts = ["pulsarservers"]

PLAYBOOK = Path(__file__).resolve().parents[3] / "pulsar-playbook.yml"
TOKEN = "molecule-test-token-0123456789abcdef0123456789abcdef"

# (case, extra vars, variable the message must name). Everything else comes
# from the repo's tutorial group_vars, whose token is the example placeholder.
CASES = [
    ("placeholder token of the example group_vars", {}, "private_token"),
    ("empty private_token", {"private_token": ""}, "private_token"),
    ("no private_token in pulsar_yaml_config", {"pulsar_yaml_config": {"conda_auto_init": False}}, "private_token"),
    ("non-integer pulsar_port", {"private_token": TOKEN, "pulsar_port": "eighty"}, "pulsar_port"),
    ("out-of-range pulsar_port", {"private_token": TOKEN, "pulsar_port": 70000}, "pulsar_port"),
    ("pulsar_yaml_config not a mapping", {"private_token": TOKEN, "pulsar_yaml_config": "a string"}, "pulsar_yaml_config"),
    ("relative pulsar_staging_dir", {"private_token": TOKEN, "pulsar_staging_dir": "staging"}, "pulsar_staging_dir"),
]


@pytest.mark.parametrize("case,extra_vars,variable", CASES, ids=[c[0] for c in CASES])
def test_bad_input_refused_before_any_change(case, extra_vars, variable):
    run = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(PLAYBOOK),
         "-e", json.dumps(extra_vars)],
        capture_output=True, text=True, env=os.environ, timeout=300,
    )
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    failed_task = re.findall(r"TASK \[galaxy_ops\.pulsar\.pulsar : ([^\]]+)\]", out)[-1]
    assert re.match(r"Validating arguments|Check|Refuse", failed_task), out
    assert variable in out.split(f"TASK [galaxy_ops.pulsar.pulsar : {failed_task}]")[-1], out
    assert re.search(r"changed=0\s", out), out


def test_no_service_user(host):
    assert not host.user("pulsar").exists


def test_no_directories_or_unit(host):
    for path in ("/mnt/pulsar", "/etc/systemd/system/pulsar.service"):
        assert not host.file(path).exists, path


def test_no_packages_installed(host):
    for pkg in ("build-essential", "python3-venv", "libssl-dev"):
        assert not host.package(pkg).is_installed, pkg

"""Which installer fills the virtualenv: pulsar_installer auto is uv unless the site configured pip, which uv does
not read (the pulsar role's variables rendered by ansible-core, with the tutorial's group_vars); and the look at the
virtualenv that lists the host's pip configuration files (roles/common/files/requirements_met.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_build_packages import render

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "common" / "files" / "requirements_met.py"


def venv_state(*config_files):
    """What the role registers from requirements_met.py --pip-config on a host without the venv."""
    return {"rc": 1, "stdout_lines": ["{}", f"pip configuration: {json.dumps(list(config_files))}",
                                      "no virtualenv at /mnt/pulsar/venv"]}


@pytest.mark.parametrize("admin,installer", [
    ({}, "uv"),  # the tutorial's settings
    ({"__pulsar_venv_state": venv_state()}, "uv"),
    ({"pulsar_install_environments": {"PIP_INDEX_URL": "https://mirror.example.org/simple"}}, "pip"),
    ({"pulsar_install_environments": {"pycurl": {"PIP_NO_BUILD_ISOLATION": "0"}}}, "pip"),  # per package
    ({"pulsar_install_environments": {"PYCURL_SSL_LIBRARY": "openssl"}}, "uv"),  # a build's variable, not pip's
    ({"__pulsar_venv_state": venv_state("/etc/pip.conf")}, "pip"),
    ({"pulsar_installer": "pip"}, "pip"),
    ({"pulsar_installer": "uv", "__pulsar_venv_state": venv_state("/etc/pip.conf")}, "uv"),  # warned, not changed
])
def test_auto_is_uv_unless_pip_is_configured(admin, installer):
    assert render("{{ _pulsar_installer }}", **admin) == installer


def test_uv_is_in_the_looked_for_requirements_only_when_named():
    for installer, with_uv in (("auto", False), ("pip", False), ("uv", True)):
        requirements = render("{{ _pulsar_venv_requirements }}", pulsar_installer=installer)
        assert any(r.startswith("uv==") for r in requirements) is with_uv, installer


def test_pip_variables_given_to_uv_are_named_for_the_refusal():
    assert render("{{ _pulsar_pip_environment_names }}", pulsar_installer="uv",
                  pulsar_install_environments={"PIP_EXTRA_INDEX_URL": "x", "UV_INDEX": "y"}) == ["PIP_EXTRA_INDEX_URL"]


def run_script(tmp_path, *args):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "XDG_"))}
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_DIRS=str(tmp_path / "xdg"))
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, check=False)


def test_the_look_lists_pip_configuration_files_only_when_asked(tmp_path):
    for path in (tmp_path / "home" / ".config" / "pip" / "pip.conf", tmp_path / "xdg" / "pip" / "pip.conf"):
        path.parent.mkdir(parents=True)
        path.write_text("[global]\nindex-url = https://mirror.example.org/simple\n")
    (tmp_path / "venv" / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    for venv in ("venv", "absent"):  # a venv without packages, and none at all
        asked = run_script(tmp_path, "--pip-config", "--venv", str(tmp_path / venv), "surely-not-installed")
        lines = asked.stdout.splitlines()
        assert asked.returncode == 1 and lines[0].startswith("{"), asked
        assert lines[1].startswith("pip configuration: "), lines
        found = json.loads(lines[1].removeprefix("pip configuration: "))
        assert {str(tmp_path / "xdg" / "pip" / "pip.conf"), str(tmp_path / "home" / ".config" / "pip" / "pip.conf")} \
            <= set(found), found
    plain = run_script(tmp_path, "--venv", str(tmp_path / "venv"), "surely-not-installed")
    assert not any(line.startswith("pip configuration") for line in plain.stdout.splitlines()), plain.stdout


def test_a_reported_distribution_is_listed_but_not_required(tmp_path):
    """auto's uv: its version is read (install, check mode's dry run) without making its absence work to do."""
    (tmp_path / "venv" / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    looked = run_script(tmp_path, "--pip-config", "--report", "uv", "--venv", str(tmp_path / "venv"))
    lines = looked.stdout.splitlines()
    assert looked.returncode == 0, looked
    assert json.loads(lines[0]) == {"uv": None} and lines[1].startswith("pip configuration: "), lines

"""Fixtures shared by the scenarios' testinfra tests."""

import configparser

import pytest
import yaml


@pytest.fixture(scope="module")
def pulsar(host):
    """What the role deployed, read back from the host (not from our inputs)."""
    unit = host.file("/etc/systemd/system/pulsar.service").content_string
    config_dir = unit.split("PULSAR_CONFIG_DIR=")[1].split('"')[0]
    venv = unit.split("ExecStart=")[1].split("/bin/pulsar-serve")[0]
    ini = configparser.ConfigParser()
    ini.read_string(host.file(f"{config_dir}/server.ini").content_string)
    app_yml = f"{config_dir}/app.yml"
    app_config = yaml.safe_load(host.file(app_yml).content_string)
    return {
        "host": ini["server:main"]["host"],
        "port": int(ini["server:main"]["port"]),
        "app_yml": app_yml,
        "app_config": app_config,
        "dirs": {"config": config_dir, "venv": venv, "staging": app_config["staging_directory"]},
    }


def run_pulsar_check(host, pulsar, url, token):
    """Run Pulsar's own client check, a job with files staged in and out.

    The token is passed through a variable of the remote shell so it is not
    echoed by testinfra's command logging.
    """
    return host.run(
        f"read -r T && exec timeout 300 {pulsar['dirs']['venv']}/bin/pulsar-check "
        f'--url {url} --private_token "$T" <<< {token}'
    )

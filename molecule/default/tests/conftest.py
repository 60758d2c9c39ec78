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


def run_pulsar_check(host, pulsar, url, token=None):
    """Run Pulsar's own client check, a job with files staged in and out.

    Without ``token`` the deployed one is read from app.yml on the host, so it
    never appears in the command line testinfra logs.
    """
    venv = pulsar["dirs"]["venv"]
    if token is None:
        read = 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["private_token"])'
        token = f"\"$({venv}/bin/python -c '{read}' {pulsar['app_yml']})\""
    return host.run(f"timeout 300 {venv}/bin/pulsar-check --url {url} --private_token {token}")

"""A real Galaxy runs a tool on the deployed Pulsar, through nginx, with the generated job configuration."""

import yaml
from conftest import destination_id, group_host, read_pulsar

testinfra_hosts = ["galaxyservers"]


def pulsar_id():
    return destination_id(group_host("pulsarservers").backend.get_hostname())


def test_tool_runs_on_pulsar(host, galaxy_job):
    result = galaxy_job.passes("pulsar_checksum", "gx-pulsar-")  # ran on the Pulsar host, not on Galaxy
    pulsar_host = group_host("pulsarservers")
    assert result["runner"] == "pulsar", result
    assert result["url"] == f"http://{pulsar_host.backend.host}/", result  # through nginx on port 80
    # Pulsar's nginx saw Galaxy stage the job in and collect it (and logged no token).
    log = pulsar_host.check_output("cat /var/log/nginx/access.log")
    assert f"POST /jobs/{result['runner_job_id']}/submit" in log
    assert "private_token" not in log


def test_wrong_token_fails_visibly(galaxy_job):
    result = galaxy_job("pulsar_checksum_bad_token", timeout=300)
    assert result["state"] in ("error", "failed"), result


def test_tool_not_routed_runs_locally(galaxy_job):
    result = galaxy_job("local_checksum")
    assert result["state"] == "ok", result
    sha, ran_on = result["output"].split()[0::2]
    assert sha == galaxy_job.expected_sha256
    assert ran_on.startswith("gx-galaxy-")


def test_job_conf_file_holds_the_token_for_galaxy_only(host):
    """Group galaxy from galaxyproject.galaxy's galaxy_group: the converge does not set the file's group."""
    f = host.file("/srv/galaxy/config/job_conf.xml")
    assert (f.user, f.group, f.mode) == ("root", "galaxy", 0o640)


def test_galaxy_reads_the_galaxy_job_config_form(host):
    """The jobs above ran through galaxy.yml's job_config (galaxyproject.galaxy's galaxy_job_config), set from the
    pulsar_galaxy_job_config fact; the role wrote no job_conf.yml."""
    config = yaml.safe_load(host.check_output("cat /srv/galaxy/config/galaxy.yml"))["galaxy"]
    assert "job_config_file" not in config
    job_config = config["job_config"]
    assert job_config["runners"]["pulsar"]["load"] == "galaxy.jobs.runners.pulsar:PulsarRESTJobRunner"
    assert job_config["execution"]["environments"][pulsar_id()]["private_token"] == read_pulsar(
        group_host("pulsarservers"))["token"]
    assert {"id": "pulsar_checksum", "environment": pulsar_id()} in job_config["tools"]
    assert not host.file("/srv/galaxy/config/job_conf.yml").exists


def test_tutorial_job_conf_xml_form(host):
    """The job_conf.xml of the tutorial, from the same inventory: parsed, not grepped."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(host.check_output("cat /srv/galaxy/config/job_conf.xml"))
    plugin = root.find("plugins/plugin[@id='pulsar']")
    assert plugin.get("load") == "galaxy.jobs.runners.pulsar:PulsarRESTJobRunner"
    dest = root.find(f"destinations/destination[@id='{pulsar_id()}']")
    params = {p.get("id"): p.text for p in dest.findall("param")}
    assert params["url"].startswith("http://gx-pulsar-")
    assert params["private_token"] == read_pulsar(group_host("pulsarservers"))["token"]  # the deployed one
    assert [(t.get("id"), t.get("destination")) for t in root.findall("tools/tool")] == [
        ("bwa", pulsar_id()), ("bwa_mem", pulsar_id())]

"""Pulsar in message queue mode: Galaxy sends a real job through RabbitMQ, also after a broker restart."""

import pytest

from conftest import group_host

testinfra_hosts = ["pulsarservers"]

PASSWORD = "molecule-amqp-password-0123456789"  # molecule/test_vars.yml


@pytest.fixture(scope="module")
def broker():
    return group_host("rabbitmqservers")


def test_runs_webless_and_listens_nowhere(host, pulsar):
    unit = host.file("/etc/systemd/system/pulsar.service").content_string
    assert "/bin/pulsar-main " in unit and "pulsar-serve" not in unit
    assert host.service("pulsar").is_running
    pids = host.check_output("systemctl show -p MainPID --value pulsar")
    assert host.run(f"ss -Hltnp | grep -w 'pid={pids}'").rc == 1, "Pulsar must not listen in message queue mode"
    assert not host.package("nginx").is_installed
    assert "kombu" in host.check_output(f"{pulsar['dirs']['venv']}/bin/pip list")


def test_broker_password_stays_secret(host, pulsar):
    app = host.file(pulsar["app_yml"])
    assert (app.user, app.group, app.mode) == ("root", "pulsar", 0o640)
    assert pulsar["app_config"]["message_queue_url"].startswith("amqp://pulsar:")
    for path in ("/etc/systemd/system/pulsar.service", f"{pulsar['dirs']['config']}/server.ini"):
        assert PASSWORD not in host.file(path).content_string, path
    journal = host.check_output("journalctl -u pulsar --no-pager")
    assert "bind_manager_to_queue called for [amqp://pulsar:********@" in journal  # logged, masked
    assert PASSWORD not in journal


def test_galaxy_job_over_amqp(galaxy_job):
    result = galaxy_job.passes("pulsar_checksum", "mq-pulsar-")  # computed on the Pulsar host
    assert result["runner"] == "pulsar_mq", result


def test_job_after_broker_restart(host, broker, galaxy_job):
    since = host.check_output("date +%s")
    broker.run_test("systemctl restart rabbitmq-server")
    assert broker.service("rabbitmq-server").is_running
    galaxy_job.passes("pulsar_checksum", "mq-pulsar-")
    # Pulsar saw the broker go away and reconnected by itself, without a restart.
    journal = host.check_output(f"journalctl -u pulsar --no-pager --since @{since}")
    assert "will retry" in journal
    assert "Started pulsar.service" not in journal
    assert PASSWORD not in journal and "pulsar:********@" in journal


def test_galaxy_job_conf_from_the_inventory(pulsar):
    """Parsed, not grepped: the MQ runner and destination pulsar_galaxy wrote from the Pulsar host's variables."""
    import yaml

    job_conf = group_host("galaxyservers").file("/srv/galaxy/config/job_conf.yml")
    assert (job_conf.user, job_conf.group, job_conf.mode) == ("root", "galaxy", 0o640)
    conf = yaml.safe_load(job_conf.content_string)
    runner = conf["runners"]["pulsar_mq"]
    assert runner["load"] == "galaxy.jobs.runners.pulsar:PulsarMQJobRunner"
    assert runner["amqp_url"] == pulsar["app_config"]["message_queue_url"]
    assert runner["galaxy_url"].startswith("http://mq-galaxy-") and runner["amqp_publish_retry"] is True
    destination = conf["execution"]["environments"]["pulsar"]
    assert destination["runner"] == "pulsar_mq"
    assert destination["jobs_directory"] == pulsar["dirs"]["staging"]
    assert destination["default_file_action"] == "remote_transfer"
    assert "pulsar" not in conf["runners"]  # no REST runner without a REST host

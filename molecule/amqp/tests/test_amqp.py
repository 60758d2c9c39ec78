"""The current GTN tutorial's inventory (examples/amqp): Pulsar over AMQP with TLS in galaxyproject.pulsar's
layout; Galaxy sends real jobs through a TLS-only RabbitMQ, also after a broker restart; both check the
broker's certificate."""

import json

import pytest
import yaml

from conftest import FILES, group_host

testinfra_hosts = ["pulsarservers"]

PASSWORD = "molecule-amqp-password-0123456789"  # molecule/test_vars.yml
ROOT = "/mnt/pulsar"  # pulsar_root of examples/amqp
PLUGINS = {"core", "cpuinfo", "meminfo", "uname", "hostname"}  # galaxy_job_metrics_plugins of examples/amqp


@pytest.fixture(scope="module")
def broker():
    return group_host("rabbitmqservers")


@pytest.fixture(scope="module")
def galaxy():
    return group_host("galaxyservers")


@pytest.fixture(scope="module")
def rogue_listeners(broker):
    """TLS listeners on the broker host that must be refused: 5673 has another CA's certificate for the
    broker's name, 5674 the site CA's for another name."""
    for port, name in ((5673, "rogue"), (5674, "other-name")):
        broker.run_test(f"systemd-run --unit=molecule-{name} openssl s_server -quiet -accept {port} "
                        f"-cert /etc/rabbitmq/tls/{name}.crt -key /etc/rabbitmq/tls/{name}.key")
    yield
    broker.run("systemctl stop molecule-rogue molecule-other-name")


def probe(host, who, port, path, python):
    """molecule/files/amqp_probe.py on the host, with that client's python."""
    script = "/usr/local/bin/molecule-amqp-probe.py"
    host.ansible("copy", f"src={FILES / 'amqp_probe.py'} dest={script} mode=0755", check=False, become=True)
    return host.check_output(f"{python} {script} {who} {port} {path}")


def test_the_tutorials_layout_and_settings(host, pulsar):
    """galaxyproject.pulsar's layout under pulsar_root, no listener, the tutorial's amqp pin installed."""
    assert pulsar["dirs"] == {"config": f"{ROOT}/config", "venv": f"{ROOT}/venv", "staging": f"{ROOT}/files/staging"}
    app = pulsar["app_config"]
    paths = (app["persistence_directory"], app["tool_dependency_dir"])
    assert paths == (f"{ROOT}/files/persisted_data", f"{ROOT}/deps")
    assert app["amqp_publish_retry_max_retries"] == 5 and app["min_polling_interval"] == 0.5
    unit = host.file("/etc/systemd/system/pulsar.service").content_string
    assert "/bin/pulsar-main " in unit and "pulsar-serve" not in unit
    pids = host.check_output("systemctl show -p MainPID --value pulsar")
    assert host.run(f"ss -Hltnp | grep -w 'pid={pids}'").rc == 1, "Pulsar must not listen in message queue mode"
    assert not host.package("nginx").is_installed
    installed = json.loads(host.check_output(f"{ROOT}/venv/bin/pip list --format json"))
    versions = {package["name"].lower(): package["version"] for package in installed}
    assert versions["amqp"] == "5.0.2" and "kombu" in versions and "pycurl" in versions
    user = host.user("pulsar")
    assert user.shell == "/bin/bash"  # the tutorial's pulsar_user


def test_pulsar_is_given_the_plugins_galaxy_collects_with(host, pulsar):
    metrics = yaml.safe_load(host.file(f"{ROOT}/config/job_metrics_conf.yml").content_string)
    assert {plugin["type"] for plugin in metrics} == PLUGINS
    assert pulsar["app_config"]["job_metrics_config_file"] == "job_metrics_conf.yml"


def test_broker_password_stays_secret(host, pulsar):
    app = host.file(pulsar["app_yml"])
    assert (app.user, app.group, app.mode) == ("root", "pulsar", 0o640)
    for path in ("/etc/systemd/system/pulsar.service", f"{ROOT}/config/server.ini"):
        if host.file(path).exists:
            assert PASSWORD not in host.file(path).content_string, path
    assert PASSWORD not in host.check_output("systemctl show pulsar")
    journal = host.check_output("journalctl -u pulsar --no-pager")
    assert "bind_manager_to_queue called for [pyamqp://galaxy_au:********@" in journal  # logged, masked
    assert PASSWORD not in journal


def test_the_broker_speaks_tls_only(broker):
    listening = broker.check_output("ss -Hltn")
    assert ":5671 " in listening and ":5672 " not in listening


def test_pulsar_checks_the_certificate_and_the_name(host, broker, pulsar, rogue_listeners):
    """Pulsar's own connection code with its app.yml: the broker passes, another CA's certificate for the
    broker's name and the site CA's for another name are refused. With the tutorial's URL as kombu would
    have been given it (?ssl=1, py-amqp 5.0.2) both rogue listeners were accepted."""
    app = pulsar["app_config"]
    assert "ssl=" not in app["message_queue_url"] and app["amqp_connect_ssl_cert_reqs"] == "CERT_REQUIRED"
    python = f"{ROOT}/venv/bin/python"
    assert probe(host, "pulsar", 5671, pulsar["app_yml"], python) == "connected"
    rogue = probe(host, "pulsar", 5673, pulsar["app_yml"], python)
    assert rogue.startswith("refused") and "CERTIFICATE_VERIFY_FAILED" in rogue, rogue
    other = probe(host, "pulsar", 5674, pulsar["app_yml"], python)
    assert other.startswith("refused") and "match" in other, other


def test_galaxy_checks_the_certificate(galaxy, rogue_listeners):
    """Galaxy's runner (its pulsar client library, the job configuration's parameters): the broker passes,
    another CA's certificate is refused. Galaxy 26.1 takes no server_hostname: the name goes unchecked."""
    path, python = "/srv/galaxy/config/job_conf.yml", "/srv/galaxy/venv/bin/python"
    runner = yaml.safe_load(galaxy.file(path).content_string)["runners"]["pulsar_mq"]
    assert "ssl=" not in runner["amqp_url"] and runner["amqp_connect_ssl_cert_reqs"] == "CERT_REQUIRED"
    assert probe(galaxy, "galaxy", 5671, path, python) == "connected"
    rogue = probe(galaxy, "galaxy", 5673, path, python)
    assert rogue.startswith("refused") and "CERTIFICATE_VERIFY_FAILED" in rogue, rogue


def test_galaxy_job_over_amqp_with_pulsars_metrics(galaxy_job):
    result = galaxy_job.passes("pulsar_checksum", "mq-pulsar-")  # 10 MiB staged in and out
    assert result["runner"] == "pulsar_mq", result
    assert PLUGINS <= set(result["metrics"]), result["metrics"]
    assert result["metrics"]["hostname"]["hostname"].startswith("mq-pulsar-"), result["metrics"]


def test_job_after_broker_restart(host, broker, galaxy_job):
    since = host.check_output("date +%s")
    broker.run_test("systemctl restart rabbitmq-server")
    assert broker.service("rabbitmq-server").is_running
    galaxy_job.passes("pulsar_checksum", "mq-pulsar-")
    # Pulsar saw the broker go away and reconnected by itself, without a restart.
    journal = host.check_output(f"journalctl -u pulsar --no-pager --since @{since}")
    assert "will retry" in journal
    assert "Started pulsar.service" not in journal
    assert PASSWORD not in journal and "galaxy_au:********@" in journal


def test_an_acknowledgement_that_does_nothing_is_named(ansible_playbook):
    """The tutorial's amqp_acknowledge on Galaxy's runner publishes nothing again with Pulsar 0.16's client
    (the README of pulsar_galaxy says why): the run says so."""
    run = ansible_playbook("galaxy_ops.pulsar.galaxy_job_conf", {}, "--check")
    assert run.returncode == 0, run.stdout + run.stderr
    report = run.stdout.split("Report MQ runners whose acknowledgements do nothing")[1].split("TASK [")[0]
    report = " ".join(report.split())  # as the callback wraps it
    assert "WARNING: amqp_acknowledge is set on the MQ runners" in report and "pulsar_mq" in report, report


def test_galaxy_job_conf_from_the_inventory(galaxy, pulsar):
    """Parsed, not grepped: the MQ runner and destination pulsar_galaxy wrote from the Pulsar host's variables
    and the tutorial's runner and destination parameters."""
    job_conf = galaxy.file("/srv/galaxy/config/job_conf.yml")
    assert (job_conf.user, job_conf.group, job_conf.mode) == ("root", "galaxy", 0o640)
    conf = yaml.safe_load(job_conf.content_string)
    runner = conf["runners"]["pulsar_mq"]
    assert runner["load"] == "galaxy.jobs.runners.pulsar:PulsarMQJobRunner"
    assert runner["amqp_url"] == pulsar["app_config"]["message_queue_url"]
    assert runner["galaxy_url"].startswith("http://mq-galaxy-")
    assert (runner["amqp_acknowledge"], runner["amqp_publish_retry_max_retries"]) == (True, 60)
    destination = conf["execution"]["environments"]["pulsar"]
    assert destination["runner"] == "pulsar_mq"
    assert destination["jobs_directory"] == f"{ROOT}/files/staging" == pulsar["dirs"]["staging"]
    assert destination["default_file_action"] == "remote_transfer" and destination["transport"] == "curl"
    assert "pulsar" not in conf["runners"]  # no REST runner without a REST host

"""The current GTN tutorial's inventory (examples/amqp): two Pulsar hosts over AMQP with TLS on one broker vhost
in galaxyproject.pulsar's layout; Galaxy sends real jobs through a TLS-only RabbitMQ, also after a broker restart,
tools routed by TPV to the host they name; both sides check the broker's certificate. A third, REST, host joins
the inventory last and changes nothing of the first two."""

import json
import os
import re
import time

import pytest
import yaml

from testinfra.utils.ansible_runner import AnsibleRunner

from conftest import FILES, MOLECULE_DIR, group_host, plain
from conftest import destination_id as ident

testinfra_hosts = ["pulsarservers"]

PASSWORD = "molecule-amqp-password-0123456789"  # molecule/test_vars.yml
ROOT = "/mnt/pulsar"  # pulsar_root of examples/amqp
PLUGINS = {"core", "cpuinfo", "meminfo", "uname", "hostname"}  # galaxy_job_metrics_plugins of examples/amqp
JOB_CONF = "/srv/galaxy/config/job_conf.yml"
INDEX = "/srv/galaxy/config/pulsar_destinations.yml"  # pulsar_galaxy's, next to the job configuration
TPV = "/srv/galaxy/config/tpv_pulsar_destinations.yml"


def _hosts(group):
    return AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts(group)


MQ1 = next(h for h in _hosts("pulsarservers") if h.startswith("mq-pulsar-"))
MQ2 = next(h for h in _hosts("pulsarservers") if h.startswith("mq-pulsar2-"))
REST = _hosts("later_pulsarservers")[0]


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
    runner = yaml.safe_load(galaxy.file(path).content_string)["runners"][ident(MQ1) + "_mq"]
    assert "ssl=" not in runner["amqp_url"] and runner["amqp_connect_ssl_cert_reqs"] == "CERT_REQUIRED"
    assert probe(galaxy, "galaxy", 5671, path, python) == "connected"
    rogue = probe(galaxy, "galaxy", 5673, path, python)
    assert rogue.startswith("refused") and "CERTIFICATE_VERIFY_FAILED" in rogue, rogue


def test_galaxy_job_over_amqp_with_pulsars_metrics(galaxy_job):
    result = galaxy_job.passes("pulsar_checksum", MQ1)  # 10 MiB staged in and out
    assert result["runner"] == ident(MQ1) + "_mq", result
    assert PLUGINS <= set(result["metrics"]), result["metrics"]
    assert result["metrics"]["hostname"]["hostname"] == MQ1, result["metrics"]


def test_job_after_broker_restart(broker, galaxy_job):
    host = group_host("pulsarservers", _hosts("pulsarservers").index(MQ1))
    since = host.check_output("date +%s")
    broker.run_test("systemctl restart rabbitmq-server")
    assert broker.service("rabbitmq-server").is_running
    galaxy_job.passes("pulsar_checksum", MQ1)
    # Pulsar saw the broker go away and reconnected by itself, without a restart.
    journal = host.check_output(f"journalctl -u pulsar --no-pager --since @{since}")
    assert "will retry" in journal
    assert "Started pulsar.service" not in journal
    assert PASSWORD not in journal and "galaxy_au:********@" in journal


def test_health_and_metrics_see_the_broker_stop(broker):
    host = group_host("pulsarservers", _hosts("pulsarservers").index(MQ1))
    up = host.run("pulsar-ops health")
    assert up.rc == 0 and "takes Pulsar's account" in up.stdout, up.stdout
    assert PASSWORD not in up.stdout and "galaxy_au:***@" in up.stdout, up.stdout
    seen = [line for line in host.check_output("pulsar-ops metrics").splitlines()
            if line.startswith("pulsar_last_contact_timestamp_seconds")]
    broker.run_test("systemctl stop rabbitmq-server")
    try:
        down = host.run("pulsar-ops health")
        assert down.rc == 1 and "refused or unreachable" in down.stdout, down.stdout
        metrics = host.check_output("pulsar-ops metrics")
        assert 'pulsar_up{service="pulsar"} 0' in metrics, metrics
        assert [line for line in metrics.splitlines()
                if line.startswith("pulsar_last_contact_timestamp_seconds")] == seen, metrics
    finally:
        broker.run_test("systemctl start rabbitmq-server")
    assert host.run("pulsar-ops health").rc == 0


def test_an_acknowledgement_that_does_nothing_is_named(ansible_playbook):
    """The tutorial's amqp_acknowledge on Galaxy's runner publishes nothing again with Pulsar 0.16's client
    (the README of pulsar_galaxy says why): the run says so."""
    run = ansible_playbook("galaxy_ops.pulsar.galaxy_job_conf", {}, "--check")
    assert run.returncode == 0, run.stdout + run.stderr
    report = run.stdout.split("Report MQ runners whose acknowledgements do nothing")[1].split("TASK [")[0]
    report = " ".join(report.split())  # as the callback wraps it
    assert "WARNING: amqp_acknowledge is set on the MQ runners" in report and ident(MQ1) + "_mq" in report, report


def test_galaxy_job_conf_from_the_inventory(host, galaxy, pulsar):
    """Parsed, not grepped: the MQ runner and destination pulsar_galaxy wrote from the Pulsar host's variables
    and the tutorial's runner and destination parameters."""
    job_conf = galaxy.file("/srv/galaxy/config/job_conf.yml")
    assert (job_conf.user, job_conf.group, job_conf.mode) == ("root", "galaxy", 0o640)
    conf = yaml.safe_load(job_conf.content_string)
    runner = conf["runners"][ident(host.backend.get_hostname()) + "_mq"]
    assert runner["load"] == "galaxy.jobs.runners.pulsar:PulsarMQJobRunner"
    assert runner["amqp_url"] == pulsar["app_config"]["message_queue_url"]
    assert runner["galaxy_url"].startswith("http://mq-galaxy-")
    assert (runner["amqp_acknowledge"], runner["amqp_publish_retry_max_retries"]) == (True, 60)
    destination = conf["execution"]["environments"][ident(host.backend.get_hostname())]
    assert destination["runner"] == ident(host.backend.get_hostname()) + "_mq"
    assert destination["jobs_directory"] == f"{ROOT}/files/staging" == pulsar["dirs"]["staging"]
    assert destination["default_file_action"] == "remote_transfer" and destination["transport"] == "curl"
    assert "pulsar" not in conf["runners"]  # no REST runner without a REST host


def test_each_pulsar_on_the_shared_vhost_has_queues_of_its_own(host, pulsar, broker, galaxy):
    """Both hosts take jobs from one vhost: each consumes its own setup queue (pulsar_<id>_), and Galaxy's runner for
    it uses the same prefix, so a job routed to one cannot be taken by the other."""
    name = host.backend.get_hostname()
    prefix = f"pulsar_{ident(name)}_"
    assert pulsar["app_config"]["amqp_key_prefix"] == prefix
    runner = yaml.safe_load(galaxy.file(JOB_CONF).content_string)["runners"][ident(name) + "_mq"]
    assert runner["amqp_key_prefix"] == prefix
    queues = dict(line.split("\t") for line in broker.check_output(
        "rabbitmqctl -q list_queues -p /pulsar/galaxy_au --no-table-headers name consumers").splitlines())
    assert queues[f"{prefix}_setup"] == "1", queues  # Pulsar's consumer, on this host's queue alone
    assert "pulsar__setup" not in queues, queues  # nobody on Pulsar's default queue


@pytest.mark.parametrize("tool_id, ran_on", [("tpv_checksum_mq1", MQ1), ("tpv_checksum_mq2", MQ2)])
def test_tpv_sends_each_tool_to_the_host_it_names(galaxy_job, tool_id, ran_on):
    """TPV (3.3, in Galaxy's venv) reads pulsar_galaxy's destinations file: the tool requiring a host's tag ran
    there (its output and job metrics name the host that computed it), through that host's runner, with the
    cores and memory TPV gave it as GALAXY_SLOTS and GALAXY_MEMORY_MB (the core metrics plugin reads them in the
    job: templates/tpv_site.yml.j2 gives tpv_checksum_mq2 2 cores and 1.5 GiB, every other tool none, which
    keeps the job script's 1 slot and no memory value)."""
    result = galaxy_job.passes(tool_id, ran_on)
    assert result["runner"] == ident(ran_on) + "_mq", result
    assert result["metrics"]["hostname"]["hostname"] == ran_on, result["metrics"]
    core = result["metrics"]["core"]
    if tool_id == "tpv_checksum_mq2":
        assert (int(float(core["galaxy_slots"])), int(float(core["galaxy_memory_mb"]))) == (2, 1536), core
    else:
        assert int(float(core["galaxy_slots"])) == 1 and "galaxy_memory_mb" not in core, core


def test_the_tpv_destinations_file(galaxy):
    tpv = galaxy.file(TPV)
    assert (tpv.user, tpv.group, tpv.mode) == ("root", "galaxy", 0o640)
    destinations = yaml.safe_load(tpv.content_string)["destinations"]
    assert set(destinations) == {ident(MQ1), ident(MQ2)}
    for name in (MQ1, MQ2):
        destination = destinations[ident(name)]
        assert destination["runner"] == ident(name) + "_mq"
        assert destination["scheduling"] == {"require": [ident(name)]}
        assert destination["params"]["jobs_directory"] == f"{ROOT}/files/staging"
        # The host's own cores (gathered by pulsar_galaxy: the pulsar play gathers only min), and no more memory
        # than the host's Pulsar unit lets a job have (MemoryMax for the unit, LimitDATA for each process).
        pulsar = group_host("pulsarservers", _hosts("pulsarservers").index(name))
        assert destination["max_accepted_cores"] == int(pulsar.check_output("nproc"))
        unit = pulsar.check_output("systemctl show pulsar -p MemoryMax -p LimitDATA --value").split()
        gib = min(int(limit) for limit in unit if limit.isdigit()) / 2**30
        assert gib - 0.1 < destination["max_accepted_mem"] <= gib, (unit, destination)  # a tenth, rounded down


def test_a_third_host_leaves_the_others_alone(ansible_playbook, galaxy, galaxy_job, tmp_path):
    """A REST Pulsar joins the inventory: the pulsar play changes nothing on the two MQ hosts, their ids, runners
    and queue prefixes stay (the id index shows no change for them), a job running on the first host while Galaxy
    restarts with the new configuration finishes there, and TPV sends the new host's tool to it."""
    before = yaml.safe_load(galaxy.file(INDEX).content_string)
    assert set(before) == {ident(MQ1), ident(MQ2)}
    extra = tmp_path / "third.ini"
    extra.write_text(f"[pulsarservers]\n{REST}\n")
    inventory = [os.environ["MOLECULE_INVENTORY_FILE"], extra]
    run = ansible_playbook("galaxy_ops.pulsar.pulsar", {}, inventory=inventory)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    recap = dict(re.findall(r"^(\S+)\s*:\s*ok=\d+\s+changed=(\d+)", plain(run.stdout), re.M))
    assert recap[MQ1] == recap[MQ2] == "0" != recap[REST], recap

    # A job on the first host that is still running when Galaxy restarts.
    src = "/var/tmp/input-10mb.txt"  # made by the galaxy_job fixture
    galaxy.run_test("systemctl reset-failed molecule-slow-job || true")
    galaxy.run_test(f"systemd-run --unit=molecule-slow-job -p StandardOutput=file:/var/tmp/slow-job.json "
                    f"/srv/galaxy/venv/bin/python /usr/local/bin/molecule-galaxy-job.py tpv_slow_mq1 {src} 900")
    mq1 = group_host("pulsarservers", _hosts("pulsarservers").index(MQ1))
    deadline = time.monotonic() + 300
    while mq1.run("pgrep -f 'slee[p] 120'").rc != 0:
        assert time.monotonic() < deadline, "the slow job never started on " + MQ1
        time.sleep(2)
    restarted = galaxy.check_output("systemctl show -p ActiveEnterTimestampMonotonic --value galaxy")
    run = ansible_playbook(MOLECULE_DIR / "amqp" / "galaxy_play.yml", {}, inventory=inventory)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    assert galaxy.check_output("systemctl show -p ActiveEnterTimestampMonotonic --value galaxy") != restarted
    assert mq1.run("pgrep -f 'slee[p] 120'").rc == 0, "the job must still be running after Galaxy's restart"

    after = yaml.safe_load(galaxy.file(INDEX).content_string)
    assert {k: after[k] for k in before} == before
    assert after[ident(REST)] == {"host": REST, "runner": "pulsar", "queue_prefix": "(REST: no queue)"}

    deadline = time.monotonic() + 600
    while galaxy.run("systemctl is-active molecule-slow-job").stdout.strip() in ("active", "activating"):
        assert time.monotonic() < deadline, "the slow job did not end"
        time.sleep(5)
    result = json.loads(galaxy.file("/var/tmp/slow-job.json").content_string)
    assert result["state"] == "ok" and result["output"].split()[2] == MQ1, result
    assert result["runner"] == ident(MQ1) + "_mq", result

    rest = json.loads(galaxy.check_output(
        f"/srv/galaxy/venv/bin/python /usr/local/bin/molecule-galaxy-job.py tpv_checksum_rest {src} 600"))
    if rest["state"] != "ok":
        journal = group_host("later_pulsarservers").run("journalctl -u pulsar --no-pager -n 60").stdout
        galaxy_log = galaxy.run("journalctl -u galaxy --no-pager -n 80").stdout
        pytest.fail(json.dumps(rest, indent=1)[:4000] + "\n--- REST Pulsar:\n" + journal
                    + "\n--- Galaxy:\n" + galaxy_log)
    assert rest["output"].split()[2] == REST, rest
    assert rest["runner"] == "pulsar" and rest["url"] == f"http://{REST}/", rest

"""Relay mode: Galaxy and a Pulsar with no listener meet at pulsar-relay (HTTPS through nginx).

Real Galaxy jobs pass, also after the relay restarts; a wrong relay password fails visibly.
"""

import re
import time

import pytest
import yaml

from conftest import destination_id, group_host

testinfra_hosts = ["pulsarservers"]

# molecule/test_vars.yml
PASSWORD = "molecule-relay-password-0123456789"
SECRETS = {
    "relay_password": PASSWORD,
    "jwt": "molecule-relay-jwt-secret-0123456789abcdef0123456789",
    "admin": "molecule-relay-admin-0123456789",
    "store": "molecule-relay-store-0123456789",
}


@pytest.fixture(scope="module")
def relay():
    return group_host("relayservers")


def relay_id():
    return destination_id(group_host("pulsarservers").backend.get_hostname())


def wait_until(check, seconds=90):
    deadline = time.time() + seconds
    while not check():
        assert time.time() < deadline, "timed out"
        time.sleep(2)


def test_relay_runs_sandboxed_on_localhost(relay):
    assert relay.service("pulsar-relay").is_running and relay.service("pulsar-relay").is_enabled
    assert relay.socket("tcp://127.0.0.1:9000").is_listening
    assert not relay.socket("tcp://0.0.0.0:9000").is_listening
    pid = relay.check_output("systemctl show -p MainPID --value pulsar-relay")
    assert relay.check_output(f"ps -o user= -p {pid}") == "pulsar-relay"
    exposure = relay.check_output("systemd-analyze security pulsar-relay --no-pager | tail -n 1")
    assert float(re.search(r": ([0-9.]+) ", exposure).group(1)) <= 3.0, exposure
    config = relay.file("/etc/pulsar-relay/config.yaml")
    assert (config.user, config.group, config.mode) == ("root", "pulsar-relay", 0o640)
    assert relay.file("/etc/pulsar-relay/users.json").mode == 0o600


def test_redis_requires_password_and_persists(relay):
    assert relay.service("redis-server").is_running
    assert relay.socket("tcp://127.0.0.1:6379").is_listening
    assert not relay.socket("tcp://0.0.0.0:6379").is_listening
    assert "NOAUTH" in relay.run("redis-cli ping").stdout
    auth = f"REDISCLI_AUTH={SECRETS['store']} redis-cli"
    assert relay.check_output(f"{auth} ping") == "PONG"
    assert relay.check_output(f"{auth} config get appendonly").split() == ["appendonly", "yes"]


def http_status(host, url):
    """Status of a GET from HOST, certificates checked against its system trust store, redirects not followed."""
    script = (
        "import sys, urllib.request as u\n"
        "class R(u.HTTPRedirectHandler):\n"
        "    def redirect_request(self, *a): return None\n"
        "try: print(u.build_opener(R).open(sys.argv[1], timeout=30).status)\n"
        "except u.HTTPError as e: print(e.code)\n"
    )
    return int(host.check_output(f"python3 -c '{script}' {url}"))


def test_relay_through_nginx_with_tls(host, relay):
    """From the Pulsar host, as Pulsar connects: HTTPS with the certificate checked; HTTP is redirected."""
    assert http_status(host, f"https://{relay.backend.host}/health") == 200
    assert http_status(host, f"http://{relay.backend.host}/health") == 301


def test_pulsar_runs_webless_and_listens_nowhere(host, pulsar):
    unit = host.file("/etc/systemd/system/pulsar.service").content_string
    assert "/bin/pulsar-main " in unit and "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt" in unit
    assert host.service("pulsar").is_running
    pid = host.check_output("systemctl show -p MainPID --value pulsar")
    assert host.run(f"ss -Hltnp | grep -w 'pid={pid}'").rc == 1, "Pulsar must not listen in relay mode"
    assert not host.package("nginx").is_installed
    assert pulsar["app_config"]["message_queue_url"].startswith("https://rl-relay-")
    assert pulsar["app_config"]["message_queue_username"] == "pulsar"


def test_secrets_stay_secret(host, relay, pulsar):
    app = host.file(pulsar["app_yml"])
    assert (app.user, app.group, app.mode) == ("root", "pulsar", 0o640)
    for path in ("/etc/systemd/system/pulsar.service", f"{pulsar['dirs']['config']}/server.ini"):
        assert PASSWORD not in host.file(path).content_string, path
    assert PASSWORD not in host.check_output("journalctl -u pulsar --no-pager")
    relay_journal = relay.check_output("journalctl -u pulsar-relay -u nginx --no-pager")
    world_readable = " ".join(relay.check_output(
        "find /etc/pulsar-relay /etc/nginx /etc/systemd/system /opt/pulsar-relay -maxdepth 1 -type f -perm -o+r"
    ).split())
    readable = relay.check_output(f"cat {world_readable} /var/log/nginx/access.log")
    for name, secret in SECRETS.items():
        assert secret not in relay_journal, name
        assert secret not in readable, name


def test_galaxy_job_over_relay(galaxy_job):
    result = galaxy_job.passes("pulsar_checksum", "rl-pulsar-")  # computed on the Pulsar host
    assert result["runner"] == relay_id() + "_relay", result


def test_galaxy_job_conf_from_the_inventory(pulsar):
    """Parsed, not grepped: the relay runner and destination pulsar_galaxy wrote from the Pulsar host's variables."""
    job_conf = group_host("galaxyservers").file("/srv/galaxy/config/job_conf.yml")
    assert (job_conf.user, job_conf.group, job_conf.mode) == ("root", "galaxy", 0o640)
    conf = yaml.safe_load(job_conf.content_string)
    destination = conf["execution"]["environments"][relay_id()]
    assert destination["runner"] == relay_id() + "_relay"
    runner = conf["runners"][destination["runner"]]
    assert runner["load"] == "galaxy.jobs.runners.pulsar:PulsarMQJobRunner"
    assert runner["relay_url"] == pulsar["app_config"]["message_queue_url"]
    assert (runner["relay_username"], runner["relay_password"]) == ("pulsar", PASSWORD)
    assert runner["galaxy_url"].startswith("http://rl-galaxy-")
    assert destination["jobs_directory"] == pulsar["dirs"]["staging"]
    assert destination["default_file_action"] == "remote_transfer"
    # The wrong-password destination gets its own runner: credentials are runner parameters.
    assert conf["execution"]["environments"]["relay_wrong_password"]["runner"] != destination["runner"]


def test_job_after_relay_restart(host, relay, galaxy_job):
    since = host.check_output("date +%s")
    relay.run_test("systemctl restart pulsar-relay")
    ready = "python3 -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1:9000/ready\")'"
    wait_until(lambda: relay.run(ready).rc == 0)
    galaxy_job.passes("pulsar_checksum", "rl-pulsar-")
    # Pulsar lived through the outage on its own: no restart.
    assert "Started pulsar.service" not in host.check_output(f"journalctl -u pulsar --no-pager --since @{since}")


def test_wrong_password_fails_visibly(host, pulsar, galaxy_job):
    """Galaxy's job to a destination with a wrong password fails instead of waiting; Pulsar with a
    wrong password says so in its journal (and recovers once the right one is back)."""
    result = galaxy_job("pulsar_checksum_bad_token", timeout=300)
    assert result["state"] in ("error", "failed"), result

    app_yml = pulsar["app_yml"]
    healthy = host.run("pulsar-ops health")
    assert healthy.rc == 0 and "takes Pulsar's account" in healthy.stdout, healthy.stdout
    since = host.check_output("date +%s")
    host.run_test(f"cp -p {app_yml} {app_yml}.good && sed -i 's/{PASSWORD}/wrong-password-123/' {app_yml}")
    try:
        # The health check reads the account from app.yml, as Pulsar does.
        refused = host.run("pulsar-ops health")
        assert refused.rc == 1 and "answered HTTP 4" in refused.stdout, refused.stdout
        assert "wrong-password-123" not in refused.stdout + refused.stderr
        host.run_test("systemctl restart pulsar")
        journal = f"journalctl -u pulsar --no-pager --since @{since}"
        wait_until(lambda: "authentication failed" in host.check_output(journal))
    finally:
        host.run_test(f"mv {app_yml}.good {app_yml} && systemctl restart pulsar")
    assert PASSWORD not in host.check_output(journal)
    # With the right password back Pulsar takes jobs again (its failed logins may
    # first have to wait out the relay's per-minute login limit).
    galaxy_job.passes("pulsar_checksum", "rl-pulsar-")

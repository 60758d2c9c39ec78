"""Bad input stops the tutorial's playbook before it changes anything."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import MOLECULE_DIR, REPO, plain, pulsar_check_runner, read_pulsar

testinfra_hosts = ["pulsarservers"]

# (case, extra vars, variable the message must name). Everything else comes
# from the repo's tutorial group_vars and molecule/test_vars.yml.
CASES = [
    ("placeholder token of the example group_vars", {"private_token": "your_private_token_here"}, "private_token"),
    ("empty private_token", {"private_token": ""}, "private_token"),
    ("token containing a placeholder word", {"private_token": "ChangeMeInProduction-0123456789abcdef0123"},
     "changeme"),
    ("venv inside the staging directory", {"pulsar_venv_dir": "/mnt/pulsar/staging/venv"},
     "/mnt/pulsar/staging/venv would lie inside a directory Pulsar and its jobs write"),
    ("relative staging_directory in pulsar_yaml_config",
     {"pulsar_yaml_config": {"private_token": "x" * 40, "staging_directory": "staging"}}, "staging_directory"),
    ("no private_token in pulsar_yaml_config", {"pulsar_yaml_config": {"conda_auto_init": False}}, "private_token"),
    ("non-integer pulsar_port", {"pulsar_port": "eighty"}, "pulsar_port"),
    ("out-of-range pulsar_port", {"pulsar_port": 70000}, "pulsar_port"),
    ("pulsar_yaml_config not a mapping", {"pulsar_yaml_config": "a string"}, "pulsar_yaml_config"),
    ("managers not a mapping", {"pulsar_yaml_config": {"private_token": "x" * 40, "managers": ["queued_python"]}},
     "pulsar_yaml_config.managers"),
    ("unknown manager type", {"pulsar_yaml_config": {"private_token": "x" * 40,
                                                     "managers": {"_default_": {"type": "queued_sge"}}}},
     "pulsar_yaml_config.managers"),
    ("relative pulsar_staging_dir", {"pulsar_staging_dir": "staging"}, "pulsar_staging_dir"),
    ("site in nginx_servers without a template", {"nginx_servers": ["no-such-site"]},
     "nginx_servers"),
    ("TLS without certificate or key", {"pulsar_nginx_tls": True}, "pulsar_nginx_tls_certificate"),
    ("TLS with a missing certificate file", {"pulsar_nginx_tls": True,
                                             "pulsar_nginx_tls_certificate": "/etc/ssl/none.crt",
                                             "pulsar_nginx_tls_certificate_key": "/etc/ssl/none.key"},
     "/etc/ssl/none.crt"),
    ("nginx_conf_http not a mapping", {"nginx_conf_http": ["client_max_body_size 5g"]},
     "nginx_conf_http"),
    ("message queue URL without scheme", {"pulsar_message_queue_url": "rabbit.example.org:5672"},
     "pulsar_message_queue_url"),
    ("message queue URL without host", {"pulsar_message_queue_url": "amqp://pulsar:s3cret-pw@/pulsar"},
     "pulsar_message_queue_url"),
    ("ssl=0, which kombu reads as TLS on", {"pulsar_message_queue_url": "amqp://p:s3cret-pw@mq:5672/v?ssl=0"},
     "ssl=0"),
    ("relative pulsar_amqp_ca_certs", {"pulsar_message_queue_url": "amqps://p:s3cret-pw@mq/v",
                                       "pulsar_amqp_ca_certs": "certs/site-ca.pem"}, "pulsar_amqp_ca_certs"),
    ("TLS failover list with the tutorial's py-amqp pin",
     {"pulsar_message_queue_url": "amqp://p:s3cret-pw@mq1:5671/v?ssl=1;amqp://p:s3cret-pw@mq2:5671/v?ssl=1",
      "pulsar_optional_dependencies": ["amqp==5.0.2"]}, "amqp==5.0.2"),
    ("queued_cli manager with an unknown job_plugin", {"pulsar_yaml_config": {
        "private_token": "x" * 40, "managers": {"_default_": {"type": "queued_cli", "job_plugin": "slurm"}}}},
     "job_plugin"),
    ("Slurm manager, no Slurm client", {"pulsar_slurm_packages": [], "pulsar_yaml_config": {
        "private_token": "x" * 40, "managers": {"_default_": {"type": "queued_cli", "job_plugin": "Slurm"}}}},
     "sbatch"),
    ("DRMAA manager without a DRMAA library", {"pulsar_yaml_config": {
        "private_token": "x" * 40, "managers": {"_default_": {"type": "queued_drmaa"}}}},
     "pulsar_drmaa_library_path"),
    ("DRMAA library not on the host", {"pulsar_drmaa_library_path": "/usr/lib/slurm-drmaa/lib/libdrmaa.so.1",
                                       "pulsar_yaml_config": {"private_token": "x" * 40,
                                                              "managers": {"_default_": {"type": "queued_drmaa"}}}},
     "/usr/lib/slurm-drmaa/lib/libdrmaa.so.1"),
    ("HTCondor manager without HTCondor", {"pulsar_yaml_config": {
        "private_token": "x" * 40, "managers": {"_default_": {"type": "queued_condor"}}}}, "condor_submit"),
    ("LSF manager without LSF", {"pulsar_yaml_config": {
        "private_token": "x" * 40, "managers": {"_default_": {"type": "queued_cli", "job_plugin": "LSF"}}}}, "bsub"),
    ("relay metrics more often than the relay's login limit",
     {"pulsar_relay_url": "https://relay.example.org", "pulsar_relay_username": "pulsar",
      "pulsar_relay_password": "s3cret-pw-0123456789", "pulsar_metrics_textfile_dir": "/var/lib/node-exporter",
      "pulsar_metrics_interval": 20}, "pulsar_metrics_interval"),
]

RELAY = {"pulsar_relay_url": "https://relay.example.org", "pulsar_relay_username": "pulsar",
         "pulsar_relay_password": "relay-password-0123456789"}
CASES += [
    ("relay URL without scheme", {**RELAY, "pulsar_relay_url": "relay.example.org"}, "pulsar_relay_url"),
    ("relay URL over plain HTTP", {**RELAY, "pulsar_relay_url": "http://relay.example.org"}, "pulsar_relay_url"),
    ("relay without a password", {**RELAY, "pulsar_relay_password": ""}, "pulsar_relay_password"),
    ("relay combined with an AMQP broker", {**RELAY, "pulsar_message_queue_url": "amqp://p:pw@rabbit/pulsar"},
     "pulsar_message_queue_url"),
]

# galaxyproject.pulsar's settings this collection does not do: refused with the replacement.
CASES += [
    ("galaxyproject.pulsar's TLS in Pulsar itself", {"pulsar_ssl_pem": "/etc/ssl/certs/host.pem"}, "pulsar_nginx_tls"),
    ("webless runner without a message queue", {"pulsar_systemd_runner": "webless"}, "pulsar_systemd_runner"),
    ("Pulsar from git", {"pulsar_package_name": "git+https://github.com/galaxyproject/pulsar"},
     "pulsar_package_name"),
    ("code and configuration owned by another user", {"pulsar_privsep_user": "galaxy"}, "pulsar_privsep_user"),
    ("pip arguments", {"pip_extra_args": "--index-url https://pypi.example.org/simple"}, "pip_extra_args"),
    ("uWSGI options", {"pulsar_uwsgi_options": {"processes": 4}}, "pulsar_uwsgi_options"),
    ("a group that is root in disguise", {"pulsar_user": {"name": "pulsar", "groups": ["docker"]}}, "docker"),
    ("unit environment item with a space", {"pulsar_systemd_environment": ["A=1 B=2"]}, "pulsar_systemd_environment"),
    ("job metrics entry that is no plugin", {"pulsar_job_metrics_plugins": [{"args": {}}]},
     "pulsar_job_metrics_plugins"),
]

# Galaxy's names of this host (issue 18).
CASES += [
    ("destination id Galaxy and TPV cannot take", {"pulsar_destination_id": "pulsar.example.org"},
     "pulsar_destination_id"),
    ("destination id of Galaxy's local destination", {"pulsar_destination_id": "local"}, "pulsar_destination_id"),
    ("one queue prefix over several managers",
     {"pulsar_message_queue_url": "amqp://pulsar:pw@rabbit/pulsar",
      "pulsar_yaml_config": {"amqp_key_prefix": "site_", "managers": {"_default_": {}, "big": {}}}},
     "amqp_key_prefix"),
]

# The relay server's role (playbook galaxy_ops.pulsar.relay on the same host);
# molecule/test_vars.yml holds valid secrets, each case spoils one.
RELAY_SERVER_CASES = [
    ("no JWT secret", {"pulsar_relay_jwt_secret": ""}, "pulsar_relay_jwt_secret"),
    ("placeholder admin password", {"pulsar_relay_admin_password": "your_relay_admin_password_here"},
     "pulsar_relay_admin_password"),
    ("no message store password", {"pulsar_relay_store_password": ""}, "pulsar_relay_store_password"),
    ("account without a password", {"pulsar_relay_users": [{"name": "pulsar", "password": ""}]},
     "pulsar_relay_users"),
]


def assert_refused_in_preflight(run, variable):
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    tasks = re.findall(r"TASK \[(galaxy_ops\.pulsar\.pulsar(?:_nginx|_relay|_galaxy)? : [^\]]+)\]", out)
    assert tasks, f"no task of the collection ran: {out}"
    last_task = tasks[-1]
    assert re.search(r": (Validating arguments|Check|Refuse)", last_task), out
    assert variable in out.split(f"TASK [{last_task}]")[-1], out
    assert re.search(r"changed=0\s", out), out


@pytest.mark.parametrize("case,extra_vars,variable", RELAY_SERVER_CASES, ids=[c[0] for c in RELAY_SERVER_CASES])
def test_bad_relay_server_input_refused_before_any_change(ansible_playbook, case, extra_vars, variable):
    run = ansible_playbook(REPO / "playbooks/relay.yml", {"relay_play_hosts": "pulsarservers", **extra_vars})
    assert_refused_in_preflight(run, variable)


@pytest.mark.parametrize("case,extra_vars,variable", CASES, ids=[c[0] for c in CASES])
def test_bad_input_refused_before_any_change(ansible_playbook, case, extra_vars, variable):
    run = ansible_playbook(REPO / "pulsar-playbook.yml", extra_vars)
    assert_refused_in_preflight(run, variable)


# Galaxy's side (playbook galaxy_ops.pulsar.galaxy_job_conf, this host as Galaxy's) with two Pulsar hosts that
# exist only in the inventory: only their variables are read, before anything changes.
GALAXY_CASES = [
    ("two Pulsars under one queue prefix on one broker vhost", {}, "same_"),
    ("a tool routed to no destination", {"pulsar_galaxy_tools": [{"id": "bwa", "destination": "mq_c"}]}, "mq_c"),
    ("a default destination that does not exist", {"pulsar_galaxy_default_destination": "tpv"},
     "pulsar_galaxy_default_destination"),
    ("an extra MQ destination without its jobs directory",
     {"pulsar_galaxy_extra_destinations": [{"id": "mq_big", "amqp_url": "amqp://u:pw@rabbit:5672/pulsar"}]},
     "mq_big"),
]


@pytest.mark.parametrize("case,extra_vars,message", GALAXY_CASES, ids=[c[0] for c in GALAXY_CASES])
def test_bad_galaxy_side_refused_before_any_change(host, ansible_playbook, tmp_path, case, extra_vars, message):
    url = "amqp://u:pw@rabbit:5672/pulsar"
    prefix_b = "same_" if not extra_vars else "b_"
    inventory = tmp_path / "galaxy.ini"
    inventory.write_text(
        "[pulsarservers]\n"
        f"""mq-a pulsar_yaml_config='{{"message_queue_url": "{url}", "amqp_key_prefix": "same_"}}'\n"""
        f"""mq-b pulsar_yaml_config='{{"message_queue_url": "{url}", "amqp_key_prefix": "{prefix_b}"}}'\n"""
        f"[galaxyservers]\n{host.backend.get_hostname()}\n")
    run = ansible_playbook("galaxy_ops.pulsar.galaxy_job_conf",
                           {"pulsar_galaxy_job_conf_path": "/srv/galaxy/job_conf.yml",
                            "pulsar_galaxy_galaxy_url": "http://galaxy.example.org", **extra_vars},
                           "--check", inventory=[os.environ["MOLECULE_INVENTORY_FILE"], inventory])
    assert_refused_in_preflight(run, message)
    assert "u:pw@" not in run.stdout  # the broker URL's password


def test_broker_password_not_shown(ansible_playbook):
    run = ansible_playbook(REPO / "pulsar-playbook.yml", {"pulsar_message_queue_url": "amqp://pulsar:s3cret-pw@/pulsar"})
    out = run.stdout + run.stderr
    assert run.returncode != 0 and "amqp://pulsar:***@/pulsar" in out, out
    assert "s3cret-pw" not in out


# Broker URLs in the shapes real sites and the GTN tutorial use: the preflight
# accepts them (a check-mode run of the preflight alone changes nothing).
REAL_BROKER_URLS = [
    "pyamqp://galaxy_au:s3cret-pw@mq.example.org:5671//pulsar/galaxy_au?ssl=1",
    "amqp://pulsar:s3cret-pw@mq.example.org:5672//",
    "amqp://pulsar:s3cret-pw@[2001:db8::10]:5672/pulsar",
    "amqp://pulsar:s3cret-pw@mq1.example.org/pulsar;amqp://pulsar:s3cret-pw@mq2.example.org/pulsar",
]


@pytest.mark.parametrize("url", REAL_BROKER_URLS)
def test_real_sites_broker_urls_pass_the_preflight(ansible_playbook, url):
    run = ansible_playbook(REPO / "pulsar-playbook.yml", {"pulsar_message_queue_url": url},
                           "--check", "--tags", "pulsar_preflight")
    out = run.stdout + run.stderr
    assert run.returncode == 0 and re.search(r"failed=0\s", out), out
    assert "Check the message queue URL" in out, out
    assert "s3cret-pw" not in out


def test_migrated_group_vars_pass_with_a_warning_for_what_is_not_used(ansible_playbook):
    # usegalaxy.eu's pulsar_user, the GTN tutorial's leftovers and a typo: accepted, and named.
    extra = {"pulsar_user": {"name": "pulsar", "create_home": False, "shell": "/bin/bash", "home": "/mnt/pulsar"},
             "pulsar_pip_install": True, "pulsar_pycurl_ssl_library": "openssl", "pulsar_stagin_dir": "/x"}
    run = ansible_playbook(REPO / "pulsar-playbook.yml", extra, "--check", "--tags", "pulsar_preflight")
    out = run.stdout + run.stderr
    assert run.returncode == 0 and re.search(r"failed=0\s", out), out
    assert "Report variables the collection takes without using" in out, out
    warning = out.split("Report variables the collection takes without using")[1]
    assert "pulsar_pip_install: not needed" in warning, warning
    assert "reads pulsar_stagin_dir" in warning, warning
    assert "pulsar_pycurl_ssl_library" not in warning.split("TASK [")[0], warning


def test_galaxyproject_nginx_variables_are_named_and_its_tls_refused_without_ours(ansible_playbook):
    """galaxyproject.nginx's group_vars: a name pulsar_nginx does not read is named; its TLS settings without
    pulsar_nginx_tls are refused (Pulsar would be served in clear), and accepted with it."""
    extra = {"nginx_flavor": "full", "nginx_ssl_servers": ["pulsar-proxy"],
             "nginx_conf_ssl_certificate": "/etc/ssl/certs/pulsar.crt"}
    run = ansible_playbook(REPO / "pulsar-playbook.yml", extra, "--check", "--tags", "pulsar_preflight")
    words = " ".join(plain(run.stdout + run.stderr).split())
    assert run.returncode != 0, words
    assert "nginx_conf_ssl_certificate, nginx_ssl_servers ask galaxyproject.nginx for TLS" in words, words
    run = ansible_playbook(REPO / "pulsar-playbook.yml", dict(extra, pulsar_nginx_tls=True,
                                                              pulsar_nginx_tls_self_signed=True),
                           "--check", "--tags", "pulsar_preflight")
    words = " ".join(plain(run.stdout + run.stderr).split())
    assert run.returncode == 0 and re.search(r"failed=0\s", words), words
    # (the callback quotes the message, doubling its apostrophes)
    assert "pulsar_nginx does not read nginx_conf_ssl_certificate, nginx_flavor, nginx_ssl_servers (" in words, words


def test_a_job_limit_pulsar_ignores_is_named(ansible_playbook):
    """Pulsar 0.16 starts every queued_python job at once: a num_concurrent_jobs an admin set is named."""
    extra = {"pulsar_yaml_config": {"private_token": "x" * 40, "managers": {"_default_": {"num_concurrent_jobs": 2}}}}
    run = ansible_playbook(REPO / "pulsar-playbook.yml", extra, "--check", "--tags", "pulsar_preflight")
    out = run.stdout + run.stderr
    assert run.returncode == 0 and re.search(r"failed=0\s", out), out
    words = " ".join(plain(out).split())  # the message as one line: the callback wraps and colours each line
    assert "sets num_concurrent_jobs (_default_: 2), but Pulsar 0.16.0" in words, out
    assert "queued_python manager starts every job at once" in words, out
    assert "(pulsar_memory_max, pulsar_process_memory_max, pulsar_tasks_max, pulsar_cpu_weight" in words, out


def test_a_role_parameter_of_the_pulsar_role_alone_is_checked(ansible_playbook, tmp_path):
    """pulsar_nginx runs the pulsar role's checks first, and the pulsar role skips them when its settings are
    the same: a role parameter only the pulsar role sees is still checked."""
    for name in ("group_vars", "templates"):
        (tmp_path / name).symlink_to(REPO / name)
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "The tutorial's roles, with a role parameter for the pulsar role only",
        "hosts": "pulsarservers", "gather_subset": ["min"],
        "roles": [{"role": "galaxy_ops.pulsar.pulsar_nginx", "become": True},
                  {"role": "galaxy_ops.pulsar.pulsar", "become": True, "vars": {"pulsar_staging_dir": "staging"}}],
    }]))
    run = ansible_playbook(playbook, {}, "--check", "--tags", "pulsar_preflight")
    assert_refused_in_preflight(run, "pulsar_staging_dir")


def test_no_service_user(host):
    assert not host.user("pulsar").exists


def test_no_directories_or_unit(host):
    for path in ("/mnt/pulsar", "/etc/systemd/system/pulsar.service"):
        assert not host.file(path).exists, path


def test_no_packages_installed(host):
    for pkg in ("nginx", "build-essential", "python3-venv", "libssl-dev"):
        assert not host.package(pkg).is_installed, pkg


def test_check_mode_on_a_new_host_passes_and_changes_nothing(host, ansible_playbook):
    # A real new host has package lists; the minimal test image has none. And
    # it is as bare as debootstrap's minbase with sshd: without python3-apt
    # (apt's check mode needs it) and iproute2, which the base image adds.
    # Last in this file: the other tests expect the image as it is.
    host.run_test("apt-get update -qq")
    host.run_test("dpkg --purge python3-apt iproute2")
    run = ansible_playbook(REPO / "pulsar-playbook.yml", {}, "--check", "--diff")
    assert run.returncode == 0, run.stdout + run.stderr
    assert not host.user("pulsar").exists
    assert not host.package("nginx").is_installed
    assert not host.package("python3-apt").is_installed


# Then the host is converged for real, by the oldest ansible-core that
# meta/runtime.yml claims (tools/setup.sh puts it in .venv-oldest), and a job
# passes: the range the collection claims is the range tested.
OLDEST = Path(os.environ["GOP_OLDEST_ANSIBLE"])


def test_oldest_ansible_core_converges_the_bare_host_and_a_job_passes(host, ansible_playbook):
    # One test: a later one could run first (pytest groups tests by host).
    version = subprocess.run([str(OLDEST / "ansible"), "--version"], capture_output=True, text=True, check=True)
    claimed = re.search(r'">=([0-9]+\.[0-9]+)', (REPO / "meta/runtime.yml").read_text()).group(1)
    assert re.search(rf"core {re.escape(claimed)}\.[0-9]+\]", version.stdout), version.stdout
    run = ansible_playbook(REPO / "pulsar-playbook.yml", {}, executable=str(OLDEST / "ansible-playbook"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"failed=0\s", run.stdout), run.stdout
    check = pulsar_check_runner(host, read_pulsar(host))("http://localhost/")
    assert check.rc == 0, check.stdout + check.stderr


# Last: a galaxyproject.pulsar site's group_vars (molecule/preflight/upstream),
# with no other inventory variables, converge the same host into that role's
# layout below pulsar_root; the settings only that role had are in effect.
UPSTREAM = MOLECULE_DIR / "preflight" / "upstream"


def test_galaxyproject_pulsar_group_vars_converge_and_a_job_passes(host, ansible_playbook, tmp_path):
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    shutil.copy(Path(os.environ["MOLECULE_INVENTORY_FILE"]), inventory / "hosts.yml")
    run = ansible_playbook(UPSTREAM / "playbook.yml", {}, inventory=inventory)
    out = run.stdout + run.stderr
    assert run.returncode == 0 and re.search(r"failed=0\s", out), out
    assert "pulsar_pip_install: not needed" in out, out
    again = ansible_playbook(UPSTREAM / "playbook.yml", {}, inventory=inventory)
    assert again.returncode == 0 and re.search(r"changed=0\s", again.stdout), again.stdout

    deployed = read_pulsar(host)
    app = deployed["app_config"]
    assert deployed["dirs"]["config"] == "/mnt/gtn/config" and deployed["dirs"]["venv"] == "/mnt/gtn/venv"
    assert (app["staging_directory"], app["persistence_directory"], app["tool_dependency_dir"]) == (
        "/mnt/gtn/files/staging", "/mnt/gtn/files/persisted_data", "/mnt/gtn/deps")
    for path in (app["staging_directory"], app["persistence_directory"], app["tool_dependency_dir"]):
        assert host.file(path).is_directory and host.file(path).user == "pulsar", path
    metrics = yaml.safe_load(host.file(f"/mnt/gtn/config/{app['job_metrics_config_file']}").content_string)
    assert metrics == [{"type": "core"}, {"type": "cpuinfo", "verbose": "true"}, {"type": "uname"}]
    unit = host.check_output("systemctl show pulsar -P MemoryMax -P LimitNOFILE -P Environment")
    assert "4294967296" in unit and "4096" in unit and "GOP_MIGRATED=yes" in unit, unit
    # pulsar_pycurl_ssl_library: pycurl built against the host's libcurl (with OpenSSL), not PyPI's wheel and
    # the libcurl it brings.
    pycurl = host.check_output("/mnt/gtn/venv/bin/python -c 'import pycurl; print(pycurl.version)'")
    libcurl = host.check_output("curl-config --version").split()[-1]
    assert f"libcurl/{libcurl} OpenSSL/" in pycurl, (pycurl, libcurl)
    check = pulsar_check_runner(host, deployed)("http://localhost/")
    assert check.rc == 0, check.stdout + check.stderr


# After the galaxyproject.pulsar converge: the role skips the user and group
# modules when its look finds the account as asked, so an account changed by
# hand must still be put back (primary group, shell, comment, supplementary
# groups), and the next run must change nothing.
def test_an_account_changed_by_hand_is_put_back(host, ansible_playbook, tmp_path):
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    shutil.copy(Path(os.environ["MOLECULE_INVENTORY_FILE"]), inventory / "hosts.yml")
    asked = {"pulsar_user": {"name": "pulsar", "create_home": False, "groups": ["video"]}}
    run = ansible_playbook(UPSTREAM / "playbook.yml", asked, inventory=inventory)
    assert run.returncode == 0 and re.search(r"failed=0\s", run.stdout), run.stdout + run.stderr
    host.run_expect([0], "usermod --gid users --shell /bin/sh --comment 'changed by hand' pulsar")
    host.run_expect([0], "gpasswd --delete pulsar video")
    again = ansible_playbook(UPSTREAM / "playbook.yml", asked, inventory=inventory)
    assert again.returncode == 0 and re.search(r"failed=0\s", again.stdout), again.stdout + again.stderr
    account = host.user("pulsar")
    assert (account.group, account.shell, account.gecos) == ("pulsar", "/usr/sbin/nologin", "Pulsar job server")
    assert "video" in account.groups, account.groups
    last = ansible_playbook(UPSTREAM / "playbook.yml", asked, inventory=inventory)
    assert last.returncode == 0 and re.search(r"changed=0\s", last.stdout), last.stdout

"""Pulsar deployed from the tutorial's playbook and group_vars: the service itself."""

import pytest

testinfra_hosts = ["pulsarservers"]


def test_service_active_and_enabled(host, pulsar):
    svc = host.service("pulsar")
    assert svc.is_enabled
    assert svc.is_running, host.run("journalctl -u pulsar --no-pager -n 50").stdout


def test_listens_on_configured_address(host, pulsar):
    assert host.socket(f"tcp://{pulsar['host']}:{pulsar['port']}").is_listening


def test_runs_as_service_user(host, pulsar):
    pid = host.run("systemctl show -p MainPID --value pulsar").stdout.strip()
    assert host.run(f"ps -o user= -p {pid}").stdout.strip() == "pulsar"


@pytest.mark.parametrize(
    "key,owner,group,mode",
    [
        ("venv", "root", "root", 0o755),
        ("config", "root", "pulsar", 0o750),
        ("staging", "pulsar", "pulsar", 0o750),
    ],
)
def test_directories(host, pulsar, key, owner, group, mode):
    d = host.file(pulsar["dirs"][key])
    assert d.is_directory
    assert (d.user, d.group, d.mode) == (owner, group, mode)


def test_app_yml_readable_only_by_service_group(host, pulsar):
    """Root's, so that Pulsar (and its jobs) read it but cannot change it."""
    f = host.file(pulsar["app_yml"])
    assert (f.user, f.group, f.mode) == ("root", "pulsar", 0o640)
    assert host.run(f"runuser -u nobody -- cat {pulsar['app_yml']}").rc != 0
    assert host.run(f"runuser -u pulsar -- test -w {pulsar['app_yml']}").rc != 0


def test_app_yml_has_absolute_paths(host, pulsar):
    conf = pulsar["app_config"]
    assert conf["staging_directory"] == pulsar["dirs"]["staging"]
    for key in ("persistence_directory", "tool_dependency_dir"):
        assert conf[key].startswith("/")


def test_admin_dependency_resolvers_template_used(host, pulsar):
    # The tutorial's templates/dependency_resolvers_conf.xml.j2 wins over the role's default.
    xml = host.file(f"{pulsar['dirs']['config']}/dependency_resolvers_conf.xml").content_string
    assert '<conda auto_install="True" auto_init="True"/>' in xml
    assert "galaxy_packages" not in xml


def test_optional_dependencies_importable(host, pulsar):
    venv = pulsar["dirs"]["venv"]
    cmd = host.run(f"{venv}/bin/python -c 'import OpenSSL, pycurl, kombu, requests, psutil'")
    assert cmd.rc == 0, cmd.stderr
    # drmaa imports only with a DRMAA library configured, uwsgi only inside uwsgi.
    assert host.run(f"{venv}/bin/pip show drmaa uwsgi").rc == 0


def test_token_not_in_unit_or_process_arguments(host, pulsar):
    token = pulsar["token"]
    assert token not in host.file("/etc/systemd/system/pulsar.service").content_string
    assert token not in host.run("ps -eo args").stdout


def test_real_job_passes_direct(pulsar, pulsar_check):
    """pulsar-check stages input files in, runs a job, stages outputs back."""
    cmd = pulsar_check(f"http://localhost:{pulsar['port']}/")
    assert cmd.rc == 0, cmd.stdout + cmd.stderr


def test_wrong_token_refused_direct(pulsar, pulsar_check):
    cmd = pulsar_check(f"http://localhost:{pulsar['port']}/", token="not-the-token")
    assert cmd.rc != 0
    assert "401" in cmd.stdout + cmd.stderr


def test_systemd_sandbox_in_effect(host):
    props = dict(
        line.split("=", 1)
        for line in host.check_output(
            "systemctl show pulsar -p ProtectSystem -p NoNewPrivileges -p PrivateTmp -p ProtectHome "
            "-p CapabilityBoundingSet -p ReadWritePaths"
        ).splitlines()
    )
    assert props["ProtectSystem"] == "strict"
    assert props["NoNewPrivileges"] == "yes"
    assert props["PrivateTmp"] == "yes"
    assert props["ProtectHome"] == "yes"
    assert props["CapabilityBoundingSet"] == ""
    assert "/mnt/pulsar/staging" in props["ReadWritePaths"]


def test_systemd_exposure_score_at_most_3(host):
    out = host.check_output("systemd-analyze security pulsar --no-pager")
    score = float(out.rsplit("Overall exposure level for pulsar.service:", 1)[1].split()[0])
    assert score <= 3.0, out


def test_token_not_in_ansible_output(ansible_playbook, pulsar):
    """A re-run with --diff at default verbosity: changed=0 and the token nowhere in the output."""
    from conftest import REPO

    run = ansible_playbook(REPO / "pulsar-playbook.yml", {}, "--diff")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "changed=0" in run.stdout
    assert pulsar["token"] not in run.stdout + run.stderr


def test_converge_puts_back_what_drifted(host, ansible_playbook, pulsar):
    """The role skips pip, apt and the file module only when nothing differs: a package
    that came with pulsar-app's [web] extra (gunicorn), an OS package and a directory's
    mode that drifted are all put back."""
    from conftest import REPO

    python = f"{pulsar['dirs']['venv']}/bin/python"
    staging = pulsar["dirs"]["staging"]
    host.check_output(f"{python} -m pip uninstall -y -q gunicorn")
    # --check shows the install it would do: uv's dry run (uv is the default installer, auto),
    # and does not do it.
    check = ansible_playbook(REPO / "pulsar-playbook.yml", {}, "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    install = check.stdout.split("Install into the virtualenv with uv]", 1)
    assert len(install) == 2 and "changed:" in install[1].split("TASK [", 1)[0], check.stdout
    assert host.run(f"{python} -c 'import gunicorn'").rc != 0
    host.check_output("DEBIAN_FRONTEND=noninteractive apt-get remove -y -q libcurl4-openssl-dev")
    host.check_output(f"chmod 0700 {staging}")
    run = ansible_playbook(REPO / "pulsar-playbook.yml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "changed=0" not in run.stdout
    assert host.run(f"{python} -c 'import gunicorn'").rc == 0
    assert host.package("libcurl4-openssl-dev").is_installed
    assert host.file(staging).mode == 0o750
    assert host.service("pulsar").is_running


def test_units_put_back_and_a_timer_turned_off_goes(host, ansible_playbook):
    """One look at all units (galaxy_ops.pulsar.systemd_units): nginx stopped and the cleanup timer stopped and
    disabled are put back; with pulsar_cleanup false the timer is stopped, disabled and its file removed, and
    systemd no longer lists it; turned on again, it comes back."""
    from conftest import REPO

    timer = "pulsar-cleanup.timer"
    host.check_output(f"systemctl stop nginx && systemctl disable --now {timer}")
    run = ansible_playbook(REPO / "pulsar-playbook.yml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert host.service("nginx").is_running and host.service("nginx").is_enabled, run.stdout
    assert host.service(timer).is_running and host.service(timer).is_enabled, run.stdout

    off = ansible_playbook(REPO / "pulsar-playbook.yml", {"pulsar_cleanup": False})
    assert off.returncode == 0, off.stdout + off.stderr
    assert not host.file(f"/etc/systemd/system/{timer}").exists, off.stdout
    assert not host.service(timer).is_running, off.stdout
    assert timer not in host.check_output("systemctl list-units --all --no-legend 'pulsar-*'"), off.stdout

    on = ansible_playbook(REPO / "pulsar-playbook.yml")
    assert on.returncode == 0, on.stdout + on.stderr
    assert host.service(timer).is_running and host.service(timer).is_enabled, on.stdout

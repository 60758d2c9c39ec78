"""Rootless mode (pulsar_rootless): the pulsar role's layout, owner, supervisor and trust for an account without
root, rendered by ansible-core's own templating from the role's defaults and vars."""

import pytest

from test_build_packages import render

FACTS = {"distribution": "Debian", "distribution_major_version": "12", "os_family": "Debian",
         "user_id": "hpc", "user_dir": "/home/hpc", "user_gid": 3000}
USER_MANAGER = {"group": "hpcgroup", "user_manager": "yes", "linger": "yes"}


def rootless(**admin):
    """Rootless, on the role's defaults (the tutorial's group_vars set a layout under /mnt/pulsar)."""
    return {"without_tutorial": True, "pulsar_rootless": True, "ansible_facts": FACTS,
            "__pulsar_rootless_host": USER_MANAGER, **admin}


def test_everything_is_the_accounts_in_its_home():
    server, user, owner, dirs, unit = render("{{ pulsar_server_dir }}", "{{ _pulsar_user }}", "{{ _pulsar_owner }}",
                                             "{{ _pulsar_directories }}", "{{ _pulsar_unit_path }}", **rootless())
    assert server == "/home/hpc/pulsar"
    assert (user["name"], user["group"], user["home"]) == ("hpc", "hpcgroup", "/home/hpc")
    assert owner == "hpc" and {d["owner"] for d in dirs} == {"hpc"}
    assert {d["path"]: d["mode"] for d in dirs}["/home/hpc/pulsar/config"] == "0700"
    assert unit == "/home/hpc/.config/systemd/user/pulsar.service"
    assert render("{{ pulsar_server_dir }}", **rootless(pulsar_root="/shared/hpc/pulsar")) == "/shared/hpc/pulsar"


def test_root_mode_is_unchanged():
    server, owner, unit, supervisor = render("{{ pulsar_server_dir }}", "{{ _pulsar_owner }}", "{{ _pulsar_unit_path }}",
                                             "{{ _pulsar_supervisor }}", ansible_facts=FACTS,
                                             without_tutorial=True)
    assert (server, owner, unit, supervisor) == ("/opt/pulsar", "root", "/etc/systemd/system/pulsar.service", "system")


@pytest.mark.parametrize("host, setting, supervisor", [
    (USER_MANAGER, "auto", "systemd"),
    ({"group": "hpc", "user_manager": "no", "linger": "no"}, "auto", "cron"),
    (USER_MANAGER, "cron", "cron"),
    ({"group": "hpc", "user_manager": "yes", "linger": "no"}, "auto", "systemd"),  # refused by the preflight
])
def test_the_supervisor_follows_what_the_host_has(host, setting, supervisor):
    assert render("{{ _pulsar_supervisor }}", **rootless(__pulsar_rootless_host=host,
                                                         pulsar_rootless_supervisor=setting)) == supervisor
    assert render("{{ _pulsar_supervisor }}", **rootless(pulsar_systemd=False)) == "none"


def test_no_os_packages_and_no_system_sandbox():
    # uwsgi (the tutorial's) must be built, but the account cannot install compilers.
    builds, packages, sandbox = render("{{ _pulsar_source_builds }}", "{{ _pulsar_build_os_packages }}",
                                       "{{ _pulsar_sandbox }}", **rootless(pulsar_optional_dependencies=["uwsgi"]))
    assert builds == ["uwsgi"] and packages == [] and sandbox == "off"


def test_site_cas_go_into_the_accounts_bundle():
    bundle, env, pip = render("{{ _pulsar_ca_bundle }}", "{{ _pulsar_service_environment }}",
                              "{{ pulsar_pip_ca_bundle }}", **rootless(pulsar_ca_certificates=["/x/site-ca.crt"]))
    assert bundle == "/home/hpc/pulsar/config/ca-bundle.pem"
    assert env["REQUESTS_CA_BUNDLE"] == bundle and pip == bundle
    assert render("{{ _pulsar_ca_bundle }}", **rootless(pulsar_ca_certificates=[])) == \
        "/etc/ssl/certs/ca-certificates.crt"


def test_pip_trusts_the_bundle_before_the_platform_is_known():
    """Argument validation templates pulsar_pip_ca_bundle's default before the platform's variables are read."""
    certs = {"pulsar_ca_certificates": ["/x/site-ca.crt"], "without_platform": True}
    assert render("{{ pulsar_pip_ca_bundle }}", ansible_facts=FACTS, **certs) == "/etc/ssl/certs/ca-certificates.crt"
    assert render("{{ pulsar_pip_ca_bundle }}", **rootless(**certs)) == "/home/hpc/pulsar/config/ca-bundle.pem"

"""Unit tests of plugins/filter/compat.py: galaxyproject.pulsar's variables and unknown names."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
SPEC = importlib.util.spec_from_file_location("galaxy_ops_compat_filters", ROOT / "plugins/filter/compat.py")
compat = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(compat)

MQ = {"pulsar_yaml_config": {"message_queue_url": "pyamqp://u:p@mq:5671//pulsar/x?ssl=1"}}


def names(report, kind):
    return [item["name"] for item in report[kind]]


def test_the_gtn_tutorials_group_vars_pass_without_a_word():
    gtn = dict(MQ, pulsar_root="/mnt/pulsar", pulsar_systemd_runner="webless", pulsar_create_user=True,
               pulsar_user={"name": "pulsar", "shell": "/bin/bash"}, pulsar_systemd=True,
               pulsar_pycurl_ssl_library="openssl", pulsar_optional_dependencies=["pycurl"],
               pulsar_job_metrics_plugins=[{"type": "core"}], pulsar_staging_dir="/mnt/pulsar/files/staging")
    report = compat.pulsar_variable_report(gtn)
    assert report["refused"] == [] and report["unknown"] == []
    assert report["warned"] == []


def test_pip_install_of_the_tutorial_is_a_warning():
    report = compat.pulsar_variable_report({"pulsar_pip_install": True})
    assert names(report, "warned") == ["pulsar_pip_install"] and report["refused"] == []


@pytest.mark.parametrize("given,name,word", [
    ({"pulsar_ssl_pem": "/etc/ssl/host.pem"}, "pulsar_ssl_pem", "pulsar_nginx_tls"),
    ({"pulsar_uwsgi_options": {"processes": 4}}, "pulsar_uwsgi_options", "gunicorn"),
    ({"pulsar_root": "/mnt/pulsar", "pulsar_server_dir": "/mnt/pulsar/server"}, "pulsar_root", "keep one"),
    ({"pulsar_systemd_runner": "webless"}, "pulsar_systemd_runner", "message_queue_url"),
    ({"pulsar_systemd_runner": "circus"}, "pulsar_systemd_runner", "paste, uwsgi or webless"),
    ({"pulsar_package_name": "git+https://github.com/galaxyproject/pulsar"}, "pulsar_package_name", "pulsar-app"),
    ({"pulsar_privsep_user": "galaxy"}, "pulsar_privsep_user", "root"),
    ({"pulsar_privsep_user": {"name": "galaxy"}}, "pulsar_privsep_user", "root"),
    ({"pulsar_systemd_state": "stopped"}, "pulsar_systemd_state", "pulsar_systemd: false"),
    ({"pulsar_systemd_enabled": False}, "pulsar_systemd_enabled", "pulsar_systemd: false"),
    ({"pulsar_dependency_resolvers": [{"type": "conda"}]}, "pulsar_dependency_resolvers", "dependency_resolution"),
    ({"pip_extra_args": "--index-url https://mirror/simple"}, "pip_extra_args", "pulsar_pip_index_url"),
])
def test_what_cannot_be_honoured_is_refused_with_the_replacement(given, name, word):
    report = compat.pulsar_variable_report(given)
    assert names(report, "refused") == [name]
    assert word in report["refused"][0]["reason"]


@pytest.mark.parametrize("given", [
    {"pulsar_uwsgi_options": {}}, {"pulsar_privsep_user": "root"}, {"pulsar_systemd_state": "started"},
    {"pulsar_systemd_enabled": "yes"}, {"pulsar_package_name": "pulsar-app"}, dict(MQ, pulsar_systemd_runner="webless"),
    {"pulsar_root": "/mnt/pulsar", "pulsar_server_dir": "/mnt/pulsar"}, {"pulsar_root": "", "pulsar_server_dir": "/x"},
])
def test_upstream_defaults_are_accepted(given):
    report = compat.pulsar_variable_report(given)
    assert (report["refused"], report["warned"], report["unknown"], report["warning"]) == ([], [], [], "")


def test_paste_is_served_by_gunicorn_with_a_warning():
    assert names(compat.pulsar_variable_report({"pulsar_systemd_runner": "paste"}), "warned") == [
        "pulsar_systemd_runner"]


def test_unknown_pulsar_names_are_listed_and_other_names_are_not():
    report = compat.pulsar_variable_report({"pulsar_stagin_dir": "/x", "pulsar_port": 8913, "pip_index": "x",
                                            "pulsar_nginx_tls": True, "pulsar_relay_users": []})
    assert report["unknown"] == ["pulsar_stagin_dir"]
    assert "pulsar_stagin_dir" in report["warning"] and report["refusal"] == ""


def test_every_roles_options_are_known():
    known = compat.known_variables()
    for name in ("pulsar_server_dir", "pulsar_nginx_tls", "pulsar_relay_users", "pulsar_galaxy_tools",
                 "pulsar_endpoint", "pulsar_root", "nginx_servers"):
        assert name in known, name


def test_no_value_is_shown():
    report = compat.pulsar_variable_report({"pulsar_ssl_pem": "s3cret-path", "pip_extra_args": "--token s3cret"})
    assert "s3cret" not in str(report)


def test_the_role_reads_only_the_values_the_rules_need():
    defined = ["pulsar_port", "pulsar_relay_password", "pulsar_systemd_runner", "pulsar_yaml_config", "pip_x"]
    assert compat.pulsar_variables_to_read(defined) == ["pulsar_systemd_runner", "pulsar_yaml_config"]
    report = compat.pulsar_variable_report(defined, {"pulsar_systemd_runner": "webless", "pulsar_yaml_config": {}})
    assert names(report, "refused") == ["pulsar_systemd_runner"]


@pytest.mark.parametrize("entry,plugin", [
    ({"type": "cpuinfo", "verbose": True}, {"type": "cpuinfo", "verbose": True}),
    ({"name": "cpuinfo", "args": {"verbose": "true"}}, {"type": "cpuinfo", "verbose": "true"}),
    # galaxyproject.pulsar's own default entry.
    ({"name": "cpuinfo", "args": [{"name": "verbose", "value": "true"}]}, {"type": "cpuinfo", "verbose": "true"}),
    ({"name": "core"}, {"type": "core"}),
    ("uname", {"type": "uname"}),
])
def test_job_metrics_plugins_in_galaxys_form(entry, plugin):
    assert compat.job_metrics_plugin(entry) == plugin


def test_docs_migration_names_every_upstream_variable():
    table = (ROOT / "docs/migration.md").read_text()
    assert [name for name in compat.UPSTREAM if f"`{name}`" not in table] == []


def test_the_repositorys_own_inventories_and_playbooks_set_no_unknown_name():
    import re

    files = [p for d in ("group_vars", "examples", "playbooks", "molecule") for p in (ROOT / d).rglob("*.yml")]
    keys = {m.group(1) for f in files for m in re.finditer(r"^\s*-?\s*(pulsar_[a-z_]+):", f.read_text(), re.M)}
    assert sorted(keys - set(compat.known_variables())) == []


@pytest.mark.parametrize("entry", [{"args": {}}, 42, {"name": "cpuinfo", "args": ["verbose"]}])
def test_a_job_metrics_entry_that_is_no_plugin_is_refused_by_name(entry):
    with pytest.raises(ValueError, match="pulsar_job_metrics_plugins"):
        compat.job_metrics_plugin(entry)


def test_more_upstream_names_are_refused_or_warned():
    report = compat.pulsar_variable_report({"pulsar_job_metrics_config_file": "x.yml", "pulsar_changeset_id": "abc",
                                            "pulsar_dirs": [], "pulsar_config_backup": True,
                                            "pulsar_install_environments": {"pycurl": {"PYCURL_SSL_LIBRARY": "nss"}}})
    assert names(report, "refused") == ["pulsar_changeset_id", "pulsar_job_metrics_config_file"]
    assert names(report, "warned") == ["pulsar_config_backup", "pulsar_dirs", "pulsar_install_environments"]


def test_only_the_values_of_rules_are_read():
    assert compat.pulsar_variables_to_read(["pulsar_job_metrics_plugins", "pulsar_ssl_pem", "pulsar_root"]) == [
        "pulsar_root"]

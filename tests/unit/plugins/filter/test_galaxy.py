"""Unit tests of plugins/filter/galaxy.py (Galaxy's job configuration as data)."""

import ast
import importlib.util
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleUndefinedVariable
from jinja2 import UndefinedError

ROOT = Path(__file__).resolve().parents[4]
SPEC = importlib.util.spec_from_file_location("galaxy_ops_galaxy_filters", ROOT / "plugins/filter/galaxy.py")
galaxy = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(galaxy)

SETTINGS = {"local_workers": 4, "runner_workers": 2, "transport_timeout": 300, "galaxy_url": "https://galaxy.test",
            "mq_runner_params": {"amqp_publish_retry": True}, "relay_runner_params": {},
            "destination_params": {"default_file_action": "transfer"},
            "mq_destination_params": {"default_file_action": "remote_transfer"}}


def test_staging_defaults_are_the_pulsar_roles():
    defaults = yaml.safe_load((ROOT / "roles/pulsar/defaults/main.yml").read_text())
    assert defaults["pulsar_server_dir"] == (
        "{{ pulsar_root or (ansible_facts.user_dir ~ '/pulsar' if pulsar_rootless | bool else '"
        + galaxy.PULSAR_SERVER_DIR + "') }}")
    assert defaults["pulsar_staging_dir"] == "{{ pulsar_server_dir }}" + galaxy.STAGING_BELOW_SERVER_DIR
    assert defaults["pulsar_port"] == galaxy.PULSAR_PORT
    assert (defaults["pulsar_memory_max"], defaults["pulsar_process_memory_max"]) == galaxy.PULSAR_MEMORY_LIMITS
    nginx = yaml.safe_load((ROOT / "roles/pulsar_nginx/defaults/main.yml").read_text())
    assert (nginx["pulsar_nginx_http_port"], nginx["pulsar_nginx_https_port"]) == (80, 443)


def _bare(destinations):
    """The destinations without their TPV entries."""
    return [{k: v for k, v in d.items() if k not in ("tpv", "host")} for d in destinations]


def test_one_rest_host_is_a_destination_named_after_it():
    hostvars = {"pulsar.test": {"private_token": "t0ken", "pulsar_nginx_tls": "yes",
                                "pulsar_nginx_server_name": "pulsar.example.org"}}
    assert _bare(galaxy.pulsar_destinations(["pulsar.test"], hostvars)) == [
        {"id": "pulsar_test", "url": "https://pulsar.example.org/", "private_token": "t0ken"}]


def test_hosts_get_their_mode_and_staging_directory():
    hostvars = {
        "mq-1": {"pulsar_message_queue_url": "amqp://p:pw@rabbit/pulsar", "pulsar_server_dir": "/srv/pulsar"},
        "mq.2": {"pulsar_yaml_config": {"message_queue_url": "amqp://p:pw@rabbit/pulsar",
                                        "staging_directory": "/scratch/staging"}},
        "relay": {"pulsar_relay_url": "https://relay.test//", "pulsar_relay_username": "u",
                  "pulsar_relay_password": "pw"},
        "rest": {"private_token": "t"},
    }
    out = _bare(galaxy.pulsar_destinations(list(hostvars), hostvars))
    assert [d["id"] for d in out] == ["mq_1", "mq_2", "relay", "rest"]
    # Two hosts on one broker vhost: each on queues of its own.
    assert out[0] == {"id": "mq_1", "amqp_url": "amqp://p:pw@rabbit/pulsar", "amqp_key_prefix": "pulsar_mq_1_",
                      "jobs_directory": "/srv/pulsar/files/staging"}
    assert out[1]["amqp_key_prefix"] == "pulsar_mq_2_"
    assert out[1]["jobs_directory"] == "/scratch/staging"
    assert out[2]["relay_url"] == "https://relay.test"
    assert out[2]["jobs_directory"] == "/opt/pulsar/files/staging"
    assert out[3] == {"id": "rest", "url": "http://rest/", "private_token": "t"}


def test_one_runner_per_broker_and_per_relay_account():
    destinations = [
        {"id": "a", "amqp_url": "amqp://one", "jobs_directory": "/s"},
        {"id": "b", "amqp_url": "amqp://two", "jobs_directory": "/s"},
        {"id": "c", "amqp_url": "amqp://one", "jobs_directory": "/s", "params": {"default_file_action": "copy"}},
        {"id": "d", "relay_url": "https://r", "relay_username": "u", "relay_password": "p w",
         "relay_topic_prefix": "site", "jobs_directory": "/s"},
        {"id": "e", "url": "http://rest/", "private_token": "t"},
    ]
    config = galaxy.galaxy_job_config(destinations, SETTINGS)
    runners = {r["id"]: r for r in config["runners"]}
    assert list(runners) == ["local", "pulsar", "a_mq", "b_mq", "d_relay"]
    assert runners["a_mq"]["params"] == {"amqp_url": "amqp://one", "galaxy_url": "https://galaxy.test",
                                         "amqp_publish_retry": True}
    assert runners["d_relay"]["params"] == {"relay_url": "https://r", "relay_username": "u",
                                            "relay_password": "p w", "relay_topic_prefix": "site",
                                            "galaxy_url": "https://galaxy.test"}
    assert runners["pulsar"]["params"] == {"transport_timeout": 300}
    envs = {e["id"]: e for e in config["environments"]}
    assert envs["a"]["runner"] == envs["c"]["runner"] == "a_mq"
    assert envs["b"]["runner"] == "b_mq"
    assert envs["c"]["params"] == {"jobs_directory": "/s", "default_file_action": "copy"}
    assert envs["a"]["params"]["default_file_action"] == "remote_transfer"
    assert envs["e"] == {"id": "e", "runner": "pulsar",
                         "params": {"url": "http://rest/", "private_token": "t", "default_file_action": "transfer"}}


def test_without_rest_destinations_no_rest_runner():
    config = galaxy.galaxy_job_config([{"id": "a", "amqp_url": "amqp://one", "jobs_directory": "/s"}], SETTINGS)
    assert [r["id"] for r in config["runners"]] == ["local", "a_mq"]


def test_tools_go_to_the_first_destination_unless_told():
    destinations = [{"id": "first"}, {"id": "second"}]
    assert galaxy.galaxy_tool_destinations(["cat1", {"id": "bwa", "destination": "second"}, {"id": "x"}],
                                           destinations) == [
        {"id": "cat1", "destination": "first"}, {"id": "bwa", "destination": "second"},
        {"id": "x", "destination": "first"}]


def test_relay_credentials_are_text_and_a_broker_url_decides_the_kind():
    destinations = [{"id": "r", "relay_url": "https://r", "relay_username": 12345, "relay_password": 67890,
                     "jobs_directory": "/s"},
                    {"id": "both", "amqp_url": "amqp://one", "relay_url": "https://r", "jobs_directory": "/s"}]
    config = galaxy.galaxy_job_config(destinations, SETTINGS)
    relay = next(r for r in config["runners"] if r["id"] == "r_relay")
    assert relay["params"]["relay_username"] == "12345" and relay["params"]["relay_password"] == "67890"
    assert next(e for e in config["environments"] if e["id"] == "both")["runner"] == "both_mq"


def test_token_set_only_in_pulsar_yaml_config_is_galaxys():
    # galaxyproject.pulsar's group_vars carry the token in pulsar_yaml_config alone.
    hostvars = {"pulsar.test": {"pulsar_yaml_config": {"private_token": "upstream-style-t0ken"}}}
    assert galaxy.pulsar_destinations(["pulsar.test"], hostvars)[0]["private_token"] == "upstream-style-t0ken"


def test_the_endpoint_the_pulsar_role_published_is_used():
    # The pulsar role's own computation (pulsar_endpoint, set when it ran on
    # the host) wins over reading the host's inputs again.
    endpoint = {"mode": "mq", "staging_directory": "/from/the/role", "message_queue_url": "amqp://p:pw@mq/pulsar",
                "relay_url": "", "relay_username": "", "relay_password": "", "relay_topic_prefix": "",
                "private_token": ""}
    hostvars = {"mq": {"pulsar_endpoint": endpoint, "pulsar_server_dir": "/elsewhere"}}
    assert _bare(galaxy.pulsar_destinations(["mq"], hostvars)) == [
        {"id": "mq", "amqp_url": "amqp://p:pw@mq/pulsar", "jobs_directory": "/from/the/role"}]
    rest = dict(endpoint, mode="rest", private_token="role-t0ken")
    hostvars = {"rest": {"pulsar_endpoint": rest, "private_token": "stale"}}
    assert galaxy.pulsar_destinations(["rest"], hostvars)[0]["private_token"] == "role-t0ken"


def test_the_fallback_reads_the_inputs_as_the_pulsar_role_does():
    # Without a published endpoint (the Pulsar hosts not in this run), the
    # filter derives the same dictionary the role would have published.
    hv = {"pulsar_relay_url": "https://relay.test/", "pulsar_relay_username": "u", "pulsar_relay_password": "pw",
          "pulsar_relay_topic_prefix": "site"}
    assert galaxy.pulsar_endpoint_from_inputs(hv) == {
        "mode": "relay", "staging_directory": "/opt/pulsar/files/staging", "message_queue_url": "",
        "relay_url": "https://relay.test", "relay_username": "u", "relay_password": "pw",
        "relay_topic_prefix": "site", "private_token": ""}


def test_galaxyproject_pulsars_root_decides_the_staging_directory():
    hostvars = {"mq": {"pulsar_root": "/mnt/pulsar", "pulsar_yaml_config": {"message_queue_url": "amqp://mq/"}}}
    assert galaxy.pulsar_destinations(["mq"], hostvars)[0]["jobs_directory"] == "/mnt/pulsar/files/staging"


def test_a_tls_broker_is_checked_against_the_ca():
    """The GTN tutorial's URL: Galaxy's runner gets it without ssl=1 (kombu would take that in place of the
    options) and requires the broker's certificate to chain to the CA; the admin's own options win."""
    url = "pyamqp://galaxy_au:pw@mq.example.org:5671//pulsar/galaxy_au?ssl=1"
    destinations = [{"id": "pulsar", "amqp_url": url, "jobs_directory": "/mnt/pulsar/files/staging"}]
    settings = {**SETTINGS, "amqp_ca_certs": "/etc/ssl/certs/ca-certificates.crt"}
    runner = galaxy.galaxy_job_config(destinations, settings)["runners"][1]
    assert runner["params"] == {
        "amqp_url": "pyamqp://galaxy_au:pw@mq.example.org:5671//pulsar/galaxy_au",
        "galaxy_url": "https://galaxy.test", "amqp_publish_retry": True,
        "amqp_connect_ssl_cert_reqs": "CERT_REQUIRED", "amqp_connect_ssl_ca_certs": "/etc/ssl/certs/ca-certificates.crt"}
    own = {**settings, "mq_runner_params": {"amqp_connect_ssl_ca_certs": "/etc/site-ca.pem"}}
    runner = galaxy.galaxy_job_config(destinations, own)["runners"][1]
    assert runner["params"]["amqp_connect_ssl_ca_certs"] == "/etc/site-ca.pem"
    environment = galaxy.galaxy_job_config(destinations, settings)["environments"][1]
    assert environment["runner"] == runner["id"]


class _Lazy(dict):
    """A pulsar_yaml_config as ansible-core 2.19 hands it over: keys templated when read; the named ones fail
    (they name a variable only the pulsar role defines)."""

    def __init__(self, values, undefined):
        super().__init__(values)
        self.undefined = undefined

    def get(self, key, default=None):
        if key in self.undefined:
            raise UndefinedError(f"'{self.undefined[key]}' is undefined")  # 2.19's MarkerError is one
        return super().get(key, default)


class _Undefined(dict):
    """hostvars where reading pulsar_yaml_config fails as a whole."""

    def get(self, key, default=None):
        if key == "pulsar_yaml_config":
            raise AnsibleUndefinedVariable("'pulsar_staging_dir' is undefined")
        return super().get(key, default)


def test_a_config_naming_the_roles_defaults_reads_as_those_defaults():
    gtn = _Lazy({"message_queue_url": "pyamqp://u:pw@mq:5671//pulsar/galaxy_au?ssl=1"},
                {"staging_directory": "pulsar_staging_dir"})
    hv = {"pulsar_root": "/mnt/pulsar", "pulsar_yaml_config": gtn}
    endpoint = galaxy.pulsar_endpoint_from_inputs(hv)
    assert endpoint["mode"] == "mq" and endpoint["staging_directory"] == "/mnt/pulsar/files/staging"
    assert galaxy.pulsar_mode(hv) == "mq"
    # ansible-core 2.16 leaves the template text of what it cannot template.
    old = {"pulsar_root": "/mnt/pulsar", "pulsar_yaml_config": {"message_queue_url": "amqp://u:pw@mq/v",
                                                                "staging_directory": "{{ pulsar_staging_dir }}"}}
    assert galaxy.pulsar_endpoint_from_inputs(old)["staging_directory"] == "/mnt/pulsar/files/staging"
    # The whole config unreadable: the upstream runner setting tells the mode; Galaxy's URL cannot be guessed.
    assert galaxy.pulsar_mode(_Undefined(pulsar_systemd_runner="webless")) == "mq"
    with pytest.raises(AnsibleUndefinedVariable):
        galaxy.pulsar_endpoint_from_inputs(_Undefined(pulsar_systemd_runner="webless"))


def test_an_undefined_broker_password_is_not_taken_for_rest():
    """The GTN tutorial loads its vault file with vars_files: without it, Ansible names the variable."""
    hv = {"pulsar_yaml_config": _Lazy({}, {"message_queue_url": "rabbitmq_password_vhost"})}
    with pytest.raises(AnsibleUndefinedVariable, match="message_queue_url"):
        galaxy.pulsar_endpoint_from_inputs(hv)
    with pytest.raises(AnsibleUndefinedVariable, match="message_queue_url"):
        galaxy.pulsar_mode(hv)
    assert galaxy.pulsar_mode({"pulsar_yaml_config": {"message_queue_url": "amqp://p:pw@mq/v"}}) == "mq"
    assert galaxy.pulsar_mode({"pulsar_relay_url": "https://relay"}) == "relay"
    assert galaxy.pulsar_mode({"private_token": "t"}) == "rest"


def test_the_galaxy_job_config_form_is_the_job_conf_yml_document():
    """What an admin merges into galaxyproject.galaxy's galaxy_job_config: the same runners and environments."""
    destinations = [{"id": "pulsar", "url": "http://p/", "private_token": "t"},
                    {"id": "mq", "amqp_url": "amqp://one", "jobs_directory": "/s"}]
    config = galaxy.galaxy_job_config(destinations, SETTINGS)
    tools = galaxy.galaxy_tool_destinations(["bwa", {"id": "x", "destination": "mq"}], destinations)
    doc = galaxy.galaxy_job_conf_document(config, "local", tools)
    assert doc["runners"]["local"] == {"load": galaxy.LOCAL_RUNNER, "workers": 4}
    assert doc["runners"]["pulsar"] == {"load": galaxy.REST_RUNNER, "workers": 2, "transport_timeout": 300}
    assert doc["runners"]["mq_mq"]["amqp_url"] == "amqp://one"
    assert doc["execution"]["default"] == "local"
    assert doc["execution"]["environments"]["pulsar"] == {
        "runner": "pulsar", "url": "http://p/", "private_token": "t", "default_file_action": "transfer"}
    assert doc["execution"]["environments"]["mq"]["runner"] == "mq_mq"
    assert doc["tools"] == [{"id": "bwa", "environment": "pulsar"}, {"id": "x", "environment": "mq"}]
    assert "tools" not in galaxy.galaxy_job_conf_document(config, "local", [])


@pytest.mark.parametrize("galaxy_group, expected", [
    ("galaxy", "galaxy"), ({"name": "gxgroup", "gid": 990}, "gxgroup"), (None, "root"), ("", "root")])
def test_the_file_group_is_galaxyproject_galaxys(galaxy_group, expected):
    assert galaxy.galaxy_group_name(galaxy_group) == expected


def test_repeated_ids_are_named_once_each():
    assert galaxy.repeated(["local", "a", "b", "a", "local", "a"]) == ["a", "local"]
    assert galaxy.repeated(["local", "a"]) == []


@pytest.mark.parametrize("hv, url", [
    ({}, "http://p1/"),
    ({"pulsar_nginx_http_port": 8080}, "http://p1:8080/"),
    ({"pulsar_nginx_tls": True, "pulsar_nginx_https_port": "8443"}, "https://p1:8443/"),
    ({"pulsar_nginx_tls": True, "pulsar_nginx_http_port": 8080}, "https://p1/"),
    ({"ansible_host": "10.0.0.5"}, "http://10.0.0.5/"),
    ({"ansible_host": "fd00::5"}, "http://[fd00::5]/"),
    ({"ansible_host": "10.0.0.5", "pulsar_nginx_server_name": "pulsar.example.org"}, "http://pulsar.example.org/"),
    # No nginx: Galaxy talks to Pulsar's own listener.
    ({"pulsar_play_nginx": False, "pulsar_port": 9000, "pulsar_nginx_tls": True}, "http://p1:9000/"),
    ({"pulsar_play_nginx": "false"}, "http://p1:8913/"),
])
def test_the_rest_url_is_where_the_host_listens(hv, url):
    hostvars = {"p1": {"private_token": "t", **hv}}
    assert galaxy.pulsar_destinations(["p1"], hostvars)[0]["url"] == url


@pytest.mark.parametrize("value, url", [("y", "https://p1/"), ("off", "http://p1/"), (None, "http://p1/")])
def test_tls_is_read_as_the_roles_bool_filter_reads_it(value, url):
    hostvars = {"p1": {"private_token": "t", **({} if value is None else {"pulsar_nginx_tls": value})}}
    assert galaxy.pulsar_destinations(["p1"], hostvars)[0]["url"] == url


def _job_config(hosts, hostvars):
    return galaxy.galaxy_job_config(galaxy.pulsar_destinations(hosts, hostvars), SETTINGS)


def _ids(config):
    return ([r["id"] for r in config["runners"]],
            {e["id"]: e["runner"] for e in config["environments"]})


def test_ids_do_not_depend_on_how_many_hosts_there_are():
    """Adding a host renames nothing Galaxy knows: tool routing, TPV and the jobs Galaxy recovers by destination
    and runner keep working."""
    hostvars = {"mq-a.site": {"pulsar_message_queue_url": "amqp://p:pw@rabbit/pulsar"},
                "rest-b": {"private_token": "t"},
                "relay-c": {"pulsar_relay_url": "https://relay.test", "pulsar_relay_username": "u",
                            "pulsar_relay_password": "pw"},
                "mq-d": {"pulsar_message_queue_url": "amqp://p:pw@other/pulsar"}}
    alone = _ids(_job_config(["mq-a.site"], hostvars))
    assert alone == (["local", "mq_a_site_mq"], {"local": "local", "mq_a_site": "mq_a_site_mq"})
    three = _ids(_job_config(["mq-a.site", "rest-b", "relay-c"], hostvars))
    four = _ids(_job_config(["mq-a.site", "rest-b", "relay-c", "mq-d"], hostvars))
    assert three[1] == {"local": "local", "mq_a_site": "mq_a_site_mq", "rest_b": "pulsar", "relay_c": "relay_c_relay"}
    assert four[1] == dict(three[1], mq_d="mq_d_mq")
    assert set(three[0]) < set(four[0])


def test_a_hosts_own_id_is_used_everywhere():
    hostvars = {"pulsar.test": {"pulsar_message_queue_url": "amqp://rabbit/", "pulsar_destination_id": "pulsar"},
                "other": {"pulsar_message_queue_url": "amqp://rabbit//"}}
    # pulsar_destination_id: pulsar gives the ids of one host before ids were stable (pulsar, pulsar_mq).
    assert _ids(_job_config(["pulsar.test"], hostvars)) == (["local", "pulsar_mq"],
                                                            {"local": "local", "pulsar": "pulsar_mq"})
    out = galaxy.pulsar_destinations(["pulsar.test", "other"], hostvars)
    assert [(d["id"], d["amqp_key_prefix"]) for d in out] == [("pulsar", "pulsar_pulsar_"), ("other", "pulsar_other_")]


@pytest.mark.parametrize("second", [
    "amqp://other:secret@RABBIT:5672/pulsar?heartbeat=30",  # another account, the host's case, the default port
    "amqp://p:pw@elsewhere/x;amqp://p:pw@rabbit/pulsar",  # a failover list naming it
])
def test_hosts_on_one_broker_vhost_get_queues_and_runners_of_their_own(second):
    hostvars = {"a": {"pulsar_message_queue_url": "amqp://p:pw@rabbit/pulsar"},
                "b": {"pulsar_yaml_config": {"message_queue_url": second}},
                "c": {"pulsar_message_queue_url": "amqp://p:pw@rabbit/galaxy2"}}  # another vhost: alone
    fleet = galaxy.pulsar_fleet(list(hostvars), hostvars)
    assert {h: (e["amqp_key_prefix"], e["shares"]) for h, e in fleet.items()} == {
        "a": ("pulsar_a_", ["b"]), "b": ("pulsar_b_", ["a"]), "c": ("", [])}
    assert galaxy.pulsar_fleet_conflicts(fleet) == []
    runners = {r["id"]: r["params"] for r in _job_config(list(hostvars), hostvars)["runners"]}
    assert runners["a_mq"]["amqp_key_prefix"] == "pulsar_a_"
    assert runners["b_mq"]["amqp_key_prefix"] == "pulsar_b_"
    assert "amqp_key_prefix" not in runners["c_mq"]  # Pulsar's default queues, as a hand-written Galaxy expects


def test_a_prefix_the_admin_set_is_kept_on_both_sides_and_clashes_are_named():
    hostvars = {"a": {"pulsar_yaml_config": {"message_queue_url": "amqp://rabbit/", "amqp_key_prefix": "site_a_"}},
                "b": {"pulsar_message_queue_url": "amqp://rabbit/"}}
    fleet = galaxy.pulsar_fleet(["a", "b"], hostvars)
    assert (fleet["a"]["amqp_key_prefix"], fleet["b"]["amqp_key_prefix"]) == ("site_a_", "pulsar_b_")
    assert {r["id"]: r["params"].get("amqp_key_prefix") for r in _job_config(["a", "b"], hostvars)["runners"]
            if r["id"].endswith("_mq")} == {"a_mq": "site_a_", "b_mq": "pulsar_b_"}
    hostvars["b"] = {"pulsar_yaml_config": {"message_queue_url": "amqp://rabbit/", "amqp_key_prefix": "site_a_"}}
    fleet = galaxy.pulsar_fleet(["a", "b"], hostvars)
    assert fleet["a"]["conflicts"] == fleet["b"]["conflicts"]  # each host's own run refuses it
    conflicts = galaxy.pulsar_fleet_conflicts(fleet)
    assert conflicts == [
        "a and b take jobs from one broker under the same queue prefix (site_a_): give them distinct "
        "amqp_key_prefix values"]


def test_several_managers_keep_their_own_queue_names():
    """One amqp_key_prefix holds for every manager of a host: an automatic one would put them on one queue."""
    two = {"message_queue_url": "amqp://rabbit/", "managers": {"_default_": {}, "big": {"type": "queued_cli"}}}
    hostvars = {"a": {"pulsar_yaml_config": two}, "b": {"pulsar_message_queue_url": "amqp://rabbit/"}}
    fleet = galaxy.pulsar_fleet(["a", "b"], hostvars)
    assert (fleet["a"]["amqp_key_prefix"], fleet["b"]["amqp_key_prefix"]) == ("", "pulsar_b_")
    assert galaxy.pulsar_fleet_conflicts(fleet) == []
    hostvars["b"] = {"pulsar_yaml_config": dict(two, managers={"big": {}, "small": {}})}
    assert galaxy.pulsar_fleet_conflicts(galaxy.pulsar_fleet(["a", "b"], hostvars))[0].startswith(
        "a and b take jobs from one broker under the same queue prefix (pulsar_big_)")
    hostvars["a"] = {"pulsar_yaml_config": dict(two, amqp_key_prefix="mine_")}
    assert galaxy.pulsar_fleet_conflicts(galaxy.pulsar_fleet(["a"], hostvars)) == [
        "a: amqp_key_prefix mine_ puts its managers _default_, big on one queue"]


def test_relay_hosts_on_one_relay_get_topics_of_their_own():
    relay = {"pulsar_relay_url": "https://relay.test/", "pulsar_relay_username": "u", "pulsar_relay_password": "pw"}
    hostvars = {"r1": dict(relay), "r2": dict(relay, pulsar_relay_url="https://RELAY.test"),
                "r3": dict(relay, pulsar_relay_url="https://relay2.test")}
    out = galaxy.pulsar_destinations(list(hostvars), hostvars)
    assert [(d["id"], d["relay_topic_prefix"]) for d in out] == [("r1", "r1"), ("r2", "r2"), ("r3", "")]
    runners = [r["id"] for r in galaxy.galaxy_job_config(out, SETTINGS)["runners"]]
    assert runners == ["local", "r1_relay", "r2_relay", "r3_relay"]
    hostvars["r2"]["pulsar_relay_topic_prefix"] = "r1"
    assert galaxy.pulsar_fleet_conflicts(galaxy.pulsar_fleet(["r1", "r2"], hostvars)) == [
        "r1 and r2 take jobs from one broker under the same queue prefix (r1/_default_): give them distinct "
        "pulsar_relay_topic_prefix values"]


def test_tpv_destinations_carry_runner_params_limits_and_tags():
    hostvars = {"mq-a": {"pulsar_message_queue_url": "amqp://rabbit/", "ansible_processor_vcpus": 8,
                         "ansible_memtotal_mb": 31960},
                "rest": {"private_token": "t", "ansible_processor_vcpus": 2, "ansible_memtotal_mb": 3931,
                         "pulsar_tpv_destination": {"max_accepted_cores": 1, "scheduling": {"accept": ["small"]}}},
                "cluster": {"pulsar_yaml_config": {"message_queue_url": "amqp://other/",
                                                   "managers": {"_default_": {"type": "queued_cli"}}},
                            "ansible_processor_vcpus": 4, "ansible_memtotal_mb": 8000},
                "nofacts": {"private_token": "t2"}}
    destinations = galaxy.pulsar_destinations(list(hostvars), hostvars)
    config = galaxy.galaxy_job_config(destinations, SETTINGS)
    tpv = galaxy.galaxy_tpv_destinations(config, destinations + [{"id": "byhand", "url": "http://x/",
                                                                  "private_token": "t3"}])["destinations"]
    assert list(tpv) == ["mq_a", "rest", "cluster", "nofacts"]  # only what Galaxy's config has
    assert tpv["mq_a"] == {"runner": "mq_a_mq", "max_accepted_cores": 8, "max_accepted_mem": 28.0,
                           "env": galaxy.TPV_JOB_ENVIRONMENT,
                           "scheduling": {"require": ["mq_a"]},
                           "params": {"jobs_directory": "/opt/pulsar/files/staging",
                                      "default_file_action": "remote_transfer"}}
    assert tpv["rest"]["max_accepted_cores"] == 1 and tpv["rest"]["max_accepted_mem"] == 3.4
    assert tpv["rest"]["scheduling"] == {"require": ["rest"], "accept": ["small"]}
    assert tpv["rest"]["params"]["url"] == "http://rest/" and tpv["rest"]["runner"] == "pulsar"
    assert "max_accepted_cores" not in tpv["cluster"]  # the cluster's nodes, not the submit host, run the jobs
    assert "env" not in tpv["cluster"]  # the job script reads the cluster's own variables (SLURM_CPUS_ON_NODE)
    assert tpv["nofacts"]["env"] == galaxy.TPV_JOB_ENVIRONMENT
    assert "max_accepted_cores" not in tpv["nofacts"] and tpv["nofacts"]["scheduling"] == {"require": ["nofacts"]}
    config = galaxy.galaxy_job_config(destinations + [{"id": "byhand", "url": "http://x/", "private_token": "t3"}],
                                      SETTINGS)
    assert galaxy.galaxy_tpv_destinations(config, destinations + [
        {"id": "byhand", "url": "http://x/", "private_token": "t3"}])["destinations"]["byhand"]["scheduling"] == {
        "require": ["byhand"]}


def test_tpv_memory_is_what_a_job_may_take_under_the_units_limits():
    """A job TPV sends may use no more than the Pulsar unit lets one process (LimitDATA) or the whole unit
    (MemoryMax) have: the smallest of them and the host's memory, each read as the pulsar role reads it."""
    host = {"private_token": "t", "ansible_processor_vcpus": 4, "ansible_memtotal_mb": 16384}

    def mem(**settings):
        destinations = galaxy.pulsar_destinations(["h"], {"h": dict(host, **settings)})
        tpv = galaxy.galaxy_tpv_destinations(galaxy.galaxy_job_config(destinations, SETTINGS), destinations)
        return tpv["destinations"]["h"].get("max_accepted_mem")

    assert mem() == 14.4  # both limits' default, 90 % of the host
    assert mem(pulsar_process_memory_max="4G") == 4.0
    assert mem(pulsar_process_memory_max="3072M", pulsar_memory_max="8G") == 3.0
    assert mem(pulsar_process_memory_max="50%") == 8.0
    assert mem(pulsar_process_memory_max="", pulsar_memory_max="infinity") == 16.0
    assert mem(pulsar_memory_max="2G", pulsar_process_memory_max="0") == 2.0
    assert mem(pulsar_systemd_memory_limit=6) == 6.0  # galaxyproject.pulsar's, in GiB: it wins over MemoryMax
    assert mem(pulsar_systemd_service_options={"LimitDATA": "1073741824"}) == 1.0  # the admin's own, last
    assert mem(pulsar_process_memory_max="1G", pulsar_tpv_destination={"max_accepted_mem": 0.5}) == 0.5
    # Every form systemd takes and the role passes on: decimals, a soft:hard pair (the soft one holds), and
    # galaxyproject.pulsar's limit as a decimal number of GiB.
    assert mem(pulsar_systemd_service_options={"MemoryMax": "1.5G"}) == 1.5
    assert mem(pulsar_systemd_service_options={"LimitDATA": "2G:4G"}) == 2.0
    assert mem(pulsar_systemd_memory_limit=8.5) == 8.5
    assert mem(pulsar_systemd_memory_limit="6.0") == 6.0
    # Never more than the limit: 1000M is 0.977 GiB, 90 % of 16000 MiB 14.06 GiB.
    assert mem(pulsar_process_memory_max="1000M") == 0.9
    assert mem(ansible_memtotal_mb=16000) == 14.0
    # Without the host's facts a limit in bytes still holds; a share of the unknown memory cannot.
    assert mem(ansible_memtotal_mb=None, pulsar_process_memory_max="4G") == 4.0
    assert mem(ansible_memtotal_mb=None) is None


def test_tpv_gives_a_job_its_cores_and_memory_as_galaxy_slots_and_galaxy_memory_mb():
    """Evaluated as TPV 3.3 evaluates an env value (an f-string in the job's namespace, tpv/core/loader.py):
    TPV's cores and memory (GiB), or 1 slot and no memory where TPV gave none; a site's own env merges in."""
    def evaluated(namespace):
        out = {}
        for name, code in galaxy.TPV_JOB_ENVIRONMENT.items():
            block = ast.parse("f'''" + code + "'''", mode="exec")
            last = ast.Expression(block.body.pop().value)
            scope = dict(namespace)
            exec(compile(block, "<tpv>", "exec"), scope)  # noqa: S102 - the test evaluates its own constant
            out[name] = eval(compile(last, "<tpv>", "eval"), scope)  # noqa: S307
        return out

    assert evaluated({"cores": 4, "mem": 15.2}) == {"GALAXY_SLOTS": "4", "GALAXY_MEMORY_MB": "15564"}
    # Where TPV gave none, what the job already has (the slots Pulsar's job script set, a host-wide value
    # from the unit's environment): Pulsar writes each value in double quotes, so the shell expands these.
    assert evaluated({}) == {"GALAXY_SLOTS": "$GALAXY_SLOTS", "GALAXY_MEMORY_MB": "$GALAXY_MEMORY_MB"}
    assert evaluated({"cores": 0.5, "mem": None})["GALAXY_SLOTS"] == "1"

    def env(site_env):
        hostvars = {"h": {"private_token": "t", "pulsar_tpv_destination": {"env": site_env}}}
        destinations = galaxy.pulsar_destinations(["h"], hostvars)
        tpv = galaxy.galaxy_tpv_destinations(galaxy.galaxy_job_config(destinations, SETTINGS), destinations)
        return tpv["destinations"]["h"]["env"]

    assert env({"OMP_NUM_THREADS": "{cores}"}) == {**galaxy.TPV_JOB_ENVIRONMENT, "OMP_NUM_THREADS": "{cores}"}
    # TPV's list form too (the only one that holds execute and file entries), merged by name as TPV merges.
    assert env([{"execute": "module load blast"}, {"name": "GALAXY_SLOTS", "value": "2"}]) == [
        {"name": "GALAXY_MEMORY_MB", "value": galaxy.TPV_JOB_ENVIRONMENT["GALAXY_MEMORY_MB"]},
        {"execute": "module load blast"}, {"name": "GALAXY_SLOTS", "value": "2"}]


def test_the_index_names_hosts_runners_and_queues_without_secrets():
    hostvars = {"a": {"pulsar_message_queue_url": "amqp://u:secret@rabbit/"},
                "b": {"pulsar_message_queue_url": "amqp://u:secret@rabbit/"}, "r": {"private_token": "secret"}}
    destinations = galaxy.pulsar_destinations(list(hostvars), hostvars)
    index = galaxy.galaxy_destination_index(galaxy.galaxy_job_config(destinations, SETTINGS)["environments"][1:],
                                            destinations)
    assert index == {"a": {"host": "a", "runner": "a_mq", "queue_prefix": "pulsar_a_"},
                     "b": {"host": "b", "runner": "b_mq", "queue_prefix": "pulsar_b_"},
                     "r": {"host": "r", "runner": "pulsar", "queue_prefix": "(REST: no queue)"}}
    assert "secret" not in repr(index)


def test_incomplete_destinations_are_named_with_what_they_lack():
    destinations = [{"id": "ok", "url": "https://p/", "private_token": "t"}, {"id": "x"},
                    {"id": "y", "amqp_url": "amqp://r/"}, {"id": "z", "relay_url": "https://r/a", "relay_username": "u"},
                    {"id": "w", "amqp_url": "amqp://r/", "jobs_directory": "relative"}]
    assert galaxy.pulsar_destination_problems(destinations) == [
        "x (rest) needs an http(s) url, a private_token",
        "y (mq) needs an absolute jobs_directory",
        "z (relay) needs a relay_url https://host[:port], a relay_password, an absolute jobs_directory",
        "w (mq) needs an absolute jobs_directory"]


def test_a_rootless_hosts_staging_is_in_the_accounts_home():
    hv = {"pulsar_rootless": True, "pulsar_message_queue_url": "amqp://u:p@mq/v",
          "ansible_facts": {"user_dir": "/home/hpc"}}
    assert galaxy.pulsar_endpoint_from_inputs(hv)["staging_directory"] == "/home/hpc/pulsar/files/staging"
    assert galaxy.pulsar_endpoint_from_inputs({**hv, "pulsar_root": "/shared/hpc/pulsar"})[
        "staging_directory"] == "/shared/hpc/pulsar/files/staging"
    with pytest.raises(AnsibleUndefinedVariable, match="set pulsar_root"):
        galaxy.pulsar_endpoint_from_inputs({**hv, "ansible_facts": {}})

# Copyright: galaxy_ops maintainers
# MIT License (see LICENSE)
"""Galaxy's side of Pulsar as data: the destinations an inventory's Pulsar
hosts offer, and the runners and environments of Galaxy's job configuration
(the pulsar_galaxy role renders the result, in YAML or XML)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleUndefinedVariable
from ansible.module_utils.parsing.convert_bool import boolean
from jinja2 import Undefined, UndefinedError
from ansible_collections.galaxy_ops.pulsar.plugins.filter.broker import amqp_tls

# The pulsar role's defaults that decide where a host stages jobs
# (roles/pulsar/defaults/main.yml; a unit test keeps them equal).
PULSAR_SERVER_DIR = "/opt/pulsar"
STAGING_BELOW_SERVER_DIR = "/files/staging"
PULSAR_PORT = 8913

REST_RUNNER = "galaxy.jobs.runners.pulsar:PulsarRESTJobRunner"
MQ_RUNNER = "galaxy.jobs.runners.pulsar:PulsarMQJobRunner"
LOCAL_RUNNER = "galaxy.jobs.runners.local:LocalJobRunner"


def _kind(destination):
    """A destination's kind; one with a broker URL is a message queue one, whatever else it holds."""
    if "amqp_url" in destination:
        return "mq"
    if "relay_url" in destination:
        return "relay"
    return "rest"


def _app_value(hv, key, default, role_default=True):
    """pulsar_yaml_config[key] of a host's inputs, else default. A value that names a variable only the pulsar
    role defines (galaxyproject.pulsar's inventories write staging_directory: "{{ pulsar_staging_dir }}") cannot
    be templated where the role did not run: with role_default it is read as the role's default for it would
    give it; without (a value nothing can stand in for, the broker URL), Ansible's error naming the variable
    stands."""
    try:
        app = hv.get("pulsar_yaml_config")
        value = app.get(key, default) if isinstance(app, Mapping) else default
    except (AnsibleUndefinedVariable, UndefinedError):  # 2.16: the whole config; 2.19: the value read
        value = Undefined()
    # ansible-core 2.19 hands an undefined value over as a marker, 2.16 as the template text left as it was.
    if not (isinstance(value, Undefined) or isinstance(value, str) and "{{" in value):
        return value
    if role_default:
        return default
    raise AnsibleUndefinedVariable(
        f"pulsar_yaml_config.{key} of a Pulsar host names a variable that is not defined where it is read "
        "(a vault file the pulsar play loads with vars_files? define it in group_vars)")


def pulsar_mode(hv):
    """rest, mq or relay: how a host's Pulsar takes jobs, from its inputs (what the pulsar role decides)."""
    if hv.get("pulsar_relay_url"):
        return "relay"
    if hv.get("pulsar_message_queue_url"):
        return "mq"
    try:
        return "mq" if _app_value(hv, "message_queue_url", "", role_default=False) else "rest"
    except AnsibleUndefinedVariable:  # raised by _app_value
        # Only the pulsar role can template this host's config: its upstream runner setting tells.
        if hv.get("pulsar_systemd_runner") == "webless":
            return "mq"
        raise


def pulsar_endpoint_from_inputs(hv):
    """What the pulsar role publishes as pulsar_endpoint (roles/pulsar/vars/main.yml,
    _pulsar_endpoint), read from a host's inputs and the role's defaults: for a
    run in which the pulsar role did not run on that host."""
    mq = hv.get("pulsar_message_queue_url") or _app_value(hv, "message_queue_url", "", role_default=False) or ""
    relay = hv.get("pulsar_relay_url") or ""
    server_dir = hv.get("pulsar_server_dir") or hv.get("pulsar_root") or PULSAR_SERVER_DIR
    return {
        "mode": "relay" if relay else ("mq" if mq else "rest"),
        "staging_directory": _app_value(hv, "staging_directory",
                                        hv.get("pulsar_staging_dir", server_dir + STAGING_BELOW_SERVER_DIR)),
        "message_queue_url": mq,
        "relay_url": re.sub(r"/+$", "", relay),
        "relay_username": hv.get("pulsar_relay_username", ""),
        "relay_password": hv.get("pulsar_relay_password", ""),
        "relay_topic_prefix": hv.get("pulsar_relay_topic_prefix", ""),
        "private_token": _app_value(hv, "private_token", hv.get("private_token", "")),
    }


def pulsar_destinations(hosts, hostvars):
    """One destination per Pulsar host.

    Where the pulsar role ran on the host in this run, from what it computed
    (the pulsar_endpoint fact it sets); else from the host's inputs, read as
    the role reads them (pulsar_endpoint_from_inputs). Relay mode: the relay,
    its account and the staging directory. Message queue mode: the broker URL
    and the staging directory. Otherwise REST: https when the host's nginx
    serves TLS, its server_name when set (else its inventory name), the token.
    """
    hosts = list(hosts or [])
    out = []
    for host in hosts:
        hv = hostvars[host]
        ident = "pulsar" if len(hosts) == 1 else "pulsar_" + re.sub(r"[^A-Za-z0-9_]", "_", host)
        published = hv.get("pulsar_endpoint")
        endpoint = published if isinstance(published, Mapping) and "mode" in published \
            else pulsar_endpoint_from_inputs(hv)
        if endpoint["mode"] == "relay":
            out.append({"id": ident, "relay_url": endpoint["relay_url"],
                        "relay_username": endpoint["relay_username"],
                        "relay_password": endpoint["relay_password"],
                        "relay_topic_prefix": endpoint["relay_topic_prefix"],
                        "jobs_directory": endpoint["staging_directory"]})
        elif endpoint["mode"] == "mq":
            out.append({"id": ident, "amqp_url": endpoint["message_queue_url"],
                        "jobs_directory": endpoint["staging_directory"]})
        else:
            out.append({"id": ident, "url": _rest_url(host, hv), "private_token": endpoint["private_token"]})
    return out


def _true(value, default):
    """A setting read as the roles read it (Ansible's bool filter), default when it is not set."""
    return default if value is None else boolean(value, strict=False)


def _rest_url(host, hv):
    """Where a REST host listens for Galaxy: its nginx (server_name, else ansible_host, else the inventory name;
    https when pulsar_nginx_tls; the port unless it is the scheme's own), or with pulsar_play_nginx false Pulsar's
    own listener on pulsar_port."""
    name = hv.get("pulsar_nginx_server_name", "_")
    address = str(name if name != "_" else hv.get("ansible_host") or host)
    if ":" in address and not address.startswith("["):
        address = f"[{address}]"  # an IPv6 address
    if not _true(hv.get("pulsar_play_nginx"), True):
        return f"http://{address}:{int(hv.get('pulsar_port', PULSAR_PORT))}/"
    tls = _true(hv.get("pulsar_nginx_tls"), False)
    port = int(hv.get("pulsar_nginx_https_port", 443) if tls else hv.get("pulsar_nginx_http_port", 80))
    return f"{'https' if tls else 'http'}://{address}{'' if port == (443 if tls else 80) else f':{port}'}/"


def pulsar_destination_kinds(destinations):
    """The destinations by kind: {rest: [...], mq: [...], relay: [...]}."""
    kinds = {"rest": [], "mq": [], "relay": []}
    for destination in destinations:
        kinds[_kind(destination)].append(destination)
    return kinds


def _numbered(keys, prefix):
    """One id per distinct key, in order: prefix alone when there is one."""
    unique = list(dict.fromkeys(keys))
    return {key: prefix if len(unique) == 1 else f"{prefix}_{index}" for index, key in enumerate(unique, 1)}


def _relay_key(destination):
    """A relay runner's identity, as text (Galaxy reads its parameters as strings)."""
    return tuple(str(destination.get(key, "")) for key in
                 ("relay_url", "relay_username", "relay_topic_prefix", "relay_password"))


def galaxy_job_config(destinations, settings):
    """Galaxy's runners and environments for `destinations`.

    `settings`: local_workers, runner_workers, transport_timeout, galaxy_url,
    mq_runner_params, relay_runner_params, destination_params,
    mq_destination_params, amqp_ca_certs (the CA bundle on the Galaxy host
    that a TLS broker's certificate is checked against: see broker.amqp_tls).
    One MQ runner per broker URL (two runners on one status queue would each
    see part of the updates); one relay runner per relay account and topic
    prefix (Galaxy's relay credentials are runner parameters).
    """
    kinds = pulsar_destination_kinds(destinations)
    mq_ids = _numbered([d["amqp_url"] for d in kinds["mq"]], "pulsar_mq")
    relay_ids = _numbered([_relay_key(d) for d in kinds["relay"]], "pulsar_relay")
    workers = settings["runner_workers"]

    runners = [{"id": "local", "load": LOCAL_RUNNER, "workers": settings["local_workers"], "params": {}}]
    if kinds["rest"]:
        runners.append({"id": "pulsar", "load": REST_RUNNER, "workers": workers,
                        "params": {"transport_timeout": settings["transport_timeout"]}})
    mq_params = settings.get("mq_runner_params", {})
    for url, ident in mq_ids.items():
        # Galaxy's runner takes no server_hostname: it checks the chain, not the name.
        tls = amqp_tls(url, settings.get("amqp_ca_certs", ""), mq_params, server_hostname=False)
        runners.append({"id": ident, "load": MQ_RUNNER, "workers": workers,
                        "params": {"amqp_url": tls["url"], "galaxy_url": settings["galaxy_url"],
                                   **tls["params"], **mq_params}})
    for (url, username, prefix, password), ident in relay_ids.items():
        params = {"relay_url": url, "relay_username": username, "relay_password": password}
        if prefix:
            params["relay_topic_prefix"] = prefix
        params.update({"galaxy_url": settings["galaxy_url"], **settings.get("relay_runner_params", {})})
        runners.append({"id": ident, "load": MQ_RUNNER, "workers": workers, "params": params})

    environments = [{"id": "local", "runner": "local", "params": {}}]
    common = settings.get("destination_params", {})
    queued = settings.get("mq_destination_params", {})
    for destination in destinations:
        kind = _kind(destination)
        if kind == "rest":
            runner = "pulsar"
            params = {"url": destination.get("url", ""), "private_token": destination.get("private_token", ""),
                      **common}
        else:
            runner = mq_ids[destination["amqp_url"]] if kind == "mq" else relay_ids[_relay_key(destination)]
            params = {"jobs_directory": destination.get("jobs_directory", ""), **common, **queued}
        params.update(destination.get("params") or {})
        environments.append({"id": destination["id"], "runner": runner, "params": params})
    return {"runners": runners, "environments": environments}


def galaxy_tool_destinations(tools, destinations):
    """pulsar_galaxy_tools as [{id, destination}]: a bare tool id goes to the first destination."""
    first = destinations[0]["id"] if destinations else ""
    out = []
    for tool in tools or []:
        if isinstance(tool, dict):
            out.append({"id": tool["id"], "destination": tool.get("destination", first)})
        else:
            out.append({"id": tool, "destination": first})
    return out


def galaxy_job_conf_document(job_config, default_destination, tool_destinations):
    """job_config (galaxy_job_config's runners and environments) as Galaxy reads it: the job_conf.yml document, which
    is also the shape of galaxyproject.galaxy's galaxy_job_config (job_config inside galaxy.yml)."""
    doc = {
        "runners": {r["id"]: {"load": r["load"], "workers": r["workers"], **r["params"]} for r in job_config["runners"]},
        "execution": {"default": default_destination,
                      "environments": {e["id"]: {"runner": e["runner"], **e["params"]}
                                       for e in job_config["environments"]}},
    }
    if tool_destinations:
        doc["tools"] = [{"id": t["id"], "environment": t["destination"]} for t in tool_destinations]
    return doc


def repeated(items):
    """The items of a list that occur more than once, each once, in order of first occurrence."""
    seen, out = set(), []
    for item in items:
        if item in seen and item not in out:
            out.append(item)
        seen.add(item)
    return out


def galaxy_group_name(galaxy_group):
    """The group of galaxyproject.galaxy's galaxy_group (a name or {name, gid, ...}); root when it is not set."""
    name = galaxy_group.get("name") if isinstance(galaxy_group, Mapping) else galaxy_group
    return str(name) if name else "root"


class FilterModule:
    """galaxy_ops.pulsar filters for Galaxy's job configuration."""

    def filters(self):
        return {
            "pulsar_destinations": pulsar_destinations,
            "pulsar_mode": pulsar_mode,
            "pulsar_destination_kinds": pulsar_destination_kinds,
            "galaxy_job_config": galaxy_job_config,
            "galaxy_tool_destinations": galaxy_tool_destinations,
            "galaxy_job_conf_document": galaxy_job_conf_document,
            "galaxy_group_name": galaxy_group_name,
            "repeated": repeated,
        }

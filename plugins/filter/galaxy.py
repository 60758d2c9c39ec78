# Copyright: galaxy_ops maintainers
# MIT License (see LICENSE)
"""Galaxy's side of Pulsar as data: the destinations an inventory's Pulsar
hosts offer, and the runners and environments of Galaxy's job configuration
(the pulsar_galaxy role renders the result, in YAML or XML)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from ansible.errors import AnsibleUndefinedVariable
from ansible.module_utils.parsing.convert_bool import boolean
from jinja2 import Undefined, UndefinedError
from ansible_collections.galaxy_ops.pulsar.plugins.filter.broker import amqp_tls, amqp_vhosts

# The pulsar role's defaults that decide where a host stages jobs
# (roles/pulsar/defaults/main.yml; a unit test keeps them equal).
PULSAR_SERVER_DIR = "/opt/pulsar"
STAGING_BELOW_SERVER_DIR = "/files/staging"
PULSAR_PORT = 8913
# pulsar_memory_max (the unit's MemoryMax) and pulsar_process_memory_max (LimitDATA).
PULSAR_MEMORY_LIMITS = ("90%", "90%")

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


def _server_dir(hv):
    """The pulsar role's pulsar_server_dir from a host's inputs: rootless (pulsar_rootless), ~/pulsar of the account
    Ansible connects as, read from the host's facts when they were gathered."""
    given = hv.get("pulsar_server_dir") or hv.get("pulsar_root")
    if given:
        return given
    if not boolean(hv.get("pulsar_rootless", False), strict=False):
        return PULSAR_SERVER_DIR
    home = (hv.get("ansible_facts") or {}).get("user_dir")
    if not home:
        raise AnsibleUndefinedVariable(
            "a rootless Pulsar host without pulsar_root (or pulsar_server_dir) keeps its staging directory in the "
            "account's home, which Galaxy's side learns from that host's facts, and none were gathered in this "
            "run: set pulsar_root, or run the pulsar play first")
    return home + "/pulsar"


def pulsar_endpoint_from_inputs(hv):
    """What the pulsar role publishes as pulsar_endpoint (roles/pulsar/vars/main.yml,
    _pulsar_endpoint), read from a host's inputs and the role's defaults: for a
    run in which the pulsar role did not run on that host."""
    mq = hv.get("pulsar_message_queue_url") or _app_value(hv, "message_queue_url", "", role_default=False) or ""
    relay = hv.get("pulsar_relay_url") or ""
    server_dir = _server_dir(hv)
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


def pulsar_destination_id(host, hv):
    """A host's destination id: its pulsar_destination_id, else its inventory name with every character other than
    a letter, digit or _ made _. It names the Galaxy environment, the TPV destination and the host's queue prefix
    when it shares a broker, so it must not change when other hosts come or go."""
    given = hv.get("pulsar_destination_id")
    return str(given) if given else re.sub(r"[^A-Za-z0-9_]", "_", str(host))


def _endpoint(hv):
    """What the pulsar role published for a host (pulsar_endpoint) when it ran on it, else the same from its inputs."""
    published = hv.get("pulsar_endpoint")
    return published if isinstance(published, Mapping) and "mode" in published else pulsar_endpoint_from_inputs(hv)


def _managers(hv):
    """(name, type) of the managers a host's app.yml defines; Pulsar's own single _default_ one when none."""
    managers = _app_value(hv, "managers", None)
    if not isinstance(managers, Mapping) or not managers:
        return [("_default_", "queued_python")]
    return [(str(name), str((conf or {}).get("type", "queued_python")) if isinstance(conf, Mapping) else "")
            for name, conf in managers.items()]


def _queues(mode, prefix, managers):
    """The queue (AMQP) or topic (relay) name prefixes a Pulsar takes jobs from. AMQP: amqp_key_prefix, which
    then holds for every manager, else pulsar_ for _default_ and pulsar_<manager>_ for the others. Relay:
    <relay_topic_prefix>_<topic>_<manager> (no _<manager> for _default_)."""
    if mode == "mq":
        return {prefix} if prefix else {"pulsar_" if m == "_default_" else f"pulsar_{m}_" for m, _kind in managers}
    return {f"{prefix}/{m}" for m, _kind in managers}


def pulsar_fleet(hosts, hostvars):
    """{host: {id, mode, amqp_key_prefix, relay_topic_prefix, shares, conflicts}} for the Pulsar hosts of an
    inventory: the pulsar role reads its host's entry for app.yml, pulsar_galaxy every entry for Galaxy's side.

    Hosts whose broker URLs name one virtual host (or which use one relay) would take each other's jobs from the
    same queues. Each such host gets its own prefix, unless it set one: amqp_key_prefix pulsar_<id>_ (not for a
    host with several managers: the one key prefix would put them all on one queue, so their names keep them
    apart), relay_topic_prefix <id>. A host alone on its broker keeps Pulsar's default names, those a
    hand-written Galaxy config (the GTN tutorial's) expects. conflicts: what still takes jobs from another host's
    queues, in words."""
    hosts = list(hosts or [])
    fleet = {}
    for host in hosts:
        hv = hostvars[host]
        endpoint = _endpoint(hv)
        mode = endpoint["mode"]
        entry = {"id": pulsar_destination_id(host, hv), "mode": mode, "amqp_key_prefix": "",
                 "relay_topic_prefix": "", "shares": [], "conflicts": []}
        if mode == "mq":
            entry["_space"] = set(amqp_vhosts(endpoint["message_queue_url"]))
            explicit = _app_value(hv, "amqp_key_prefix", "") or ""
        elif mode == "relay":
            entry["_space"] = {str(endpoint["relay_url"]).lower()}
            explicit = endpoint.get("relay_topic_prefix") or ""
        else:
            entry["_space"] = set()
            explicit = ""
        entry["_explicit"] = str(explicit)
        entry["_managers"] = _managers(hv) if mode != "rest" else []
        fleet[host] = entry
    for host, entry in fleet.items():
        entry["shares"] = [other for other, o in fleet.items() if other != host and o["mode"] == entry["mode"]
                           and entry["_space"] & o["_space"]]
        prefix = entry["_explicit"]
        if not prefix and entry["shares"] and (entry["mode"] == "relay" or len(entry["_managers"]) == 1):
            prefix = f"pulsar_{entry['id']}_" if entry["mode"] == "mq" else entry["id"]
        if entry["mode"] == "mq":
            entry["amqp_key_prefix"] = prefix
        elif entry["mode"] == "relay":
            entry["relay_topic_prefix"] = prefix
        entry["_queues"] = _queues(entry["mode"], prefix, entry["_managers"]) if entry["mode"] != "rest" else set()
    order = list(fleet)
    for host, entry in fleet.items():
        if entry["mode"] == "mq" and entry["_explicit"] and len(entry["_managers"]) > 1:
            entry["conflicts"].append(f"{host}: amqp_key_prefix {entry['_explicit']} puts its managers "
                                      f"{', '.join(m for m, _kind in entry['_managers'])} on one queue")
        for other in [o for o in entry["shares"] if order.index(o) > order.index(host)]:  # each pair once
            same = sorted(entry["_queues"] & fleet[other]["_queues"])
            if same:  # named on both hosts: each host's own run refuses it
                conflict = (f"{host} and {other} take jobs from one broker under the same queue prefix "
                            f"({', '.join(same)}): give them distinct "
                            + ("amqp_key_prefix values" if entry["mode"] == "mq" else "pulsar_relay_topic_prefix values"))
                entry["conflicts"].append(conflict)
                fleet[other]["conflicts"].append(conflict)
    for entry in fleet.values():
        for key in [k for k in entry if k.startswith("_")]:
            del entry[key]
    return fleet


def pulsar_fleet_conflicts(fleet):
    """Every conflict of pulsar_fleet's entries, each once."""
    return list(dict.fromkeys(c for entry in (fleet or {}).values() for c in entry["conflicts"]))


# Pulsar's manager types that run a job on the Pulsar host itself.
LOCAL_MANAGERS = ("queued_python", "unqueued")


def _runs_jobs_itself(hv):
    """Whether every manager of a host runs its jobs on the host (none hands them to a cluster)."""
    return all(kind in LOCAL_MANAGERS for _name, kind in _managers(hv))


def _limits(hv):
    """TPV's max_accepted_cores/_mem for a host that runs its jobs itself, from its facts when they were
    gathered; none for one that hands them to a cluster (its own cores say nothing of the cluster's)."""
    if not _runs_jobs_itself(hv):
        return {}
    limits = {}
    cores, memory = hv.get("ansible_processor_vcpus"), hv.get("ansible_memtotal_mb")
    if isinstance(cores, int) and cores > 0:
        limits["max_accepted_cores"] = cores
    memory = memory if isinstance(memory, int) and memory > 0 else None
    known = ([memory] if memory else []) + _unit_memory_limits_mb(hv, memory)
    if known:
        # In GiB, rounded down to a tenth: never more than the smallest of them.
        limits["max_accepted_mem"] = math.floor(min(known) / 1024 * 10 + 1e-9) / 10
    return limits


# What a job on a host that runs its jobs itself learns of what TPV gave it. Pulsar's job script sets
# GALAXY_SLOTS from a cluster's variables only, else from the environment, else 1, and then the destination's
# environment: these put TPV's cores and memory (GiB) there, as GALAXY_SLOTS and GALAXY_MEMORY_MB, for the
# tools that read them. A tool with no cores or memory in TPV keeps what the job had ($GALAXY_SLOTS: Pulsar
# writes each value in double quotes). TPV evaluates each value as an f-string, where a name it did not set
# is not defined: globals() is the evaluation's namespace.
TPV_JOB_ENVIRONMENT = {
    "GALAXY_SLOTS": "{max(1, int(globals()['cores'])) if globals().get('cores') else '$GALAXY_SLOTS'}",
    "GALAXY_MEMORY_MB": "{int(float(globals()['mem']) * 1024) if globals().get('mem') else '$GALAXY_MEMORY_MB'}",
}


def _job_environment(hv):
    """TPV's env for a host's destination: none for one that hands its jobs to a cluster, whose own variables
    (SLURM_CPUS_ON_NODE, ...) the job script reads."""
    if not _runs_jobs_itself(hv):
        return {}
    return {"env": dict(TPV_JOB_ENVIRONMENT)}


_SYSTEMD_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([KMGT]?)$")


def _memory_mb(value, memory):
    """A unit's memory setting in MiB: bytes with systemd's K, M, G or T (powers of 1024, decimals allowed),
    or a share of the host's memory (memory, in MiB, None when unknown); of a soft:hard pair (LimitDATA) the
    soft one; None for none (empty, 0, infinity) or what is not such a value."""
    value = str(value).split(":", maxsplit=1)[0].strip()
    if value.endswith("%"):
        try:
            return memory * float(value[:-1]) / 100 or None if memory else None
        except ValueError:
            return None
    match = _SYSTEMD_SIZE.match(value)
    if not match:
        return None
    return float(match[1]) * 1024 ** "BKMGT".index(match[2] or "B") / 1024 ** 2 or None


def _gib_limit(value):
    """galaxyproject.pulsar's pulsar_systemd_memory_limit as the pulsar role applies it (GiB, when its
    integer part is more than 0, as Jinja's int filter reads it), else None."""
    try:
        return f"{value}G" if int(float(str(value))) > 0 else None
    except ValueError:
        return None


def _unit_memory_limits_mb(hv, memory):
    """The memory limits the pulsar role puts in the host's unit (MiB), as it reads them: MemoryMax from
    pulsar_memory_max, galaxyproject.pulsar's pulsar_systemd_memory_limit (GiB) over it, LimitDATA from
    pulsar_process_memory_max, and the admin's pulsar_systemd_service_options over all; a user's unit
    (rootless) gets only galaxyproject.pulsar's and the admin's, not the collection's own."""
    memory_max, data = (None, None) if boolean(hv.get("pulsar_rootless", False), strict=False) else (
        hv.get(name, default) for name, default in
        zip(("pulsar_memory_max", "pulsar_process_memory_max"), PULSAR_MEMORY_LIMITS))
    memory_max = _gib_limit(hv.get("pulsar_systemd_memory_limit", 0)) or memory_max
    options = hv.get("pulsar_systemd_service_options") or {}
    if isinstance(options, Mapping):
        memory_max, data = options.get("MemoryMax", memory_max), options.get("LimitDATA", data)
    return [limit for limit in (_memory_mb(memory_max, memory), _memory_mb(data, memory)) if limit]


def _merged_env(base, entries):
    """TPV's list form of env (a mapping's entries as name and value, then entries): an entry of entries
    replaces the one of base with its name, as TPV merges env lists; execute and file entries are kept."""
    names = {entry.get("name") for entry in entries if isinstance(entry, Mapping)}
    return [{"name": name, "value": value} for name, value in base.items() if name not in names] + list(entries)


def _merged(base, override):
    """base with override merged in, mappings recursively, anything else replaced."""
    out = dict(base)
    for key, value in (override or {}).items():
        out[key] = _merged(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) \
            else value
    return out


def pulsar_destinations(hosts, hostvars):
    """One destination per Pulsar host, with the id pulsar_destination_id gives it.

    Where the pulsar role ran on the host in this run, from what it computed
    (the pulsar_endpoint fact it sets); else from the host's inputs, read as
    the role reads them (pulsar_endpoint_from_inputs). Relay mode: the relay,
    its account, topic prefix and the staging directory. Message queue mode:
    the broker URL, its key prefix (pulsar_fleet) and the staging directory.
    Otherwise REST: the URL it listens at (_rest_url), the token. Each also
    holds "tpv": its TPV destination's limits and scheduling tags (it requires
    its own id), with the host's pulsar_tpv_destination merged in.
    """
    hosts = list(hosts or [])
    fleet = pulsar_fleet(hosts, hostvars)
    out = []
    for host in hosts:
        hv = hostvars[host]
        ident = fleet[host]["id"]
        endpoint = _endpoint(hv)
        if endpoint["mode"] == "relay":
            destination = {"id": ident, "relay_url": endpoint["relay_url"],
                           "relay_username": endpoint["relay_username"],
                           "relay_password": endpoint["relay_password"],
                           "relay_topic_prefix": fleet[host]["relay_topic_prefix"],
                           "jobs_directory": endpoint["staging_directory"]}
        elif endpoint["mode"] == "mq":
            destination = {"id": ident, "amqp_url": endpoint["message_queue_url"],
                           "jobs_directory": endpoint["staging_directory"]}
            if fleet[host]["amqp_key_prefix"]:
                destination["amqp_key_prefix"] = fleet[host]["amqp_key_prefix"]
        else:
            destination = {"id": ident, "url": _rest_url(host, hv), "private_token": endpoint["private_token"]}
        destination["host"] = host
        tpv = {**_limits(hv), **_job_environment(hv), "scheduling": {"require": [ident]}}
        own = hv.get("pulsar_tpv_destination") or {}
        destination["tpv"] = _merged(tpv, own)
        if "env" in tpv and isinstance(own, Mapping) and isinstance(own.get("env"), list):
            destination["tpv"]["env"] = _merged_env(tpv["env"], own["env"])
        out.append(destination)
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


def pulsar_destination_problems(destinations):
    """What each destination lacks for its kind, as "id: ..." (empty when nothing): a REST one an http(s) url and a
    private_token, an MQ one an amqp://, amqps:// or pyamqp:// URL and an absolute jobs_directory, a relay one an
    http(s)://host[:port] relay_url, relay_username, relay_password and an absolute jobs_directory."""
    def absolute(value):
        return isinstance(value, str) and value.startswith("/")

    out = []
    for destination in destinations or []:
        ident, kind, lacks = destination.get("id", "(no id)"), _kind(destination), []
        if kind == "rest":
            if not re.match(r"^https?://", str(destination.get("url") or "")):
                lacks.append("an http(s) url")
            if not destination.get("private_token"):
                lacks.append("a private_token")
        elif kind == "mq":
            if not re.match(r"^(amqps?|pyamqp)://", str(destination.get("amqp_url") or "")):
                lacks.append("an amqp://, amqps:// or pyamqp:// amqp_url")
        else:
            if not re.match(r"^https?://[^/ ]+/?$", str(destination.get("relay_url") or "")):
                lacks.append("a relay_url https://host[:port]")
            lacks += [f"a {key}" for key in ("relay_username", "relay_password") if not destination.get(key)]
        if kind != "rest" and not absolute(destination.get("jobs_directory")):
            lacks.append("an absolute jobs_directory")
        if lacks:
            out.append(f"{ident} ({kind}) needs {', '.join(lacks)}")
    return out


def pulsar_destination_kinds(destinations):
    """The destinations by kind: {rest: [...], mq: [...], relay: [...]}."""
    kinds = {"rest": [], "mq": [], "relay": []}
    for destination in destinations:
        kinds[_kind(destination)].append(destination)
    return kinds


def _runner_ids(destinations, key, suffix):
    """One runner id per distinct key, named after the first destination using it: <id>_mq, <id>_relay. Hosts on
    one broker have their own queue prefixes and so their own runners: a host's runner keeps its name when others
    come or go (Galaxy recovers a job through the runner named in its row)."""
    ids = {}
    for destination in destinations:
        ids.setdefault(key(destination), f"{destination['id']}_{suffix}")
    return ids


def _mq_key(destination):
    """An MQ runner's identity: the broker URL and the queue prefix."""
    return (destination["amqp_url"], str(destination.get("amqp_key_prefix") or ""))


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
    One MQ runner per broker URL and queue prefix (two runners on one status
    queue would each see part of the updates); one relay runner per relay
    account and topic prefix (Galaxy's relay credentials are runner
    parameters). Runner ids: _runner_ids.
    """
    kinds = pulsar_destination_kinds(destinations)
    mq_ids = _runner_ids(kinds["mq"], _mq_key, "mq")
    relay_ids = _runner_ids(kinds["relay"], _relay_key, "relay")
    workers = settings["runner_workers"]

    runners = [{"id": "local", "load": LOCAL_RUNNER, "workers": settings["local_workers"], "params": {}}]
    if kinds["rest"]:
        runners.append({"id": "pulsar", "load": REST_RUNNER, "workers": workers,
                        "params": {"transport_timeout": settings["transport_timeout"]}})
    mq_params = settings.get("mq_runner_params", {})
    for (url, prefix), ident in mq_ids.items():
        # Galaxy's runner takes no server_hostname: it checks the chain, not the name.
        tls = amqp_tls(url, settings.get("amqp_ca_certs", ""), mq_params, server_hostname=False)
        params = {"amqp_url": tls["url"], "galaxy_url": settings["galaxy_url"], **tls["params"], **mq_params}
        if prefix:
            params["amqp_key_prefix"] = prefix
        runners.append({"id": ident, "load": MQ_RUNNER, "workers": workers, "params": params})
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
            runner = mq_ids[_mq_key(destination)] if kind == "mq" else relay_ids[_relay_key(destination)]
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


def galaxy_tpv_destinations(job_config, destinations):
    """TPV's destinations for the Pulsar environments of job_config (galaxy_job_config's): each with its runner,
    its parameters as Galaxy's environment has them, and its "tpv" entry (limits, scheduling tags: see
    pulsar_destinations; a destination given by hand without one requires its own id)."""
    tpv = {d["id"]: d.get("tpv") or {"scheduling": {"require": [d["id"]]}} for d in destinations}
    out = {}
    for environment in job_config["environments"]:
        if environment["id"] in tpv:
            out[environment["id"]] = {"runner": environment["runner"], **tpv[environment["id"]],
                                      "params": dict(environment["params"],
                                                     **(tpv[environment["id"]].get("params") or {}))}
    return {"destinations": out}


def galaxy_destination_index(environments, destinations):
    """{id: {host, runner, queues}} of the Pulsar environments, without a secret: what names what, for the file
    that shows in --diff when an id, a runner or a queue prefix changes."""
    by_id = {d["id"]: d for d in destinations}
    out = {}
    for environment in environments:
        destination = by_id.get(environment["id"], {})
        kind = _kind(destination)
        queues = {"mq": str(destination.get("amqp_key_prefix") or "pulsar_ (Pulsar's default)"),
                  "relay": str(destination.get("relay_topic_prefix") or "(none)"), "rest": "(REST: no queue)"}[kind]
        out[environment["id"]] = {"host": destination.get("host", "(given in pulsar_galaxy_destinations)"),
                                  "runner": environment["runner"], "queue_prefix": queues}
    return out


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
            "pulsar_destination_id": pulsar_destination_id,
            "pulsar_fleet": pulsar_fleet,
            "pulsar_fleet_conflicts": pulsar_fleet_conflicts,
            "galaxy_tpv_destinations": galaxy_tpv_destinations,
            "galaxy_destination_index": galaxy_destination_index,
            "pulsar_mode": pulsar_mode,
            "pulsar_destination_kinds": pulsar_destination_kinds,
            "pulsar_destination_problems": pulsar_destination_problems,
            "galaxy_job_config": galaxy_job_config,
            "galaxy_tool_destinations": galaxy_tool_destinations,
            "galaxy_job_conf_document": galaxy_job_conf_document,
            "galaxy_group_name": galaxy_group_name,
            "repeated": repeated,
        }

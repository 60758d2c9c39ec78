# Copyright: galaxy_ops maintainers
# MIT License (see LICENSE)
"""An admin's variables against this collection's: galaxyproject.pulsar's
(1.0.x) names, each honoured, taken with a warning or refused with the
replacement, and any other pulsar_* name no role of the collection reads."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"

# Names the collection sets or documents besides its roles' options: facts
# and results the roles set, the playbooks' variables (playbooks/*.yml).
EXTRA_KNOWN = ("pulsar_endpoint", "pulsar_galaxy_job_conf_result", "pulsar_play_hosts", "pulsar_play_nginx")

SERVED_BY_GUNICORN = (
    "Pulsar 0.16 serves its API with gunicorn (pulsar-serve) on pulsar_host:pulsar_port, behind nginx "
    "(the pulsar_nginx role)")
NO_UWSGI = f"uWSGI is not used: {SERVED_BY_GUNICORN}"
VENV_BY_PYTHON = "not used: the venv is made with pulsar_python -m venv"
NO_INI_MANAGERS = "ini job managers are gone from Pulsar: set pulsar_yaml_config.managers"
BECOME_AS_CONNECTING_USER = ("not used: the roles run with become: true as the user Ansible connects as, and "
                             "Pulsar's files are root's")

# galaxyproject.pulsar's variables (defaults/main.yml and README of 1.0.x, and
# the older ones tutorials still carry). "honoured": the roles read it with
# upstream's meaning (see roles/pulsar/defaults/main.yml). "warned": accepted
# and not needed here; the reason says why. "refused": the setting asks for
# something this collection does not do; the reason names the replacement.
# A callable decides by value: it returns None (honoured) or (kind, reason).
UPSTREAM = {
    "pulsar_root": lambda v, given: (
        None if not v or given.get("pulsar_server_dir") in (None, v) else
        ("refused", "galaxyproject.pulsar lays Pulsar out below pulsar_root, this collection below "
                    "pulsar_server_dir, and both are set to different directories: keep one (pulsar_root alone "
                    "gives that role's layout)")),
    "pulsar_dependencies_dir": None,
    "pulsar_systemd_service_name": None,
    "pulsar_systemd_environment": None,
    "pulsar_systemd_memory_limit": None,
    "pulsar_systemd_nofile_limit": None,
    "pulsar_job_metrics_plugins": None,
    "pulsar_pycurl_ssl_library": None,
    "pulsar_virtualenv_python": None,
    "pulsar_group": None,
    "pulsar_log_level": None,
    "pulsar_systemd_runner": lambda v, given: (
        None if not v or (v == "webless" and _message_queue(given)) else
        ("refused", "webless runs Pulsar without its web server, taking jobs from a message queue: set "
                    "pulsar_yaml_config.message_queue_url (or pulsar_message_queue_url, or pulsar_relay_url)")
        if v == "webless" else
        ("refused", f"must be paste, uwsgi or webless; {SERVED_BY_GUNICORN}")
        if v not in ("paste", "uwsgi") else
        ("warned", f"{v}: {SERVED_BY_GUNICORN}; with a message queue URL set, Pulsar runs without a web "
                   "server instead (webless)")),
    "pulsar_package_name": lambda v, given: (
        None if v == "pulsar-app" else
        ("refused", "the roles install pulsar-app==pulsar_package_version from the package index "
                    "(pulsar_pip_index_url for a mirror); a git URL or another package is not installed")),
    "pulsar_separate_privileges": None,
    "pulsar_privsep_user": lambda v, given: (
        None if (v.get("name") if isinstance(v, Mapping) else v) == "root" else
        ("refused", "Pulsar's code and configuration are root's here (the privilege separation "
                    "pulsar_separate_privileges asks for, with root as the owner): another owner is not supported")),
    "pulsar_systemd_enabled": lambda v, given: (
        None if str(v).lower() in ("true", "yes", "1", "on") else
        ("refused", "the unit is always enabled; pulsar_systemd: false installs Pulsar without managing a service")),
    "pulsar_systemd_state": lambda v, given: (
        None if v == "started" else
        ("refused", "the service is always started; pulsar_systemd: false installs Pulsar without managing it")),
    "pulsar_uwsgi_options": lambda v, given: (
        None if not v else ("refused", NO_UWSGI)),
    "pulsar_uwsgi_socket": ("refused", NO_UWSGI),
    "pulsar_server_egg": ("refused", SERVED_BY_GUNICORN),
    "pulsar_ssl_pem": ("refused", "Pulsar serves plain HTTP on pulsar_host; TLS is nginx's "
                                  "(pulsar_nginx_tls, pulsar_nginx_tls_certificate, pulsar_nginx_tls_certificate_key)"),
    "pulsar_dependency_resolvers": ("refused", "set pulsar_yaml_config.dependency_resolution, or write your own "
                                               "resolvers file with pulsar_dependency_resolvers_template"),
    "pulsar_job_managers": ("refused", NO_INI_MANAGERS),
    "pulsar_job_managers_config": ("refused", NO_INI_MANAGERS),
    "pulsar_pip_install": ("warned", "not needed: Pulsar is always installed from the package index "
                                     "(galaxyproject.pulsar 1.x ignores it too)"),
    "pulsar_git_repo": ("warned", "not used: Pulsar is installed from the package index (pulsar_package_version)"),
    "pulsar_virtualenv_command": ("warned", VENV_BY_PYTHON),
    "pip_virtualenv_command": ("warned", VENV_BY_PYTHON),
    "pip_extra_args": ("refused", "not passed to pip: use pulsar_pip_index_url, or pip's environment variables "
                                  "(PIP_EXTRA_INDEX_URL, ...) in pulsar_install_environments"),
    "pulsar_restart_handler_name": ("warned", "not used: the role restarts Pulsar with its own handler"),
    "pulsar_job_metrics_config_file": ("refused", "set pulsar_yaml_config.job_metrics_config_file (a .yml file "
                                                  "in pulsar_config_dir is written from pulsar_job_metrics_plugins)"),
    "pulsar_changeset_id": ("refused", "Pulsar is installed from the package index: set pulsar_package_version"),
    "pulsar_create_privsep_user": ("warned", "not used: Pulsar's code and configuration are root's"),
    "pulsar_dirs": ("warned", "not used: the directories come from app.yml's paths (pulsar_yaml_config and the "
                              "pulsar_*_dir variables)"),
    "pulsar_privsep_dirs": ("warned", "not used: the config dir is root's"),
    "pulsar_config_backup": ("warned", "not used: the role keeps no backups of the files it writes"),
    "pulsar_install_environments": lambda v, given: (
        None if not isinstance(v, Mapping) or not any(isinstance(x, Mapping) for x in v.values()) else
        ("warned", "per-package environments (galaxyproject.pulsar's form) are merged into one environment for "
                   "the one pip run that installs everything")),
    "pulsar_become_users": ("warned", BECOME_AS_CONNECTING_USER),
    "pulsar_remote_users": ("warned", BECOME_AS_CONNECTING_USER),
}


def _message_queue(given):
    app = given.get("pulsar_yaml_config") or {}
    return bool(given.get("pulsar_message_queue_url") or given.get("pulsar_relay_url")
                or (isinstance(app, Mapping) and app.get("message_queue_url")))


@lru_cache(maxsize=None)
def known_variables(roles=ROLES):
    """Every variable a role of the collection documents (its argument specs), and the extras.
    Read once per controller process: the preflight asks several times per host."""
    names = set(EXTRA_KNOWN) | set(UPSTREAM)
    for spec in sorted(Path(roles).glob("*/meta/argument_specs.yml")):
        for entry in (yaml.safe_load(spec.read_text()) or {}).get("argument_specs", {}).values():
            names |= set((entry or {}).get("options") or {})
    return tuple(sorted(names))


# Besides upstream's names, the values a rule reads.
CONTEXT = ("pulsar_yaml_config", "pulsar_message_queue_url", "pulsar_relay_url", "pulsar_server_dir")


def pulsar_variables_to_read(names):
    """Of the names defined for a host, those whose value a rule reads."""
    return [name for name in names or [] if callable(UPSTREAM.get(name)) or name in CONTEXT]


def pulsar_variable_report(names, values=None, known=None):
    """What to say about the variables defined for a host.

    ``names``: the pulsar_* and pip_* names defined there; ``values``: the
    values of those pulsar_variables_to_read names. Returns {refused: [{name,
    reason}], warned: [{name, reason}], unknown: [names], refusal: text,
    warning: text}; no value is shown. A mapping for ``names`` serves as both.
    """
    if isinstance(names, Mapping):
        values, names = dict(names), list(names)
    values = dict(values or {})
    known = set(known if known is not None else known_variables())
    report = {"refused": [], "warned": [], "unknown": []}
    for name in sorted(set(names or [])):
        if name not in known:
            if name.startswith("pulsar_"):
                report["unknown"].append(name)
            continue
        rule = UPSTREAM.get(name)
        verdict = rule(values.get(name), values) if callable(rule) else rule
        if verdict:
            kind, reason = verdict
            report[kind].append({"name": name, "reason": reason})
    report["refusal"] = " ".join(f"{item['name']}: {item['reason']}." for item in report["refused"])
    report["warning"] = " ".join(
        [f"{item['name']}: {item['reason']}." for item in report["warned"]]
        + ([f"No role of galaxy_ops.pulsar reads {', '.join(report['unknown'])} (a typo, or another role's "
            "variable?); see the roles' READMEs and docs/migration.md."] if report["unknown"] else []))
    return report


def job_metrics_plugin(entry):
    """One job metrics plugin in Galaxy's form: {type: NAME, ...options}.
    galaxyproject.pulsar's older {name: NAME, args: {...}} becomes that; a bare
    name is {type: NAME}."""
    if isinstance(entry, str):
        return {"type": entry}
    if isinstance(entry, Mapping) and "type" in entry:
        return dict(entry)
    if isinstance(entry, Mapping) and "name" in entry:
        args = entry.get("args") or {}
        # galaxyproject.pulsar's own default writes args as [{name, value}].
        if isinstance(args, list) and all(isinstance(a, Mapping) and "name" in a for a in args):
            args = {a["name"]: a.get("value") for a in args}
        if isinstance(args, Mapping):
            return dict({"type": entry["name"]}, **args)
    raise ValueError(f"pulsar_job_metrics_plugins: {entry!r} is not a plugin: write {{type: NAME, ...options}} "
                     "(or galaxyproject.pulsar's {name: NAME, args: [{name: OPTION, value: VALUE}]})")


class FilterModule:
    """galaxy_ops.pulsar filters for an admin's variables."""

    def filters(self):
        return {"job_metrics_plugin": job_metrics_plugin,
                "pulsar_variable_report": pulsar_variable_report,
                "pulsar_variables_to_read": pulsar_variables_to_read}

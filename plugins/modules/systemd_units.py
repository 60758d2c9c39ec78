#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: galaxy_ops.pulsar contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring several systemd units to their enabled and running state in one round trip: what a systemd_service task
per unit does, with one `systemctl show` for all of them (the no-op run's cost, docs/benchmarks.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: systemd_units
short_description: Enable, start, stop or disable several systemd units in one call
description:
  - Reads the state of every unit of O(units) with one C(systemctl show), then enables, disables, starts or stops
    only the ones whose state differs from what is asked, the way M(ansible.builtin.systemd_service) with
    O(ansible.builtin.systemd_service#module:enabled) and O(ansible.builtin.systemd_service#module:state) does for
    one unit.
  - A unit with neither O(units[].enabled) nor O(units[].state) is only looked at (its state is returned).
  - It does not reload systemd's configuration; do that first when unit files changed.
version_added: 0.2.0
author: galaxy_ops.pulsar contributors (@galaxy-ops)
options:
  units:
    description: The units, in the order their states are returned.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The unit's full name, with its suffix (V(nginx.service), V(pulsar-cleanup.timer)).
        type: str
        required: true
      enabled:
        description: Whether the unit starts at boot. Left as it is when not set.
        type: bool
      state:
        description:
          - V(started) starts the unit unless it is active or activating; V(stopped) stops it when it is.
          - Left as it is when not set.
        type: str
        choices: [started, stopped]
  scope:
    description: The system manager, or (V(user)) the connecting user's manager.
    type: str
    choices: [system, user]
    default: system
attributes:
  check_mode:
    support: full
    description: Reports what would change and changes nothing; a unit that does not exist yet (its file not
      written in check mode) would be enabled and started.
  diff_mode:
    support: none
    description: Returns each unit's state instead of a diff.
  platform:
    support: full
    platforms: posix
    description: Hosts run by systemd.
"""

EXAMPLES = r"""
- name: Enable and start Pulsar and its cleanup timer; stop the metrics timer
  galaxy_ops.pulsar.systemd_units:
    units:
      - name: pulsar.service
        enabled: true
        state: started
      - name: pulsar-cleanup.timer
        enabled: true
        state: started
      - name: pulsar-metrics.timer
        enabled: false
        state: stopped
  register: __units
"""

RETURN = r"""
units:
  description: One entry per unit of O(units), in the same order, with its state as found (before any change).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The unit's name.
      type: str
    changed:
      description: Whether the unit was (or, in check mode, would be) enabled, disabled, started or stopped.
      type: bool
    load_state:
      description: systemd's C(LoadState) (V(loaded), V(not-found), V(masked), ...).
      type: str
    active_state:
      description: systemd's C(ActiveState) (V(active), V(inactive), V(activating), V(failed), ...).
      type: str
    unit_file_state:
      description: systemd's C(UnitFileState) (V(enabled), V(disabled), V(static), ...; empty when not found).
      type: str
    fragment_path:
      description: The unit's file, empty when it has none.
      type: str
changed_units:
  description: The names of the units that changed (or would, in check mode).
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

PROPERTIES = {"LoadState": "load_state", "ActiveState": "active_state", "UnitFileState": "unit_file_state",
              "FragmentPath": "fragment_path"}
# What systemctl is-enabled answers 0 for: the unit starts when wanted, or cannot be disabled.
ENABLED = ("enabled", "enabled-runtime", "static", "indirect", "generated", "transient", "alias")
# Disabling changes these; the others are not enabled, or systemctl cannot disable them.
DISABLE = ("enabled", "enabled-runtime")
# systemd_service's "running": a start asked for now would not start it again.
RUNNING = ("active", "activating", "reloading", "refreshing")


def show(module, systemctl, names):
    """The properties of each unit, in the order of names (systemctl show prints a block per unit)."""
    rc, out, err = module.run_command(
        systemctl + ["show", "--property=" + ",".join(PROPERTIES), "--"] + names)
    if rc != 0:
        module.fail_json(msg="systemctl show failed (rc %d): %s" % (rc, err or out), rc=rc, stdout=out, stderr=err)
    blocks = out.strip("\n").split("\n\n")
    if len(blocks) != len(names):
        module.fail_json(msg="systemctl show answered %d blocks for %d units" % (len(blocks), len(names)), stdout=out)
    states = []
    for name, block in zip(names, blocks):
        state = dict.fromkeys(PROPERTIES.values(), "")
        for line in block.splitlines():
            key, value = line.split("=", 1) if "=" in line else (line, "")
            if key in PROPERTIES:
                state[PROPERTIES[key]] = value
        state["name"] = name
        states.append(state)
    return states


def plan(module, spec, state):
    """The systemctl verbs spec needs for a unit in state (or, in check mode, for a unit not written yet)."""
    wants_up = spec["enabled"] is True or spec["state"] == "started"
    if state["load_state"] == "masked" and wants_up:
        module.fail_json(msg="%s is masked: it cannot be enabled or started" % spec["name"])
    if state["load_state"] == "not-found":
        if wants_up and not module.check_mode:
            module.fail_json(msg="Could not find the unit %s" % spec["name"])
        # Nothing to stop or disable; in check mode a unit to be written would be enabled and started.
        return [verb for verb, wanted in (("enable", spec["enabled"] is True), ("start", spec["state"] == "started"))
                if wanted]
    verbs = []
    if spec["enabled"] is True and state["unit_file_state"] not in ENABLED:
        verbs.append("enable")
    if spec["enabled"] is False and state["unit_file_state"] in DISABLE:
        verbs.append("disable")
    running = state["active_state"] in RUNNING
    if spec["state"] == "started" and not running:
        verbs.append("start")
    if spec["state"] == "stopped" and running:
        verbs.append("stop")
    return verbs


def main():
    module = AnsibleModule(
        argument_spec={
            "units": {"type": "list", "elements": "dict", "required": True, "options": {
                "name": {"type": "str", "required": True},
                "enabled": {"type": "bool"},
                "state": {"type": "str", "choices": ["started", "stopped"]},
            }},
            "scope": {"type": "str", "choices": ["system", "user"], "default": "system"},
        },
        supports_check_mode=True,
    )
    specs = module.params["units"]
    names = [spec["name"] for spec in specs]
    if len(set(names)) != len(names):
        module.fail_json(msg="units names a unit twice: %s" % ", ".join(sorted({n for n in names if names.count(n) > 1})))
    systemctl = [module.get_bin_path("systemctl", required=True)]
    if module.params["scope"] == "user":
        systemctl.append("--user")
        # As systemd_service: the user manager's bus, when the session did not set it.
        os.environ.setdefault("XDG_RUNTIME_DIR", "/run/user/%d" % os.geteuid())
    states = show(module, systemctl, names) if names else []
    todo = {}
    for spec, state in zip(specs, states):
        verbs = plan(module, spec, state)
        state["changed"] = bool(verbs)
        for verb in verbs:
            todo.setdefault(verb, []).append(spec["name"])
    if not module.check_mode:
        # Enabled before started (as systemd_service); stopped before disabled.
        for verb in ("enable", "disable", "stop", "start"):
            if verb in todo:
                rc, out, err = module.run_command(systemctl + [verb, "--"] + todo[verb])
                if rc != 0:
                    module.fail_json(msg="systemctl %s %s failed (rc %d): %s" % (
                        verb, " ".join(todo[verb]), rc, err or out), rc=rc, stdout=out, stderr=err, units=states)
    changed = [state["name"] for state in states if state["changed"]]
    module.exit_json(changed=bool(changed), units=states, changed_units=changed)


if __name__ == "__main__":
    main()

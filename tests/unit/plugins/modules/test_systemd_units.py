"""galaxy_ops.pulsar.systemd_units: one `systemctl show` for all units, then only the verbs a unit's state needs;
check mode changes nothing. Run as Ansible runs a module, against a fake systemctl that keeps unit states in a
JSON file and logs every call."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

from conftest import ROOT

MODULE = ROOT / "plugins" / "modules" / "systemd_units.py"

FAKE = r'''#!PYTHON
import json, os, sys
path = os.environ["FAKE_UNITS"]
units = json.load(open(path))
args = [a for a in sys.argv[1:] if a != "--user"]
with open(path + ".log", "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\n")
verb, names = args[0], [a for a in args[1:] if not a.startswith("--")]
if verb == "show":
    props = [a for a in args if a.startswith("--property=")][0].split("=", 1)[1].split(",")
    blocks = []
    for name in names:
        unit = units.get(name, {"LoadState": "not-found", "ActiveState": "inactive", "UnitFileState": "",
                                "FragmentPath": ""})
        blocks.append("\n".join("%s=%s" % (p, name if p == "Id" else unit.get(p, "")) for p in props))
    print("\n\n".join(blocks))
    sys.exit(0)
if os.environ.get("FAKE_FAIL") == verb:
    print("Job for %s failed." % names[0], file=sys.stderr)
    sys.exit(1)
for name in names:
    unit = units[name]
    if verb == "enable":
        unit["UnitFileState"] = "enabled"
    elif verb == "disable":
        unit["UnitFileState"] = "disabled"
    elif verb == "start":
        unit["ActiveState"] = "active"
    elif verb == "stop":
        unit["ActiveState"] = "inactive"
json.dump(units, open(path, "w"))
'''


def unit(active="active", enabled="enabled"):
    return {"LoadState": "loaded", "ActiveState": active, "UnitFileState": enabled,
            "FragmentPath": "/etc/systemd/system/x"}


def run(tmp_path, units, state, check=False, scope="system", fail=None):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "systemctl"
    fake.write_text(FAKE.replace("PYTHON", sys.executable))
    fake.chmod(0o755)
    store = tmp_path / "units.json"
    store.write_text(json.dumps(state))
    log = tmp_path / "units.json.log"
    if log.exists():
        log.unlink()
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
        "units": units, "scope": scope, "_ansible_check_mode": check}}))
    env = dict(os.environ, PATH="%s:%s" % (bin_dir, os.environ["PATH"]), FAKE_UNITS=str(store))
    if fail:
        env["FAKE_FAIL"] = fail
    out = subprocess.run([sys.executable, str(MODULE), str(args)], capture_output=True, text=True, env=env,
                         check=False)
    calls = log.read_text().splitlines() if log.exists() else []
    return json.loads(out.stdout), calls, json.loads(store.read_text())


UP = {"enabled": True, "state": "started"}


def test_units_in_their_state_take_one_show_and_nothing_else(tmp_path):
    result, calls, after = run(tmp_path, [dict(UP, name="a.service"), dict(UP, name="b.timer")],
                               {"a.service": unit(), "b.timer": unit(enabled="static", active="activating")})
    assert not result["changed"] and result["changed_units"] == [], result
    assert after["b.timer"]["ActiveState"] == "activating", after
    assert len(calls) == 1 and calls[0].startswith("show "), calls


def test_only_what_differs_is_done_one_call_per_verb(tmp_path):
    result, calls, after = run(tmp_path, [
        dict(UP, name="a.service"), dict(UP, name="b.timer"), dict(UP, name="c.timer"),
        {"name": "d.timer", "enabled": False, "state": "stopped"}, {"name": "e.service"}],
        {"a.service": unit(active="failed"), "b.timer": unit(enabled="disabled", active="inactive"),
         "c.timer": unit(), "d.timer": unit(), "e.service": unit(active="inactive", enabled="static")})
    assert result["changed_units"] == ["a.service", "b.timer", "d.timer"], result
    assert calls[1:] == ["enable -- b.timer", "disable -- d.timer", "stop -- d.timer",
                         "start -- a.service b.timer"], calls
    assert after["b.timer"]["UnitFileState"] == "enabled" and after["a.service"]["ActiveState"] == "active"
    assert after["d.timer"] == dict(unit(active="inactive", enabled="disabled"))
    # Looked at only: e.service's state is returned, as found.
    assert result["units"][4] == {"name": "e.service", "changed": False, "load_state": "loaded",
                                  "active_state": "inactive", "unit_file_state": "static",
                                  "fragment_path": "/etc/systemd/system/x"}, result


def test_check_mode_reports_and_changes_nothing(tmp_path):
    state = {"a.service": unit(active="inactive", enabled="disabled")}
    result, calls, after = run(tmp_path, [dict(UP, name="a.service"), dict(UP, name="new.timer")], state,
                               check=True)
    # new.timer is not written yet in check mode: it would be enabled and started.
    assert result["changed_units"] == ["a.service", "new.timer"], result
    assert len(calls) == 1 and after == state, calls


def test_a_missing_unit_to_start_fails_and_one_to_stop_is_nothing(tmp_path):
    result, calls, after = run(tmp_path, [{"name": "gone.timer", "enabled": False, "state": "stopped"}], {})
    assert not result.get("failed") and not result["changed"], result
    assert result["units"][0]["load_state"] == "not-found" and result["units"][0]["fragment_path"] == ""
    result, calls, after = run(tmp_path, [dict(UP, name="gone.service")], {})
    assert result["failed"] and "Could not find the unit gone.service" in result["msg"], result
    assert len(calls) == 1, calls


def test_a_masked_unit_is_refused_and_a_failed_start_says_why(tmp_path):
    result, calls, after = run(tmp_path, [dict(UP, name="m.service")], {"m.service": dict(unit(), LoadState="masked")})
    assert result["failed"] and "masked" in result["msg"] and len(calls) == 1, result
    result, calls, after = run(tmp_path, [dict(UP, name="a.service")], {"a.service": unit(active="failed")}, fail="start")
    assert result["failed"] and "Job for a.service failed." in result["msg"], result


def test_user_scope_asks_the_user_manager(tmp_path):
    result, calls, after = run(tmp_path, [dict(UP, name="a.service")], {"a.service": unit(active="inactive")},
                               scope="user")
    assert result["changed"] and calls == [calls[0], "--user start -- a.service"], calls
    assert calls[0].startswith("--user show "), calls

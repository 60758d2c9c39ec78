"""Unit tests of plugins/filter/service.py (run by `make lint` with pytest)."""

import importlib.util
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[4] / "plugins/filter/service.py"
SPEC = importlib.util.spec_from_file_location("galaxy_ops_service_filters", PLUGIN)
service = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(service)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "*", "", None, "localhost", " 0.0.0.0 "])
def test_wildcards_and_localhost_are_reached_on_the_loopback(address):
    assert service.local_address(address) == "127.0.0.1"


@pytest.mark.parametrize("address", ["10.1.2.3", "pulsar.example.org", "::1", "127.0.0.1"])
def test_other_addresses_are_reached_as_given(address):
    assert service.local_address(address) == address


def test_each_layer_holds_the_layers_below_it():
    layers = service.systemd_sandbox_layers()
    assert [layer["name"] for layer in layers] == ["namespaces", "syscalls", "privileges"]
    namespaces, syscalls, privileges = (set(layer["settings"]) for layer in layers)
    assert privileges < syscalls < namespaces
    assert "ProtectSystem" in namespaces - syscalls
    assert "SystemCallFilter" in syscalls - privileges
    assert {"NoNewPrivileges", "CapabilityBoundingSet"} <= privileges


def test_unit_gets_unprobed_settings_with_its_layer():
    assert service.systemd_sandbox("privileges")["RemoveIPC"] == "true"
    assert "RemoveIPC" not in service.systemd_sandbox_layers()[-1]["settings"]


@pytest.mark.parametrize("layer", ["off", "none", None, ""])
def test_no_sandbox(layer):
    assert not service.systemd_sandbox(layer)


def test_service_settings_replace_or_add_in_their_layer_and_above():
    extra = {"namespaces": {"ProcSubset": "pid"}, "privileges": {"UMask": "0077"}}
    assert service.systemd_sandbox("namespaces", extra)["UMask"] == "0077"
    assert service.systemd_sandbox("namespaces", extra)["ProcSubset"] == "pid"
    assert service.systemd_sandbox("privileges", extra)["UMask"] == "0077"
    assert "ProcSubset" not in service.systemd_sandbox("syscalls", extra)
    assert service.systemd_sandbox("namespaces")["UMask"] == "0027"


def test_unknown_layers_are_refused():
    with pytest.raises(ValueError):
        service.systemd_sandbox("everything")
    with pytest.raises(ValueError):
        service.systemd_sandbox_layers({"kernel": {"X": "y"}})


def test_the_unit_keeps_the_settings_order_of_the_layers():
    names = list(service.systemd_sandbox("namespaces"))
    assert names.index("ProtectSystem") < names.index("RestrictSUIDSGID") < names.index("NoNewPrivileges")
    assert names[-1] == "RemoveIPC"

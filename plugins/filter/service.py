# Copyright: galaxy_ops maintainers
# MIT License (see LICENSE)
"""Filters the collection's roles share: where the role itself reaches a
service it configured, and the layers of a systemd unit's sandbox."""

from __future__ import annotations

# Addresses that mean "every interface", and the loopback's name: the role
# reaches the service there through the IPv4 loopback (gunicorn and uvicorn
# bind "localhost" as an IPv4 address).
WILDCARDS = ("0.0.0.0", "::", "*", "", "localhost")

# The sandbox, in three layers. Namespace settings need systemd to build mount,
# UTS and other namespaces; system call settings need it to keep CAP_SYS_ADMIN
# while it changes to the service user (systemd 257) to install a seccomp
# filter; privilege settings need neither. In a container without
# CAP_SYS_ADMIN, Debian 12's systemd silently skips the namespaces and Debian
# 13's cannot start a unit with either of the first two. A unit gets a layer
# with all those below it (see systemd_sandbox_layers).
LAYERS = (
    ("namespaces", {
        "ProtectSystem": "strict",
        "ProtectHome": "true",
        "PrivateTmp": "true",
        "PrivateDevices": "true",
        "ProtectKernelTunables": "true",
        "ProtectKernelModules": "true",
        "ProtectKernelLogs": "true",
        "ProtectControlGroups": "true",
        "ProtectClock": "true",
        "ProtectHostname": "true",
        "ProtectProc": "invisible",
    }),
    ("syscalls", {
        "RestrictSUIDSGID": "true",
        "RestrictRealtime": "true",
        "RestrictNamespaces": "true",
        "LockPersonality": "true",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        "SystemCallArchitectures": "native",
        "SystemCallFilter": "@system-service",
        "SystemCallErrorNumber": "EPERM",
    }),
    ("privileges", {
        "NoNewPrivileges": "true",
        "CapabilityBoundingSet": "",
        "AmbientCapabilities": "",
        "UMask": "0027",
    }),
)
# Not probed: the probe runs as nobody, whose IPC objects RemoveIPC would remove.
UNPROBED = {"RemoveIPC": "true"}
LAYER_NAMES = [name for name, _settings in LAYERS]


def local_address(address):
    """The address the role connects to for a service listening on `address`."""
    address = "" if address is None else str(address).strip()
    return "127.0.0.1" if address in WILDCARDS else address


def systemd_sandbox_layers(extra=None):
    """What the preflight probes, most first: [{name, settings}], each layer's
    settings with those of the layers below it. `extra` maps a layer's name to
    a service's own settings in it (added, or replacing the layer's)."""
    extra = extra or {}
    unknown = set(extra) - set(LAYER_NAMES)
    if unknown:
        raise ValueError(f"unknown sandbox layers {sorted(unknown)}: expected among {LAYER_NAMES}")
    layers = []
    for index, (name, _settings) in enumerate(LAYERS):
        merged = {}
        for below, settings in LAYERS[index:]:
            merged.update(settings)
            merged.update(extra.get(below) or {})
        layers.append({"name": name, "settings": merged})
    return layers


def systemd_sandbox(layer, extra=None):
    """The unit's settings for `layer` (a name of LAYERS; off or none: no
    sandbox): that layer's probed settings and the unprobed ones."""
    if layer in ("off", "none", None, ""):
        return {}
    if layer not in LAYER_NAMES:
        raise ValueError(f"unknown sandbox layer {layer!r}: expected one of {LAYER_NAMES + ['off', 'none']}")
    chosen = next(item for item in systemd_sandbox_layers(extra) if item["name"] == layer)
    return {**chosen["settings"], **UNPROBED}


class FilterModule:
    """galaxy_ops.pulsar filters for services."""

    def filters(self):
        return {
            "local_address": local_address,
            "systemd_sandbox_layers": systemd_sandbox_layers,
            "systemd_sandbox": systemd_sandbox,
        }

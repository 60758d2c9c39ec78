# Copyright: galaxy_ops maintainers
# MIT License (see LICENSE)
"""Pulsar's job managers as a given Pulsar release runs them."""

from __future__ import annotations

# Releases whose queued_python manager passes the monitor style to
# Manager._run under a misspelled keyword (montior=): every job is monitored
# in the background, so the queue's workers never wait and every job starts at
# once whatever num_concurrent_jobs says. 0.16.0 is the newest release.
IGNORES_NUM_CONCURRENT_JOBS = ((0, 15), (0, 16, 0))


def _release(version):
    parts = []
    for part in str(version).split("."):
        digits = "".join(char for char in part if char.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def pulsar_unapplied_job_limits(managers, version):
    """["name: N"] for each queued_python manager (the default type) in `managers` whose num_concurrent_jobs
    Pulsar `version` does not apply."""
    first, last = IGNORES_NUM_CONCURRENT_JOBS
    if not isinstance(managers, dict) or not first <= _release(version) <= last:
        return []  # not a mapping: refused by the role's preflight
    return [f"{name}: {manager['num_concurrent_jobs']}" for name, manager in managers.items()
            if isinstance(manager, dict) and "num_concurrent_jobs" in manager
            and manager.get("type", "queued_python") == "queued_python"]


class FilterModule:
    """galaxy_ops.pulsar filters for Pulsar's job managers."""

    def filters(self):
        return {"pulsar_unapplied_job_limits": pulsar_unapplied_job_limits}

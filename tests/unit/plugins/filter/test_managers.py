"""plugins/filter/managers.py: which num_concurrent_jobs settings a Pulsar release ignores."""

from ansible_collections.galaxy_ops.pulsar.plugins.filter.managers import pulsar_unapplied_job_limits


def test_queued_python_limits_are_named_on_the_releases_that_ignore_them():
    managers = {"_default_": {"num_concurrent_jobs": 4}, "big": {"type": "queued_python", "num_concurrent_jobs": 1},
                "slurm": {"type": "queued_cli", "job_plugin": "Slurm", "num_concurrent_jobs": 2},
                "plain": {"type": "queued_python"}}
    for version in ("0.16.0", "0.15.16", "0.15.0"):
        assert pulsar_unapplied_job_limits(managers, version) == ["_default_: 4", "big: 1"], version


def test_other_releases_and_no_managers_give_nothing():
    assert not pulsar_unapplied_job_limits({"_default_": {"num_concurrent_jobs": 4}}, "0.14.16")
    assert not pulsar_unapplied_job_limits({"_default_": {"num_concurrent_jobs": 4}}, "0.16.1")
    assert not pulsar_unapplied_job_limits(None, "0.16.0")
    assert not pulsar_unapplied_job_limits({"_default_": None}, "0.16.0")
    assert not pulsar_unapplied_job_limits(["queued_python"], "0.16.0")  # refused by the preflight

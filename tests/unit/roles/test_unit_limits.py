"""What Pulsar and its jobs may take of the host together: the unit settings the pulsar role renders from its
defaults and the admin's variables (docs/reliability.md "Bursts of jobs")."""

from test_build_packages import render

GIB = 1 << 30
# What files/safety_check.py reports for a host with 16 GiB.
SAFETY = {"memory": 16 * GIB, "sandbox": "namespaces", "unsafe": [], "take_over": []}


def limits(**admin):
    return render("{{ _pulsar_systemd_service_options }}", _pulsar_host_safety=SAFETY, **admin)


def test_defaults_size_the_limits_from_the_host():
    assert limits() == {"OOMPolicy": "continue", "MemoryMax": "90%", "LimitDATA": int(16 * GIB * 0.9),
                        "TasksMax": "10%", "CPUWeight": 50}


def test_admin_values_and_none():
    assert limits(pulsar_memory_max="8G", pulsar_process_memory_max="2G", pulsar_tasks_max="512",
                  pulsar_cpu_weight=200) == {"OOMPolicy": "continue", "MemoryMax": "8G", "LimitDATA": "2G",
                                             "TasksMax": "512", "CPUWeight": 200}
    assert limits(pulsar_memory_max="", pulsar_process_memory_max="", pulsar_tasks_max="",
                  pulsar_cpu_weight=0) == {"OOMPolicy": "continue"}


def test_a_host_whose_memory_is_unknown_gets_no_process_limit():
    assert "LimitDATA" not in render("{{ _pulsar_systemd_service_options }}", _pulsar_host_safety={})


def test_upstream_memory_limit_and_unit_options_win():
    got = limits(pulsar_systemd_memory_limit=4, pulsar_systemd_service_options={"OOMPolicy": "stop"})
    assert (got["MemoryMax"], got["OOMPolicy"]) == ("4G", "stop")


def test_rootless_sets_none():
    assert render("{{ _pulsar_unit_limits }}", pulsar_rootless=True, without_tutorial=True,
                  ansible_facts={"user_id": "hpc", "user_dir": "/home/hpc", "user_gid": 3000},
                  __pulsar_rootless_host={"group": "hpc", "user_manager": "yes", "linger": "yes"}) == {}

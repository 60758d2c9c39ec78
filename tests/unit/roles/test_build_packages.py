"""Which hosts get compilers and headers: the pulsar role's variables rendered by ansible-core's own templating,
with the role's defaults and vars, the tutorial's group_vars and the admin's settings on top."""

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

RENDER = Path(__file__).with_name("render_vars.py")


def render(*expressions, **admin):
    """The expressions' values (one fresh interpreter for them all), or the value of the only one."""
    values = render_all(tuple((e, json.dumps(admin, sort_keys=True)) for e in expressions))
    return values if len(expressions) > 1 else values[0]


@functools.lru_cache(maxsize=None)
def render_all(pairs):
    run = subprocess.run([sys.executable, str(RENDER)], input=json.dumps([[e, json.loads(a)] for e, a in pairs]),
                         capture_output=True, text=True, env=os.environ, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


BUILD = ["build-essential", "python3-dev", "libcurl4-openssl-dev", "libssl-dev"]


@pytest.mark.parametrize("admin,builds,packages", [
    ({}, ["uwsgi"], BUILD),  # the tutorial's list: uwsgi has no wheel
    ({"pulsar_optional_dependencies": ["pycurl", "requests", "psutil"]}, [], []),
    ({"pulsar_optional_dependencies": ["uWSGI==2.0.28"]}, ["uwsgi"], BUILD),
    ({"pulsar_optional_dependencies": ["zope.interface"], "pulsar_packages_built_from_source": ["Zope_Interface>=5"]},
     ["zope-interface"], BUILD),
    ({"pulsar_optional_dependencies": ["git+https://example.org/x.git", "./src", "./x-1-py3-none-any.whl"]},
     ["git+https://example.org/x.git", "./src"], BUILD),
    ({"pulsar_optional_dependencies": ["pycurl"], "pulsar_pycurl_ssl_library": "gnutls"}, ["pycurl"],
     ["build-essential", "python3-dev", "libcurl4-gnutls-dev", "libssl-dev"]),
    ({"pulsar_optional_dependencies": ["pycurl"], "pulsar_install_environments": {"pycurl": {"PYCURL_SSL_LIBRARY":
                                                                                             "openssl"}}},
     ["pycurl"], BUILD),
    ({"pulsar_build_os_packages_install": "never"}, ["uwsgi"], []),
    ({"pulsar_optional_dependencies": [], "pulsar_build_os_packages_install": "always"}, [], BUILD),
])
def test_build_packages_only_when_something_is_built(admin, builds, packages):
    assert render("{{ _pulsar_source_builds }}", "{{ _pulsar_build_os_packages }}", **admin) == [builds, packages]


def test_pycurl_built_from_source_only_when_its_tls_library_is_chosen():
    assert render("{{ _pulsar_no_binary }}") == []
    assert render("{{ _pulsar_no_binary }}", "{{ _pulsar_install_environments }}", pulsar_pycurl_ssl_library="openssl") == [
        ["pycurl"], {"PYCURL_SSL_LIBRARY": "openssl"}]


@pytest.mark.parametrize("output,lacking", [
    ("Exception: you need a C compiler to build uWSGI", True),  # uv 0.13 building uwsgi 2.0.31
    ("error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory", True),
    ("ConfigurationError: Could not run curl-config: [Errno 2] No such file or directory", True),  # pycurl
    ("fatal error: Python.h: No such file or directory", True),
    ("ERROR: No matching distribution found for pulsar-app==9.9", False),
    ("error: Failed to build `broken==1.0`: ValueError in setup.py", False),
])
def test_a_build_that_lacked_a_compiler_is_told_from_other_failures(output, lacking):
    pattern = render("{{ _pulsar_build_failure_pattern }}")  # rendered once (cached)
    assert bool(re.search(pattern, json.dumps({"stderr": output}))) is lacking


def test_the_failed_package_is_named():
    name = render("{{ (ansible_failed_result | to_json | regex_search(_pulsar_build_failure_package_pattern, '\\1')"
                  " or ['named above']) | first }}",
                  ansible_failed_result={"stderr": "error: Failed to build `uwsgi==2.0.31`\n  cause: ..."})
    assert name == "uwsgi"

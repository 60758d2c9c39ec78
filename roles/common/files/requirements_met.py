"""Tell whether pip would have nothing to do.

Run with the host's Python as `requirements_met.py --venv VENV -- REQUIREMENT...`:
it reads the package metadata of VENV's site-packages as data, so no code of
the virtualenv runs (the venv's own Python, without --venv, looks at itself).
The first line of output maps each requirement's name to its installed version
(null when absent), as JSON. Exit 0 when each one, with its extras and
everything they need in turn, is installed at an allowed version; otherwise
print the first one that is not and exit 1. A requirement this cannot judge
(a URL, a path) counts as not met, so pip runs. The pulsar role reads the
installed Pulsar version from it (to refuse a downgrade) and skips
`pip install`, which takes seconds even when it changes nothing, on exit 0.

Each `--report NAME` adds NAME's installed version to that map without judging it (the pulsar role's uv,
when it may or may not install with it). With --pip-config, the second line is `pip configuration: ` and a
JSON list of the pip configuration files that pip would read for this user (uv reads none of them): the pulsar
role's installer choice reads it.
"""

import argparse
import glob
import json
import os
import sys
from importlib import metadata

try:
    from packaging.requirements import InvalidRequirement, Requirement
except ImportError:  # a virtualenv's pip carries a copy (python3-packaging is installed for --venv)
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement


# Where to read distributions from: the venv's site-packages (--venv), else sys.path.
SEARCH = {}


def distribution(name):
    if "path" not in SEARCH:
        return metadata.distribution(name)
    for dist in metadata.distributions(name=name, path=SEARCH["path"]):
        return dist
    raise metadata.PackageNotFoundError(name)


def unmet(req, seen):
    """The first requirement under `req` that is not installed, or None."""
    if req.url:
        return str(req)
    key = (req.name.lower(), frozenset(req.extras), str(req.specifier))
    if key in seen:
        return None
    seen.add(key)
    try:
        dist = distribution(req.name)
    except metadata.PackageNotFoundError:
        return str(req)
    if not req.specifier.contains(dist.version, prereleases=True):
        return f"{req} (installed: {dist.version})"
    for dep_text in dist.requires or []:
        dep = Requirement(dep_text)
        if dep.marker and not any(dep.marker.evaluate({"extra": extra}) for extra in ["", *req.extras]):
            continue
        found = unmet(dep, seen)
        if found:
            return found
    return None


def installed_version(name):
    try:
        return distribution(name).version
    except metadata.PackageNotFoundError:
        return None


def pip_config_files():
    """The configuration files pip reads on Linux (global, then user; PIP_CONFIG_FILE too) that exist."""
    home = os.path.expanduser("~")
    dirs = os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    candidates = [os.path.join(d, "pip", "pip.conf") for d in dirs.split(":") if d] + ["/etc/pip.conf"]
    candidates += [os.path.join(home, ".pip", "pip.conf"),
                   os.path.join(os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"), "pip", "pip.conf"),
                   os.environ.get("PIP_CONFIG_FILE") or ""]
    return [path for path in dict.fromkeys(candidates) if path and os.path.isfile(path)]


def main():
    parser = argparse.ArgumentParser(description="Tell whether pip would have nothing to do.")
    parser.add_argument("--pip-config", action="store_true", help="also list the pip configuration files")
    parser.add_argument("--report", action="append", default=[], metavar="NAME",
                        help="add NAME's installed version to the map without judging it")
    parser.add_argument("--venv", help="read this virtualenv's site-packages instead of sys.path")
    parser.add_argument("requirements", nargs="*", metavar="REQUIREMENT")
    options = parser.parse_args()
    args, reported = options.requirements, options.report
    config_line = f"pip configuration: {json.dumps(pip_config_files())}" if options.pip_config else None

    def head(versions):
        """The versions line, then the pip configuration line when asked for."""
        print(json.dumps(versions), flush=True)
        if config_line:
            print(config_line, flush=True)

    if options.venv:
        SEARCH["path"] = glob.glob(f"{options.venv}/lib/python3*/site-packages")
        if not SEARCH["path"]:
            head({})
            print(f"no virtualenv at {options.venv}")
            return 1
    reqs = []
    for text in args:
        try:
            reqs.append((text, Requirement(text)))
        except InvalidRequirement:
            reqs.append((text, None))
    parsed = [pair[1] for pair in reqs if pair[1]]
    versions = {name.lower(): installed_version(name) for name in reported}
    versions.update({req.name.lower(): installed_version(req.name) for req in parsed})
    head(versions)
    seen = set()
    for text, req in reqs:
        found = unmet(req, seen) if req else text
        if found:
            print(f"not installed: {found}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

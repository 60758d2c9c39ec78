"""Tell whether pip would have nothing to do.

Run with a virtualenv's Python and pip requirement strings as arguments. The
first line of output maps each requirement's name to its installed version
(null when absent), as JSON. Exit 0 when each one, with its extras and
everything they need in turn, is installed at an allowed version; otherwise
print the first one that is not and exit 1. A requirement this cannot judge
(a URL, a path) counts as not met, so pip runs. The pulsar role reads the
installed Pulsar version from it (to refuse a downgrade) and skips
`pip install`, which takes seconds even when it changes nothing, on exit 0.
"""

import json
import sys
from importlib import metadata

try:
    from packaging.requirements import InvalidRequirement, Requirement
except ImportError:  # every virtualenv's pip carries a copy
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement


def unmet(req, seen):
    """The first requirement under `req` that is not installed, or None."""
    if req.url:
        return str(req)
    key = (req.name.lower(), frozenset(req.extras), str(req.specifier))
    if key in seen:
        return None
    seen.add(key)
    try:
        dist = metadata.distribution(req.name)
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
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def main():
    reqs = []
    for text in sys.argv[1:]:
        try:
            reqs.append((text, Requirement(text)))
        except InvalidRequirement:
            reqs.append((text, None))
    parsed = [pair[1] for pair in reqs if pair[1]]
    print(json.dumps({req.name.lower(): installed_version(req.name) for req in parsed}), flush=True)
    seen = set()
    for text, req in reqs:
        found = unmet(req, seen) if req else text
        if found:
            print(f"not installed: {found}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

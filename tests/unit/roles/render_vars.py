"""Render expressions with the pulsar role's variables, in a fresh interpreter (ansible-core's collection loader
cannot be set up in a pytest process that has imported the collection as a plain package): reads
[[expression, {admin variables}], ...] as JSON on stdin, prints the results as JSON."""

import json
import sys
from pathlib import Path

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

ROOT = Path(__file__).resolve().parents[3]
FACTS = {"ansible_facts": {"distribution": "Debian", "distribution_major_version": "12", "os_family": "Debian"},
         "inventory_hostname": "h", "groups": {"all": ["h"], "pulsarservers": ["h"]}, "ansible_check_mode": False,
         "role_path": str(ROOT / "roles" / "pulsar")}
FILES = ("roles/common/vars/Debian.yml", "roles/pulsar/defaults/main.yml", "group_vars/pulsarservers.yml",
         "roles/pulsar/vars/main.yml", "molecule/test_vars.yml")


def render(expression, admin):
    """With the tutorial's group_vars unless admin holds "without_tutorial": true, and the platform's variables
    unless "without_platform": true (as when argument validation templates the specs' defaults, before them)."""
    variables = {}
    skip = ({"group_vars/pulsarservers.yml"} if admin.pop("without_tutorial", False) else set()) | (
        {"roles/common/vars/Debian.yml"} if admin.pop("without_platform", False) else set())
    for path in (path for path in FILES if path not in skip):
        variables.update(DataLoader().load_from_file(str(ROOT / path), trusted_as_template=True))
    variables.update(FACTS, **admin)
    variables["hostvars"] = {"h": variables}
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(expression))


if __name__ == "__main__":
    init_plugin_loader()  # the collection from ANSIBLE_COLLECTIONS_PATH (tests/unit/conftest.py)
    print(json.dumps([render(expression, admin) for expression, admin in json.load(sys.stdin)]))

#!/usr/bin/env bash
# Build the collection as a user gets it and check the tarball: nothing of the
# test tooling, venvs or caches inside, and ansible-doc shows every option of
# every role's argument_specs from the installed copy.
set -euo pipefail
# shellcheck source=tools/env.sh
source "$(dirname "$0")/env.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ansible-galaxy collection build --output-path "$tmp" "$GOP_ROOT" >/dev/null
tarball=$(ls "$tmp"/*.tar.gz)
if tar tzf "$tarball" | grep -E '(^|/)(molecule|tools|tests|requirements|\.venv|\.cache|\.pytest_cache|__pycache__|\.demo|\.git)(/|$)|\.tar\.gz$|\.pyc$'; then
    echo "check_build: the tarball holds test tooling, venvs or caches (above)" >&2
    exit 1
fi
echo "check_build: $(basename "$tarball"): $(tar tzf "$tarball" | wc -l) entries, no tests, venvs or caches"
ANSIBLE_COLLECTIONS_PATH="$tmp/collections" ansible-galaxy collection install --force -p "$tmp/collections" "$tarball" >/dev/null 2>&1
for role in "$GOP_ROOT"/roles/*/; do
    role=$(basename "$role")
    ANSIBLE_COLLECTIONS_PATH="$tmp/collections" ansible-doc -t role --json "galaxy_ops.pulsar.$role" \
        | python3 -c '
import json, sys, yaml
role, spec_file = sys.argv[1:3]
doc = json.load(sys.stdin)[f"galaxy_ops.pulsar.{role}"]
specs = yaml.safe_load(open(spec_file))["argument_specs"]
for entry, spec in specs.items():
    shown = set(doc["entry_points"][entry].get("options", {}))
    missing = set(spec.get("options", {})) - shown
    assert not missing, f"ansible-doc {role} {entry} lacks {sorted(missing)}"
print(f"check_build: ansible-doc -t role galaxy_ops.pulsar.{role} shows all", sum(len(s.get("options", {})) for s in specs.values()), "options of", len(specs), "entry points")
' "$role" "$GOP_ROOT/roles/$role/meta/argument_specs.yml"
done
# Every example is a working directory of its own: its playbook parses with
# the installed collection.
for example in "$GOP_ROOT"/examples/*/; do
    (cd "$example" && ANSIBLE_COLLECTIONS_PATH="$tmp/collections" ansible-playbook -i hosts playbook.yml --syntax-check >/dev/null)
    echo "check_build: examples/$(basename "$example"): playbook.yml parses"
done

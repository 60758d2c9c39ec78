#!/usr/bin/env bash
# One-command tooling setup on a Debian 12/13 machine (run as root):
# podman, runc, debootstrap, shellcheck and the ssh client from apt, the pinned Python tooling in .venv,
# the shared cache dirs and the Debian base image(s).
set -euo pipefail
# shellcheck source=tools/env.sh
source "$(dirname "$0")/env.sh"
cd "$GOP_ROOT"

missing=()
for cmd in podman runc debootstrap shellcheck ssh; do
    command -v "$cmd" >/dev/null || missing+=("$cmd")
done
if ((${#missing[@]})); then
    echo "installing from apt: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap shellcheck openssh-client >/dev/null
fi

if [ ! -x .venv/bin/molecule ] || ! cmp -s requirements/test.txt .venv/.requirements; then
    echo "creating .venv from requirements/test.txt"
    python3 -m venv .venv
    .venv/bin/pip install -q -r requirements/test.txt
    cp requirements/test.txt .venv/.requirements
fi
# The oldest ansible-core the collection claims, for sanity and one converge.
if [ ! -x .venv-oldest/bin/ansible-playbook ] || ! cmp -s requirements/oldest.txt .venv-oldest/.requirements; then
    echo "creating .venv-oldest from requirements/oldest.txt"
    python3 -m venv .venv-oldest
    .venv-oldest/bin/pip install -q -r requirements/oldest.txt
    cp requirements/oldest.txt .venv-oldest/.requirements
fi

mkdir -p "$GOP_CACHE_DIR/pip/uv" "$GOP_CACHE_DIR/apt" "$GOP_CACHE_DIR/ssh"
# The key Ansible and testinfra use to reach the test containers (see build-image.sh).
[ -s "$GOP_SSH_KEY" ] || ssh-keygen -q -t ed25519 -N '' -C galaxy-ops-tests -f "$GOP_SSH_KEY"

for suite in ${GOP_SUITES:-bookworm trixie}; do
    tools/build-image.sh "$suite"
done

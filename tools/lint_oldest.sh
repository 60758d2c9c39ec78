#!/usr/bin/env bash
# ansible-lint (production profile) with the oldest ansible-core the collection
# claims (.venv-oldest, tools/setup.sh). The collections the test playbooks use
# (containers.podman, ansible.posix) come from the main venv's ansible package.
set -euo pipefail
# shellcheck source=tools/env.sh
source "$(dirname "$0")/env.sh"
cd "$GOP_ROOT"
site=$(compgen -G "$GOP_ROOT/.venv/lib/python3*/site-packages" | head -1)
PATH="$GOP_OLDEST_ANSIBLE:$PATH" ANSIBLE_COLLECTIONS_PATH="$site" ANSIBLE_HOME="$GOP_ROOT/.ansible-oldest" \
    "$GOP_OLDEST_ANSIBLE/ansible-lint" --profile production "$@"

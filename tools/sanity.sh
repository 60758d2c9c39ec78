#!/usr/bin/env bash
# ansible-test sanity for the collection, on a copy of the committed tree laid
# out as ansible_collections/galaxy_ops/pulsar (ansible-test needs that path).
# ansible-test bootstraps pip in its venvs with a script from a host that is
# not reachable here; a stand-in in its cache installs pip from Python's own
# wheel and the pinned pip from PyPI instead (docs: README, "Tests").
set -euo pipefail
# shellcheck source=tools/env.sh
source "$(dirname "$0")/env.sh"
cache=~/.ansible/test/cache
mkdir -p "$cache"
# One per ansible-core: 2.19 asks for pip 24.2's script, 2.16 for 23.1.2's.
for pip_version in 24.2 23.1.2; do
    bootstrap=$cache/get_pip_${pip_version//./_}.py
    [ -s "$bootstrap" ] && continue
    sed "s/@PIP@/$pip_version/" > "$bootstrap" <<'PY'
# Stand-in for ansible-test's pip bootstrap script (written by tools/sanity.sh).
import ensurepip, os, subprocess, sys
ensurepip.bootstrap(upgrade=True)
cert = os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "--cert", cert, "pip==@PIP@"])
PY
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/ansible_collections/galaxy_ops/pulsar
mkdir -p "$dest"
# The working tree as git sees it (tracked and new files, without ignored ones).
git -C "$GOP_ROOT" ls-files -co --exclude-standard -z | (cd "$GOP_ROOT" && xargs -0 cp --parents -t "$dest")
git -C "$dest" init -q && git -C "$dest" add -A
cd "$dest"
python=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ansible-test sanity --python "$python" --color no "$@"
# And with the oldest ansible-core meta/runtime.yml claims.
"$GOP_OLDEST_ANSIBLE/ansible-test" sanity --python "$python" --color no "$@"

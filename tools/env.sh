# Sourced by the Makefile's shell recipes and tools/*.sh: one place for paths.
# shellcheck shell=bash
GOP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GOP_ROOT
export CONTAINERS_CONF="$GOP_ROOT/tools/containers.conf"
# Host-side caches shared by every scenario container of every run.
export GOP_CACHE_DIR="${GOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/galaxy_ops_pulsar}"
# apt locks its archive directory: scenarios running at the same time each get their own (tools/scenarios.sh).
export GOP_APT_ARCHIVES="${GOP_APT_ARCHIVES:-$GOP_CACHE_DIR/apt}"
# Ansible and testinfra reach the test containers over ssh, through `podman exec -i`
# into an inetd-mode sshd (tools/build-image.sh), with this key. On a loaded
# machine podman exec and sshd's start take longer than ssh's usual 10 s
# (testinfra's default; Ansible's is .config/molecule/config.yml's timeout):
# a minute to connect, and a connection gone quiet is given 2 minutes.
export GOP_SSH_KEY="$GOP_CACHE_DIR/ssh/id_ed25519"
export GOP_SSH_ARGS='-o ProxyCommand="podman exec -i %h /usr/local/sbin/sshd-stdio" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=60 -o ServerAliveInterval=15 -o ServerAliveCountMax=8'
export PATH="$GOP_ROOT/.venv/bin:$PATH"
# Base images are tagged with a hash of their build script: changing the
# script builds a new image instead of reusing a stale one.
GOP_IMAGE_REV=$(sha256sum "$GOP_ROOT/tools/build-image.sh" | cut -c1-8)
export GOP_IMAGE_REV
export GOP_OLDEST_ANSIBLE="$GOP_ROOT/.venv-oldest/bin"

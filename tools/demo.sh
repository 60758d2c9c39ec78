#!/usr/bin/env bash
# Deploy the repo-root working directory (pulsar-playbook.yml + the tutorial's
# group_vars) into a local systemd container, using the collection as an admin
# gets it (built, then installed), and run a real job against it.
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/lib.sh"
name=galaxy-ops-demo

echo "== building and installing the collection into $GOP_WORK/collections"
gop_install_collection
echo "== starting container $name (Debian $GOP_SUITE, systemd)"
gop_start_container "$name"
gop_inventory "$name"

echo "== ansible-playbook pulsar-playbook.yml (per-task timing at the end)"
ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks gop_converge

echo "== running a real job with pulsar-check through nginx inside $name (files staged in and out)"
if gop_pulsar_check "$name" >"$GOP_WORK/pulsar-check.log" 2>&1; then
    echo "pulsar-check passed: $(grep -c 'staging.down:collecting output' "$GOP_WORK/pulsar-check.log") outputs collected"
else
    tail -20 "$GOP_WORK/pulsar-check.log"
    echo "pulsar-check FAILED (full log in $GOP_WORK/pulsar-check.log)"
    exit 1
fi

ip=$(podman inspect -f '{{.NetworkSettings.IPAddress}}' "$name")
version=$(podman exec "$name" /mnt/pulsar/venv/bin/pip show pulsar-app | sed -n 's/^Version: //p')
cat <<SUMMARY

== deployed
Pulsar $version in container $name (Debian $GOP_SUITE); service pulsar is $(podman exec "$name" systemctl is-active pulsar)
  Galaxy url:  http://${ip:-<container ip>}/ (nginx; Pulsar itself on :8913)   private_token: in $GOP_WORK/secrets.yml
  config:      /mnt/pulsar/config/app.yml ($(podman exec "$name" stat -c 'owner %U, group %G, mode %a' /mnt/pulsar/config/app.yml))
  job log:     $GOP_WORK/pulsar-check.log
  logs:        podman exec $name journalctl -u pulsar
  shell:       podman exec -it $name bash
  remove:      podman rm -f $name
SUMMARY

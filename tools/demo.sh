#!/usr/bin/env bash
# Deploy the repo-root working directory (pulsar-playbook.yml + the tutorial's
# group_vars) into a local systemd container, using the collection as an admin
# gets it (built, then installed), and run a real job against it.
set -euo pipefail
# shellcheck source=tools/env.sh
source "$(dirname "$0")/env.sh"
cd "$GOP_ROOT"

suite=${GOP_SUITE:-bookworm}
name=galaxy-ops-demo
work=.demo
mkdir -p "$work"

echo "== building and installing the collection into $work/collections"
rm -f "$work"/galaxy_ops-pulsar-*.tar.gz
ansible-galaxy collection build --force --output-path "$work" . >/dev/null
ansible-galaxy collection install --force -p "$work/collections" "$work"/galaxy_ops-pulsar-*.tar.gz >/dev/null
export ANSIBLE_COLLECTIONS_PATH="$GOP_ROOT/$work/collections"

echo "== starting container $name (Debian $suite, systemd)"
if ! podman container exists "$name"; then
    podman run -d --name "$name" --hostname "$name" --systemd=always \
        -v "$GOP_CACHE_DIR/pip:/root/.cache/pip" -v "$GOP_CACHE_DIR/apt:/var/cache/apt/archives" \
        "localhost/galaxy-ops-debian:$suite" /sbin/init >/dev/null
fi
podman start "$name" >/dev/null

# The example group_vars/all.yml holds a placeholder the role refuses: the
# demo supplies a random token, in a file only root can read.
if [ ! -s "$work/secrets.yml" ]; then
    (umask 077; printf 'private_token: %s\n' "$(openssl rand -hex 32)" > "$work/secrets.yml")
fi
cat > "$work/hosts" <<HOSTS
[pulsarservers]
$name ansible_connection=containers.podman.podman
HOSTS
cas=$(printf '"%s",' /usr/local/share/ca-certificates/*.crt 2>/dev/null | sed 's/,$//')
[ "$cas" = '"/usr/local/share/ca-certificates/*.crt"' ] && cas=""

echo "== ansible-playbook pulsar-playbook.yml (per-task timing below)"
ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks \
    ansible-playbook -i "$work/hosts" pulsar-playbook.yml \
    -e @"$work/secrets.yml" -e "{\"pulsar_ca_certificates\": [${cas}]}"

echo "== running a real job with pulsar-check inside $name"
podman exec "$name" bash -c \
    'T=$(/mnt/pulsar/venv/bin/python -c "import yaml; print(yaml.safe_load(open(\"/mnt/pulsar/config/app.yml\"))[\"private_token\"])");
     /mnt/pulsar/venv/bin/pulsar-check --url http://localhost:8913/ --private_token "$T"' \
    | tail -3

ip=$(podman inspect -f '{{.NetworkSettings.IPAddress}}' "$name")
cat <<SUMMARY

== deployed
Pulsar $(podman exec "$name" /mnt/pulsar/venv/bin/pip show pulsar-app | sed -n 's/^Version: //p') in container $name (Debian $suite), service 'pulsar' $(podman exec "$name" systemctl is-active pulsar)
  URL:         http://${ip:-<container ip>}:8913/  (Galaxy destination url; token in $work/secrets.yml)
  config:      /mnt/pulsar/config/app.yml (mode 0600, owner pulsar)
  logs:        podman exec $name journalctl -u pulsar
  shell:       podman exec -it $name bash
  remove:      podman rm -f $name
SUMMARY

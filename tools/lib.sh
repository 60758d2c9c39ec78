# Helpers shared by tools/demo.sh and tools/bench.sh: deploy the repo-root
# working directory into local systemd containers, as an admin would.
# shellcheck shell=bash
# shellcheck source=tools/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
GOP_WORK="$GOP_ROOT/.demo"
GOP_SUITE=${GOP_SUITE:-bookworm}

# Build the collection tarball and install it the way users get it.
gop_install_collection() {
    mkdir -p "$GOP_WORK"
    rm -f "$GOP_WORK"/galaxy_ops-pulsar-*.tar.gz
    ansible-galaxy collection build --force --output-path "$GOP_WORK" "$GOP_ROOT" >/dev/null
    ansible-galaxy collection install --force -p "$GOP_WORK/collections" "$GOP_WORK"/galaxy_ops-pulsar-*.tar.gz >/dev/null
    export ANSIBLE_COLLECTIONS_PATH="$GOP_WORK/collections"
}

# gop_start_container NAME [--fresh]: a Debian systemd container with the shared caches.
gop_start_container() {
    local name=$1
    if [ "${2:-}" = --fresh ]; then podman rm -f "$name" >/dev/null 2>&1 || true; fi
    if ! podman container exists "$name"; then
        podman run -d --name "$name" --hostname "$name" --systemd=always \
            -v "$GOP_CACHE_DIR/pip:/root/.cache/pip" -v "$GOP_APT_ARCHIVES:/var/cache/apt/archives" \
            -v "$GOP_SSH_KEY.pub:/root/.ssh/authorized_keys:ro" \
            "localhost/galaxy-ops-debian:$GOP_SUITE-$GOP_IMAGE_REV" /sbin/init >/dev/null
    fi
    podman start "$name" >/dev/null
}

# gop_inventory NAME...: an inventory of containers in the pulsarservers group,
# reached over ssh as in the molecule scenarios (.config/molecule/config.yml),
# plus the variables a local run needs: a random token (the example
# group_vars hold a placeholder the role refuses) and this machine's proxy CAs.
gop_inventory() {
    mkdir -p "$GOP_WORK"
    if [ ! -s "$GOP_WORK/secrets.yml" ]; then
        (umask 077; printf 'private_token: %s\n' "$(openssl rand -hex 32)" > "$GOP_WORK/secrets.yml")
    fi
    {
        echo "[pulsarservers]"
        printf '%s\n' "$@"
        echo "[pulsarservers:vars]"
        echo "ansible_user=root"
        echo "ansible_ssh_private_key_file=$GOP_SSH_KEY"
        echo "ansible_ssh_common_args='$GOP_SSH_ARGS'"
        printf 'pulsar_ca_certificates=['
        compgen -G "/usr/local/share/ca-certificates/*.crt" | sed 's/.*/"&"/' | paste -sd, | tr -d '\n'
        echo ']'
    } > "$GOP_WORK/hosts"
}

# gop_converge [ansible-playbook args...]: the tutorial's playbook on the inventory.
# shellcheck disable=SC2120  # extra ansible-playbook arguments are optional
gop_converge() {
    ansible-playbook -i "$GOP_WORK/hosts" "$GOP_ROOT/pulsar-playbook.yml" -e @"$GOP_WORK/secrets.yml" "$@"
}

# gop_pulsar_check NAME [URL]: a real staged job with Pulsar's client, by
# default through the nginx proxy; the token is read on the host.
gop_pulsar_check() {
    podman exec -e URL="${2:-http://localhost:80/}" "$1" bash -c \
        'T=$(/mnt/pulsar/venv/bin/python -c "import yaml; print(yaml.safe_load(open(\"/mnt/pulsar/config/app.yml\"))[\"private_token\"])");
         /mnt/pulsar/venv/bin/pulsar-check --url "$URL" --private_token "$T"'
}

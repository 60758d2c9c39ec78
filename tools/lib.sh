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

# gop_start_container NAME [--fresh]: a Debian systemd container with the
# shared caches, by the scenarios' own launcher (molecule/containers.yml).
gop_start_container() {
    local recreate=false
    if [ "${2:-}" = --fresh ]; then recreate=true; fi
    ansible-playbook -i localhost, "$GOP_ROOT/molecule/containers.yml" \
        -e "{\"gop_platforms\": [{\"name\": \"$1\"}], \"gop_recreate\": $recreate}" >/dev/null
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

# gop_pulsar_api NAME URL ACTION [ARG]: the tests' Pulsar client
# (molecule/files/pulsar_api.py) on the tutorial's layout inside NAME; it
# reads the token on the host.
gop_pulsar_api() {
    podman cp "$GOP_ROOT/molecule/files/pulsar_api.py" "$1:/usr/local/bin/pulsar_api.py"
    podman exec "$1" /mnt/pulsar/venv/bin/python /usr/local/bin/pulsar_api.py "$2" /mnt/pulsar/config/app.yml "${@:3}"
}

# gop_pulsar_check NAME [URL]: a real staged job with Pulsar's client, by
# default through the nginx proxy.
gop_pulsar_check() {
    gop_pulsar_api "$1" "${2:-http://localhost:80/}" check
}

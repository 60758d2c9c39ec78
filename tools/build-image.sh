#!/usr/bin/env bash
# Build a Debian base image with systemd as PID 1 by debootstrap and import it
# into podman, unless it already exists. Usage: build-image.sh [bookworm|trixie]
set -euo pipefail
suite=${1:-bookworm}
image="localhost/galaxy-ops-debian:${suite}-${GOP_IMAGE_REV}"

# shellcheck source=tools/env.sh
source "$(dirname "$0")/env.sh"

if podman image exists "$image"; then
    echo "base image $image present"
    exit 0
fi

root=$(mktemp -d /var/tmp/debootstrap.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "building $image by debootstrap (about a minute)"
debootstrap --variant=minbase \
    --include=python3,python3-apt,systemd,systemd-sysv,dbus,sudo,ca-certificates,iproute2,procps,openssh-server \
    "$suite" "$root" http://deb.debian.org/debian >/dev/null

# Sites behind a TLS-intercepting proxy: trust the host's extra CAs in the
# test image, as such a site would in its own images.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null
fi
# Ansible reaches the container over ssh (pipelining, ControlPersist: about a
# third of the podman connection's time per task) without any listener: ssh's
# ProxyCommand runs this through `podman exec -i`, one sshd per connection on
# stdin/stdout (inetd mode). The key is mounted as root's authorized_keys.
cat > "$root/usr/local/sbin/sshd-stdio" <<'SH'
#!/bin/sh
mkdir -p -m 0755 /run/sshd
exec /usr/sbin/sshd -i
SH
chmod 0755 "$root/usr/local/sbin/sshd-stdio"
# Units that make no sense in a container and slow its boot; no sshd listener.
for unit in systemd-remount-fs.service systemd-firstboot.service getty@.service \
            systemd-logind.service apt-daily.timer apt-daily-upgrade.timer ssh.service ssh.socket; do
    chroot "$root" systemctl mask "$unit" >/dev/null 2>&1 || true
done
# Keep downloaded packages so a host-mounted /var/cache/apt/archives is a cache.
rm -f "$root/etc/apt/apt.conf.d/docker-clean"
echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > "$root/etc/apt/apt.conf.d/01keep-debs"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*

tar -C "$root" -c . | podman import \
    --change 'CMD ["/sbin/init"]' --change 'ENV container=podman' \
    - "$image" >/dev/null
echo "built $image"
# Drop images built by older versions of this script.
podman images --format '{{.Repository}}:{{.Tag}}' localhost/galaxy-ops-debian \
    | grep -E ":${suite}(-[0-9a-f]+)?$" | grep -vx "$image" | xargs -r podman rmi >/dev/null 2>&1 || true

#!/usr/bin/env bash
# Measure converge, job and staging times of the repo-root working directory
# (tutorial playbook: nginx + Pulsar) and write them
# into docs/benchmarks.md (between the BENCH markers). Runs are repeated
# GOP_BENCH_RUNS times (default 3); the median and the spread are reported.
#   tools/bench.sh [converge] [noop] [floor] [pip] [fleet] [burst] [galaxy] [suites] [revision]   (default: all)
# revision compares the no-op re-run with another git revision's collection (GOP_BENCH_BASE).
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/lib.sh"
runs=${GOP_BENCH_RUNS:-3}
GOP_BENCH_UV=${GOP_BENCH_UV:-0.13.8}  # uv version for the floor comparison
name=galaxy-ops-bench
out="$GOP_ROOT/docs/benchmarks.md"

seconds() { local t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN {print a - b}'; }
stats() { sort -n | awk '{v[NR]=$1} END {printf "%.1f (min %.1f, max %.1f, n=%d)", v[int((NR+1)/2)], v[1], v[NR], NR}'; }
cold_run() { gop_converge "$@" && gop_pulsar_check "$name"; }
# upload URL: seconds to stage 1 GiB into a Pulsar job (chunked, as Galaxy does)
upload() {
    gop_pulsar_api "$name" "$1" upload /var/tmp/upload.dat | sed 's/.*"seconds": \([0-9.]*\).*/\1/'
}
mibps() { awk '{printf "%.0f\n", 1024 / $1}'; }

# write_section NAME TEXT: replace the text between the BENCH NAME markers.
write_section() {
    python3 - "$out" "$1" "$2" <<'PY'
import sys
path, name, table = sys.argv[1:4]
begin, end = f"<!-- BEGIN BENCH {name} -->", f"<!-- END BENCH {name} -->"
text = open(path).read()
head, rest = text.split(begin)
open(path, "w").write(f"{head}{begin}\n{table}\n{end}{rest.split(end)[1]}")
PY
}

sections=${*:-converge noop floor pip fleet burst galaxy suites revision}

bench_converge() {
gop_install_collection
gop_inventory "$name"
declare -a cold noop job_nginx job_direct up_nginx up_direct up_local
for i in $(seq "$runs"); do
    echo "run $i/$runs: cold converge + job"
    gop_start_container "$name" --fresh
    cold+=("$(seconds cold_run)")
    echo "run $i/$runs: no-op re-run"
    noop+=("$(seconds gop_converge)")
    echo "run $i/$runs: jobs and 1 GiB uploads, through nginx and direct"
    job_nginx+=("$(seconds gop_pulsar_check "$name" http://localhost:80/)")
    job_direct+=("$(seconds gop_pulsar_check "$name" http://localhost:8913/)")
    podman exec "$name" sh -c 'head -c 1073741824 /dev/urandom > /var/tmp/upload.dat'
    up_nginx+=("$(upload http://localhost:80 | mibps)")
    up_direct+=("$(upload http://localhost:8913 | mibps)")
    up_local+=("$(podman exec "$name" python3 -c 'import os, shutil, time
s = time.monotonic(); shutil.copyfile("/var/tmp/upload.dat", "/mnt/pulsar/staging/copy.dat"); os.sync()
print(time.monotonic() - s); os.remove("/mnt/pulsar/staging/copy.dat")' | mibps)")
done
podman rm -f "$name" >/dev/null

table=$(cat <<TABLE
| Measure | Median (min, max, n) |
| --- | --- |
| Cold converge: fresh container to a passing \`pulsar-check\` job (s) | $(printf '%s\n' "${cold[@]}" | stats) |
| No-op re-run of \`pulsar-playbook.yml\`, \`changed=0\` (s) | $(printf '%s\n' "${noop[@]}" | stats) |
| Job round trip (\`pulsar-check\`) through nginx, port 80 (s) | $(printf '%s\n' "${job_nginx[@]}" | stats) |
| Job round trip (\`pulsar-check\`) direct to Pulsar, port 8913 (s) | $(printf '%s\n' "${job_direct[@]}" | stats) |
| Staging 1 GiB into a job through nginx (MiB/s) | $(printf '%s\n' "${up_nginx[@]}" | stats) |
| Staging 1 GiB into a job direct to Pulsar (MiB/s) | $(printf '%s\n' "${up_direct[@]}" | stats) |
| Local copy of the same 1 GiB into the staging directory, with sync (MiB/s) | $(printf '%s\n' "${up_local[@]}" | stats) |

Measured $(date -u +%Y-%m-%d) on $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB RAM, $(. /etc/os-release; echo "$PRETTY_NAME"), podman $(podman version -f '{{.Client.Version}}'), Debian $GOP_SUITE container.
TABLE
)
write_section converge "$table"
echo "$table"

}

# The floor of pulsar_installer: pip: the same apt and pip installs as its cold
# converge (the role's packages plus nginx, the tutorial's optional dependencies, same caches),
# done by hand in a fresh container, and the service started; the cold
# converge's overhead over it is what the roles cost.
floor_run() {
    local pkgs deps
    # The tutorial asks for uwsgi, which is built: the build packages too.
    pkgs="$(yaml_get "$GOP_ROOT/roles/pulsar/defaults/main.yml" pulsar_os_packages) $(yaml_get "$GOP_ROOT/roles/pulsar/defaults/main.yml" pulsar_build_os_packages)"
    deps=$(yaml_get "$GOP_ROOT/group_vars/pulsarservers.yml" pulsar_optional_dependencies)
    podman exec -e PKGS="$pkgs nginx" -e DEPS="$deps" "$name-floor" sh -ec '
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PKGS >/dev/null
        python3 -m venv /opt/floor
        PIP_CERT=/etc/ssl/certs/ca-certificates.crt /opt/floor/bin/pip install -q "pulsar-app[web]==0.16.0" $DEPS'
}

# uv_floor OS_PACKAGES [UV_ARGS...]: in a fresh container, OS_PACKAGES from
# apt, a venv, uv pip-installed into it, then uv installing pulsar-app and the
# tutorial's optional dependencies (with UV_ARGS). uv's cache lives in the
# host-mounted pip cache directory, so only the first run downloads and builds.
uv_floor() {
    local deps
    deps=$(yaml_get "$GOP_ROOT/group_vars/pulsarservers.yml" pulsar_optional_dependencies)
    podman exec -e PKGS="$1" -e DEPS="$deps" -e UV_CACHE_DIR=/root/.cache/pip/uv \
        -e SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt -e PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
        "$name-floor" sh -ec '
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PKGS >/dev/null
        python3 -m venv /opt/floor
        /opt/floor/bin/pip install -q "uv==$0"
        /opt/floor/bin/uv pip install -q "$@" --python /opt/floor/bin/python "pulsar-app[web]==0.16.0" $DEPS' \
        "$GOP_BENCH_UV" "${@:2}"
}

# The same floor as floor_run with uv doing the Python part, compiling
# bytecode as pip does.
floor_uv_run() {
    # The tutorial asks for uwsgi, which is built: the build packages too.
    uv_floor "$(yaml_get "$GOP_ROOT/roles/pulsar/defaults/main.yml" pulsar_os_packages) $(yaml_get "$GOP_ROOT/roles/pulsar/defaults/main.yml" pulsar_build_os_packages) nginx" \
        --compile-bytecode
}

# The least work that gets the same Pulsar running (#21's floor): the apt
# packages it needs to run (python3-venv; nginx) and, as the tutorial asks for
# uwsgi, which has no wheel, the build packages; uv unpacking the same
# packages without compiling bytecode (Python compiles a module when it first
# imports it, as after the role's own uv install). No python3-packaging (only
# Ansible's pip module needs it).
floor_least_run() {
    uv_floor "python3-venv nginx $(yaml_get "$GOP_ROOT/roles/pulsar/defaults/main.yml" pulsar_build_os_packages)"
}

yaml_get() { python3 -c 'import sys, yaml; print(" ".join(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]]))' "$@"; }

bench_floor() {
    local -a floor floor_uv floor_least
    for i in $(seq "$runs"); do
        echo "floor run $i/$runs: bare apt + pip, then apt + uv, then the least work"
        gop_start_container "$name-floor" --fresh
        floor+=("$(seconds floor_run)")
        gop_start_container "$name-floor" --fresh
        floor_uv+=("$(seconds floor_uv_run)")
        gop_start_container "$name-floor" --fresh
        floor_least+=("$(seconds floor_least_run)")
    done
    podman rm -f "$name-floor" >/dev/null
    write_section floor "| Floor of \`pulsar_installer: pip\`: its apt + pip installs done by hand in a fresh container (s) | $(printf '%s\n' "${floor[@]}" | stats) |
| Floor of the default (uv): the same with uv $GOP_BENCH_UV installing the Python packages, bytecode compiled (s) | $(printf '%s\n' "${floor_uv[@]}" | stats) |
| Least work for the same Pulsar: python3-venv, nginx and the build packages (uwsgi) from apt, wheels unpacked by uv without bytecode (s) | $(printf '%s\n' "${floor_least[@]}" | stats) |"
}

# No-op re-run with Ansible inside the host (connection local): the roles' own
# cost without podman exec's per-task round trips (about what ssh with
# pipelining and ControlPersist costs on a real network).
noop_local() {
    podman exec -e ANSIBLE_COLLECTIONS_PATH=/root/work/collections -w /root/work "$name" \
        /opt/ansible/bin/ansible-playbook -i hosts pulsar-playbook.yml -e @secrets.yml -e @cas.yml
}

bench_noop() {
    local -a local_noop
    gop_install_collection
    gop_start_container "$name" --fresh
    gop_inventory "$name"
    gop_converge >/dev/null
    podman exec "$name" sh -ec 'python3 -m venv /opt/ansible; mkdir -p /root/work
        PIP_CERT=/etc/ssl/certs/ca-certificates.crt /opt/ansible/bin/pip install -q ansible-core==2.19.14'
    for f in pulsar-playbook.yml group_vars templates; do podman cp "$GOP_ROOT/$f" "$name:/root/work/"; done
    podman cp "$GOP_WORK/collections" "$name:/root/work/collections"
    podman cp "$GOP_WORK/secrets.yml" "$name:/root/work/secrets.yml"
    podman exec "$name" sh -c 'printf "[pulsarservers]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n" > /root/work/hosts
        printf "pulsar_ca_certificates: [%s]\n" "$(ls /usr/local/share/ca-certificates/*.crt 2>/dev/null | paste -sd,)" > /root/work/cas.yml'
    for i in $(seq "$runs"); do
        echo "no-op run $i/$runs, connection local"
        local_noop+=("$(seconds noop_local)")
    done
    podman exec -e ANSIBLE_COLLECTIONS_PATH=/root/work/collections -w /root/work "$name" \
        /opt/ansible/bin/ansible-playbook -i hosts pulsar-playbook.yml -e @secrets.yml -e @cas.yml | grep -q "changed=0"
    podman rm -f "$name" >/dev/null
    write_section noop "| No-op re-run, Ansible inside the host (connection local), \`changed=0\` (s) | $(printf '%s\n' "${local_noop[@]}" | stats) |"
}

# The cold converge again with pulsar_installer: pip (the default, auto, is
# uv for the tutorial's settings).
bench_pip() {
    local -a cold_pip
    gop_install_collection
    gop_inventory "$name"
    for i in $(seq "$runs"); do
        echo "pip run $i/$runs: cold converge + job with pulsar_installer: pip"
        gop_start_container "$name" --fresh
        cold_pip+=("$(seconds cold_run -e pulsar_installer=pip)")
    done
    podman rm -f "$name" >/dev/null
    write_section pip "| Cold converge with \`pulsar_installer: pip\`: fresh container to a passing \`pulsar-check\` job (s) | $(printf '%s\n' "${cold_pip[@]}" | stats) |"
}

# Fleet: one cold converge of 1 host, then of 4 hosts at once (forks 4),
# sharing the host's caches.
bench_fleet() {
    gop_install_collection
    local -a one four hosts=("$name-f1" "$name-f2" "$name-f3" "$name-f4")
    for i in $(seq "$runs"); do
        echo "fleet run $i/$runs: 1 host, then 4 hosts"
        gop_start_container "${hosts[0]}" --fresh
        gop_inventory "${hosts[0]}"
        one+=("$(seconds gop_converge)")
        # apt locks its archive directory: containers installing at the same
        # moment each get their own (hard-linked copy, own lock file).
        for h in "${hosts[@]}"; do
            rm -rf "$GOP_CACHE_DIR/apt-$h" && cp -al "$GOP_CACHE_DIR/apt" "$GOP_CACHE_DIR/apt-$h"
            rm -f "$GOP_CACHE_DIR/apt-$h/lock"
            GOP_APT_ARCHIVES="$GOP_CACHE_DIR/apt-$h" gop_start_container "$h" --fresh
        done
        gop_inventory "${hosts[@]}"
        four+=("$(seconds gop_converge --forks 4)")
    done
    podman rm -f "${hosts[@]}" >/dev/null
    table=$(cat <<TABLE
| Fleet converge, fresh containers, tutorial playbook (s) | Median (min, max, n) |
| --- | --- |
| 1 host | $(printf '%s\n' "${one[@]}" | stats) |
| 4 hosts in parallel (\`--forks 4\`, one 2-core machine, shared pip cache, each host its own hard-linked copy of the apt cache) | $(printf '%s\n' "${four[@]}" | stats) |
TABLE
)
    write_section fleet "$table"
    echo "$table"
}

# Bursts: 20 jobs submitted at once through nginx to the tutorial's Pulsar
# (queued_python): sleeping jobs (ideal makespan: one job's length, as they
# can all run together) and CPU-bound ones (ideal: their CPU time over the
# host's cores), with a pulsar-check timed while the CPU-bound burst runs.
makespan() { python3 -c 'import json, sys
r = json.load(sys.stdin); assert not r["lost"], r; print(r["makespan"])'; }
burst() { gop_pulsar_api "$name" http://localhost:80 burst "$1" | makespan; }
# mq_burst COUNT SECONDS: the amqp scenario's Galaxy host sends the burst over
# AMQP to its first Pulsar host, with Galaxy's own runner settings.
mq_burst() {
    podman exec "mq-galaxy-$GOP_SUITE" /srv/galaxy/venv/bin/python /usr/local/bin/mq_burst.py \
        /srv/galaxy/config/galaxy.yml "mq_pulsar_$GOP_SUITE" "$1" "$2" | makespan
}
bench_burst() {
gop_install_collection
gop_inventory "$name"
gop_start_container "$name" --fresh
gop_converge >/dev/null
local cores sleeping=() busy=() check=()
cores=$(podman exec "$name" nproc)
for i in $(seq "$runs"); do
    echo "burst run $i/$runs"
    sleeping+=("$(burst 20:10)")
    burst 20:3:cpu > "$GOP_WORK/burst.out" &
    sleep 5
    check+=("$(seconds gop_pulsar_check "$name")")
    wait $!
    busy+=("$(cat "$GOP_WORK/burst.out")")
done
podman rm -f "$name" >/dev/null
# The same sleeping burst over AMQP (the GTN tutorial's deployment, amqp
# scenario); Galaxy is stopped, as it consumes the same status queue.
local amqp=()
scenario_up amqp
podman cp "$GOP_ROOT/molecule/files/mq_burst.py" "mq-galaxy-$GOP_SUITE:/usr/local/bin/mq_burst.py"
podman exec "mq-galaxy-$GOP_SUITE" systemctl stop galaxy
for i in $(seq "$runs"); do
    echo "AMQP burst run $i/$runs"
    amqp+=("$(mq_burst 20 10)")
done
molecule destroy -s amqp >/dev/null
table=$(cat <<TABLE
| Burst of 20 jobs submitted at once (through nginx to the tutorial's deployment, \`queued_python\`, unless stated) | Median s (min, max, n) | Ideal s |
| --- | --- | --- |
| makespan, 20 × \`sleep 10\` | $(printf '%s\n' "${sleeping[@]}" | stats) | 10 |
| makespan, 20 × \`sleep 10\` over AMQP (RabbitMQ with TLS, the GTN tutorial's \`queued_python\` Pulsar, Pulsar's client library with Galaxy's runner settings) | $(printf '%s\n' "${amqp[@]}" | stats) | 10 |
| makespan, 20 × 3 s of CPU | $(printf '%s\n' "${busy[@]}" | stats) | $(( 20 * 3 / cores )) ($cores cores) |
| \`pulsar-check\` job round trip started 5 s into the CPU-bound burst | $(printf '%s\n' "${check[@]}" | stats) | — |

No job lost in any run (each one's output checked). Measured $(date -u +%Y-%m-%d), Debian $GOP_SUITE container, $(nproc) cores.
TABLE
)
write_section burst "$table"
echo "$table"
}

# Galaxy round trips: a 10 MiB dataset, the same tool sent by a real Galaxy to
# Pulsar over REST (galaxy scenario), to Galaxy's local runner, to Pulsar
# over AMQP (amqp scenario; routed by the tools section and by TPV) and
# through pulsar-relay (relay scenario).
scenario_up() {
    echo "converging the $1 scenario"
    molecule destroy -s "$1" >/dev/null 2>&1 || true
    molecule create -s "$1" >/dev/null && molecule prepare -s "$1" >/dev/null && molecule converge -s "$1" >/dev/null
}
# galaxy_jobs CONTAINER TOOL: seconds of GOP_BENCH_RUNS jobs, one per line
galaxy_jobs() {
    podman cp "$GOP_ROOT/molecule/files/galaxy_job.py" "$1:/usr/local/bin/galaxy_job.py"
    podman exec "$1" sh -c 'test -s /var/tmp/input.txt ||
        head -c 10485760 /dev/urandom | base64 -w 76 | head -c 10485760 > /var/tmp/input.txt'
    for _ in $(seq "$runs"); do
        podman exec "$1" /srv/galaxy/venv/bin/python /usr/local/bin/galaxy_job.py "$2" /var/tmp/input.txt \
            | python3 -c 'import json, sys; r = json.load(sys.stdin); assert r["state"] == "ok", r; print(r["seconds"])'
    done
}

bench_galaxy() {
scenario_up galaxy
local rest local_runner amqp amqp_tpv relay
rest=$(galaxy_jobs "gx-galaxy-$GOP_SUITE" pulsar_checksum | stats)
local_runner=$(galaxy_jobs "gx-galaxy-$GOP_SUITE" local_checksum | stats)
molecule destroy -s galaxy >/dev/null
scenario_up amqp
amqp=$(galaxy_jobs "mq-galaxy-$GOP_SUITE" pulsar_checksum | stats)
amqp_tpv=$(galaxy_jobs "mq-galaxy-$GOP_SUITE" tpv_checksum_mq1 | stats)
molecule destroy -s amqp >/dev/null
scenario_up relay
relay=$(galaxy_jobs "rl-galaxy-$GOP_SUITE" pulsar_checksum | stats)
molecule destroy -s relay >/dev/null
table=$(cat <<TABLE
| Galaxy job round trip, 10 MiB dataset, tool submission to output available | Median s (min, max, n) |
| --- | --- |
| via Pulsar over REST (\`PulsarRESTJobRunner\`, through nginx, Galaxy stages inputs and outputs over HTTP) | $rest |
| via Pulsar over AMQP (\`PulsarMQJobRunner\`, RabbitMQ; Pulsar fetches inputs from and posts outputs to Galaxy) | $amqp |
| the same, the tool routed by TPV 3.3 (\`pulsar_galaxy\`'s TPV destinations; same host, runner and Galaxy) | $amqp_tpv |
| via Pulsar through pulsar-relay (\`PulsarMQJobRunner\` with \`relay_url\`, HTTPS long polls through nginx; Pulsar fetches inputs and posts outputs) | $relay |
| Galaxy's local runner, same tool, same Galaxy | $local_runner |
TABLE
)
write_section galaxy "$table"
echo "$table"
}

# Debian 12 and 13 side by side in one run (#21): for each run, on each suite in
# turn, the cold converge and no-op of bench_converge and the floor of
# bench_floor with uv (the default installer), each in a fresh container of that suite's base image.
bench_suites() {
    gop_install_collection
    gop_inventory "$name"
    local -A suite_cold suite_noop suite_floor
    local suite
    for i in $(seq "$runs"); do
        for suite in bookworm trixie; do
            echo "run $i/$runs, $suite: cold converge + job, no-op, floor"
            export GOP_SUITE=$suite
            gop_start_container "$name" --fresh
            suite_cold[$suite]+="$(seconds cold_run) "
            suite_noop[$suite]+="$(seconds gop_converge) "
            gop_start_container "$name-floor" --fresh
            suite_floor[$suite]+="$(seconds floor_uv_run) "
        done
    done
    podman rm -f "$name" "$name-floor" >/dev/null
    local table="| Tutorial deployment, fresh container | Debian 12 (bookworm): median s (min, max, n) | Debian 13 (trixie) |
| --- | --- | --- |"
    local row what
    for row in cold noop floor; do
        case $row in
            cold) what="Cold converge to a passing \`pulsar-check\` job" ;;
            noop) what="No-op re-run, \`changed=0\`" ;;
            floor) what="Floor: the same apt + uv installs by hand" ;;
        esac
        local -n values=suite_$row
        table+="
| $what | $(printf '%s\n' ${values[bookworm]} | stats) | $(printf '%s\n' ${values[trixie]} | stats) |"
    done
    table+="

Measured $(date -u +%Y-%m-%d) on $(nproc) cores, one run alternating the two suites, podman $(podman version -f '{{.Client.Version}}')."
    write_section suites "$table"
    echo "$table"
}

# The no-op re-run of another revision's collection (GOP_BENCH_BASE, a git
# revision) and of the working tree's, alternating on one converged container
# of the tutorial's deployment: where a no-op figure moved, and by how much.
# Each run must report changed=0 (the two write the same files).
noop_run() { local out; out=$(gop_converge) && [[ $out == *" changed=0 "* ]]; }
bench_revision() {
    if [ -z "${GOP_BENCH_BASE:-}" ]; then echo "revision: set GOP_BENCH_BASE to a git revision; skipped"; return; fi
    local base tree
    local -a base_noop tree_noop
    base=$(git -C "$GOP_ROOT" rev-parse --short "$GOP_BENCH_BASE")
    tree=$(mktemp -d)
    git -C "$GOP_ROOT" archive "$base" | tar -x -C "$tree"
    ansible-galaxy collection build --force --output-path "$tree" "$tree" >/dev/null
    ansible-galaxy collection install --force -p "$tree/collections" "$tree"/galaxy_ops-pulsar-*.tar.gz >/dev/null
    gop_install_collection
    gop_inventory "$name"
    gop_start_container "$name" --fresh
    gop_converge >/dev/null
    for i in $(seq "$runs"); do
        echo "run $i/$runs: no-op re-run, $base then the working tree"
        base_noop+=("$(ANSIBLE_COLLECTIONS_PATH=$tree/collections seconds noop_run)")
        tree_noop+=("$(seconds noop_run)")
    done
    gop_pulsar_check "$name" >/dev/null
    podman rm -f "$name" >/dev/null
    rm -rf "$tree"
    local table
    table="| No-op re-run of \`pulsar-playbook.yml\`, \`changed=0\`, one container, alternating | Median s (min, max, n) |
| --- | --- |
| Collection at $base ($(git -C "$GOP_ROOT" log -1 --format=%cs "$base")) | $(printf '%s\n' "${base_noop[@]}" | stats) |
| Working tree ($(git -C "$GOP_ROOT" rev-parse --short HEAD)$(git -C "$GOP_ROOT" diff --quiet HEAD || echo ", modified")) | $(printf '%s\n' "${tree_noop[@]}" | stats) |

Measured $(date -u +%Y-%m-%d) on $(nproc) cores, Debian $GOP_SUITE container, podman $(podman version -f '{{.Client.Version}}')."
    write_section revision "$table"
    echo "$table"
}

for section in $sections; do "bench_$section"; done

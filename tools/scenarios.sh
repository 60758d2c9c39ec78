#!/usr/bin/env bash
# Run molecule scenarios GOP_LANES at a time (default 2), e.g.
#   tools/scenarios.sh bookworm:relay bookworm:default trixie:default
# Give the longest first: a free lane takes the next one in order. Each
# scenario's whole log is printed when it ends, followed by its result and wall
# time; a summary of all of them closes the run. Exit status 1 if any failed.
set -euo pipefail
# shellcheck source=tools/env.sh
source "$(dirname "$0")/env.sh"
# What ssh (molecule/lost-connection.ere, which molecule/conftest.py reads too)
# or molecule/conftest.py say when a test container cannot be reached.
LOST="INFRASTRUCTURE ERROR|$(cat "$(dirname "$0")/../molecule/lost-connection.ere")"
export LOST

# infrastructure_only DIR: the attempt in DIR failed by lost connections only.
infrastructure_only() {
    grep -qE "$LOST" "$1/log" || return 1
    ! grep -qE 'failed=[1-9]|Idempotence test failed' "$1/log" || return 1
    ! grep -qs '^product ' "$1/failures"
}
export -f infrastructure_only

# stamp: each line of stdin with the seconds since the scenario started
# ($start of run_one), for stages.
# shellcheck disable=SC2317
stamp() {
    local line
    while IFS= read -r line; do
        printf '[%4d s] %s\n' $((SECONDS - start)) "$line"
    done
}
export -f stamp

# stages LOG: "converge 120 s, verify 300 s, ..." from a stamped molecule log,
# each step's time up to the line molecule prints when it has run it (ERROR for
# a step that failed; in the summary, which is what a CI run shows last).
# shellcheck disable=SC2317
stages() {
    sed 's/\x1b\[[0-9;]*m//g' "$1" | awk '/^\[ *[0-9]+ s\] (INFO|ERROR) .*: Executed: / {
        t = substr($0, 2) + 0; step = $0; sub(/: Executed: .*/, "", step); sub(/.* /, "", step)
        printf "%s%s %d s", sep, step, t - prev; prev = t; sep = ", " }'
}
export -f stages

# tools/scenarios.sh --infrastructure-only DIR, --stages LOG: those, alone
# (tests/unit).
case "${1:-}" in
    --infrastructure-only) infrastructure_only "$2"; exit ;;
    --stages) stages "$2"; exit ;;
esac

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/gop-scenarios.XXXXXX")
export run_dir

# run_one SUITE:SCENARIO (run by xargs through bash -c)
# shellcheck disable=SC2317
run_one() {
    local suite=${1%%:*} scenario=${1#*:} start=$SECONDS rc=0 result
    local id="$suite-$scenario"
    # Container names carry the scenario's name (.config/molecule/config.yml).
    # Two scenarios at once must not share: molecule's copy of the collection
    # under test (it installs it into ANSIBLE_HOME), nor apt's archive
    # directory (apt locks it; containers of one scenario share their copy,
    # hard-linked from the host cache and merged back afterwards).
    mkdir -p "$run_dir/$id"
    cp -al "$GOP_CACHE_DIR/apt" "$run_dir/$id/apt" && rm -f "$run_dir/$id/apt/lock"
    local note=""
    attempt() {
        rm -f "$run_dir/$id/failures"
        set -o pipefail
        GOP_SUITE=$suite ANSIBLE_HOME="$run_dir/$id/ansible" GOP_APT_ARCHIVES="$run_dir/$id/apt" \
            GOP_TEST_FAILURES="$run_dir/$id/failures" molecule test -s "$scenario" 2>&1 | stamp >>"$run_dir/$id/log"
    }
    attempt || rc=$?
    # Once, and only when the machine failed, not the product: a container lost
    # over ssh (molecule/conftest.py: INFRASTRUCTURE_ERROR), no task failed and
    # every failed test was such a loss. A failure the product causes every
    # time fails again.
    if [ "$rc" != 0 ] && infrastructure_only "$run_dir/$id"; then
        note=" (re-run: the first attempt lost a test container: $(grep -m1 -oE "$LOST" "$run_dir/$id/log"))"
        echo "=== $id: the machine failed, not the product; running it again" >>"$run_dir/$id/log"
        rc=0
        attempt || rc=$?
    fi
    cp -aln "$run_dir/$id/apt/." "$GOP_CACHE_DIR/apt/" 2>/dev/null || true
    result="$(if [ "$rc" = 0 ]; then echo passed; else echo "FAILED (rc $rc)"; fi) in $((SECONDS - start)) s$note"
    result+=" ($(stages "$run_dir/$id/log"))"
    if [ -s "$run_dir/$id/failures" ]; then
        result+="; failed: $(sed 's/.*::/ /' "$run_dir/$id/failures" | tr -d '\n')"
    fi
    {
        flock 9
        cat "$run_dir/$id/log"
        echo "=== scenario $scenario on Debian $suite: $result"
        echo "$scenario on Debian $suite: $result" >>"$run_dir/summary"
    } 9>"$run_dir/lock"
    rm -rf "${run_dir:?}/$id"
    return "$rc"
}
export -f run_one


start=$SECONDS
rc=0
# shellcheck disable=SC2016  # $1 is expanded by the inner bash
printf '%s\n' "$@" | xargs -P "${GOP_LANES:-2}" -I{} bash -c 'run_one "$1"' _ {} || rc=$?
echo "=== scenarios, ${GOP_LANES:-2} at a time, $((SECONDS - start)) s in all:"
cat "$run_dir/summary"
rm -rf "$run_dir"
exit $((rc != 0))

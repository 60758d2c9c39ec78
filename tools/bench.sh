#!/usr/bin/env bash
# Measure converge times of the repo-root working directory and write them
# into docs/benchmarks.md (between the BENCH markers). Runs are repeated
# GOP_BENCH_RUNS times (default 3); the median and the spread are reported.
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/lib.sh"
runs=${GOP_BENCH_RUNS:-3}
name=galaxy-ops-bench
out="$GOP_ROOT/docs/benchmarks.md"

seconds() { local t0=$SECONDS; "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; echo $((SECONDS - t0)); }
stats() { sort -n | awk '{v[NR]=$1} END {printf "%d s (min %d, max %d, n=%d)", v[int((NR+1)/2)], v[1], v[NR], NR}'; }
cold_run() { gop_converge && gop_pulsar_check "$name"; }

gop_install_collection
gop_inventory "$name"
cold=() noop=()
for i in $(seq "$runs"); do
    echo "run $i/$runs: cold converge + job"
    gop_start_container "$name" --fresh
    cold+=("$(seconds cold_run)")
    echo "run $i/$runs: no-op re-run"
    noop+=("$(seconds gop_converge)")
done
podman rm -f "$name" >/dev/null

table=$(cat <<TABLE
| Measure | Median (spread) |
| --- | --- |
| Cold converge: fresh container to a passing \`pulsar-check\` job | $(printf '%s\n' "${cold[@]}" | stats) |
| No-op re-run of \`pulsar-playbook.yml\` (\`changed=0\`) | $(printf '%s\n' "${noop[@]}" | stats) |

Measured $(date -u +%Y-%m-%d) on $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB RAM, $(. /etc/os-release; echo "$PRETTY_NAME"), podman $(podman version -f '{{.Client.Version}}'), Debian $GOP_SUITE container.
TABLE
)
python3 - "$out" "$table" <<'PY'
import sys
path, table = sys.argv[1], sys.argv[2]
begin, end = "<!-- BEGIN BENCH converge -->", "<!-- END BENCH converge -->"
text = open(path).read()
head, rest = text.split(begin)
open(path, "w").write(f"{head}{begin}\n{table}\n{end}{rest.split(end)[1]}")
PY
echo "$table"

#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang-14 (-fsanitize=fuzzer,address,undefined;
# CMake preset "fuzz", build dir build/fuzz) and runs each for N minutes, one after the other
# (one core each; the machine is shared). Writes a summary of executions, exec/s, coverage (cov:
# edges, ft: features), corpus and crashes per target. docs/fuzzing.md explains the targets.
#
#   tests/fuzz/run.sh MINUTES [TARGET...]      e.g. tests/fuzz/run.sh 10
#   tests/fuzz/run.sh --build-only
#   tests/fuzz/run.sh --list
#
# Needs: apt-get install clang-14 libclang-rt-14-dev (plus deploy/debian-packages.txt).
# Environment: JOBS (build jobs, default 2), FUZZ_BUILD_DIR (default build/fuzz), FUZZ_ARGS (extra
# libFuzzer flags). The seed corpus tests/fuzz/corpus/<target> is read, never written: new inputs
# go to $FUZZ_BUILD_DIR/fuzz-corpus/<target>, crashers to $FUZZ_BUILD_DIR/fuzz-artifacts/<target>/,
# logs to $FUZZ_BUILD_DIR/fuzz-logs/<target>.log, the summary to $FUZZ_BUILD_DIR/fuzz-summary.md.
# Exit status: 0 when no target crashed, 1 when one did, 2 on a usage or build error.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build/fuzz}"
jobs="${JOBS:-2}"
all_targets=(policy_files template_bind delivery_csv audit_leaf audit_note merkle_proof
             audit_bundle enclavectl_args)

usage() {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 1 ] || usage
case "$1" in
  --list) printf '%s\n' "${all_targets[@]}"; exit 0 ;;
  --build-only) minutes=0 ;;
  -h|--help) usage ;;
  *)
    [[ "$1" =~ ^[0-9]+([.][0-9]+)?$ ]] || usage
    minutes="$1"
    ;;
esac
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [ -d "$here/corpus/$t" ] || { echo "run.sh: unknown target '$t' (--list)" >&2; exit 2; }
done

if ! command -v clang++-14 >/dev/null; then
  echo "run.sh: clang++-14 not found: apt-get install clang-14 libclang-rt-14-dev" >&2
  exit 2
fi
if ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "run.sh: the libFuzzer runtime is missing: apt-get install libclang-rt-14-dev" >&2
  exit 2
fi

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cd "$root"
cmake --preset fuzz -B "$build" "${launcher[@]}" >/dev/null
cmake --build "$build" -j"$jobs" --target enclave_fuzz_targets
# The seeds and fixed crashers first, as CTest runs them (fuzz/replay/<target>, libFuzzer -runs=0).
ctest --test-dir "$build" -L fuzz --output-on-failure
[ "$minutes" != 0 ] || exit 0

seconds=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
summary="$build/fuzz-summary.md"
mkdir -p "$build/fuzz-logs"
{
  echo "# Fuzzing summary ($(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown))"
  echo
  echo "Command: tests/fuzz/run.sh $minutes ${targets[*]}  (clang-14, -fsanitize=fuzzer,address,undefined, -O1)"
  echo
  echo "| target | minutes | executions | exec/s | cov (edges) | ft (features) | corpus (inputs/size) | seeds | crashes |"
  echo "|---|---|---|---|---|---|---|---|---|"
} > "$summary"

failed=0
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/enclave_${t}_fuzz"
  work="$build/fuzz-corpus/$t"
  artifacts="$build/fuzz-artifacts/$t"
  log="$build/fuzz-logs/$t.log"
  mkdir -p "$work" "$artifacts"
  echo "run.sh: fuzzing $t for $minutes min (log: $log)"
  status=0
  # New inputs go to the first directory ($work); the seed corpus is only read.
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "$work" "$here/corpus/$t" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
  seeds=$(find "$here/corpus/$t" -type f | wc -l)
  found=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
                                       -o -name 'oom-*' \) | wc -l)
  result="$found"
  if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
    failed=1
    result="$found (exit $status; see $log)"
  fi
  echo "| $t | $minutes | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} | $seeds | $result |" >> "$summary"
done
echo
cat "$summary"
exit "$failed"

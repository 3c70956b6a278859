#!/bin/sh
# Fuzzes the parsers with libFuzzer under ASan + UBSan (tests/fuzz/README.md).
#
#   sh tests/fuzz/run.sh [MINUTES] [TARGET...]      (from the source root; default 10 minutes
#                                                    each, every target, one after another)
#   JOBS=2 sh tests/fuzz/run.sh 10                  (two targets at a time)
#
# Targets: safetensors config preprocessor-config labels npy pickle torch.
# Builds build-fuzz with clang (-Dfuzzing=true) if needed, runs each target at nice 19 on its
# seed corpus plus a work corpus (build-fuzz/tests/fuzz/corpus-TARGET), and writes
# build-fuzz/tests/fuzz/TARGET.log; crash inputs go to build-fuzz/tests/fuzz/corpus-TARGET-crash-*.
# Ends with a table: executions, coverage (cov: edges, ft: features), corpus size, crashes.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD:-$root/build-fuzz}
minutes=${1:-10}
[ $# -gt 0 ] && shift
targets=${*:-$(sed -n "s/^  '\([a-z-]*\)': {'sources'.*/\1/p" "$root/tests/fuzz/meson.build")}
jobs=${JOBS:-1}
seconds=${FUZZ_SECONDS:-$((minutes * 60))}    # FUZZ_SECONDS=20: a smoke run
if [ "$seconds" -lt 1 ]; then
  echo "run.sh: give MINUTES >= 1 (libFuzzer's 0 would mean forever)" >&2
  exit 2
fi

if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" "$root" -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
fi
# regenerate first: new targets are only known to a fresh build.ninja
ninja -C "$build" build.ninja >/dev/null
meson compile -C "$build" $(for t in $targets; do printf 'tests/fuzz/fuzz-%s ' "$t"; done)

out=$build/tests/fuzz
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
run_one () {
  t=$1
  dict=""
  case $t in
    safetensors|config|preprocessor-config) dict="-dict=$root/tests/fuzz/json.dict" ;;
    npy) dict="-dict=$root/tests/fuzz/npy.dict" ;;
    pickle|torch) dict="-dict=$root/tests/fuzz/pickle.dict" ;;
  esac
  mkdir -p "$out/corpus-$t"
  echo "fuzz-$t: $seconds s" >&2
  # shellcheck disable=SC2086
  nice -n 19 "$out/fuzz-$t" -max_total_time="$seconds" -print_final_stats=1 \
    -max_len=65536 -rss_limit_mb=2048 -timeout=10 $dict \
    -artifact_prefix="$out/corpus-$t-crash-" "$out/corpus-$t" "$root/tests/fuzz/corpus/$t" \
    > "$out/$t.log" 2>&1 || true
}

n=0
for t in $targets; do
  run_one "$t" &
  n=$((n + 1))
  if [ $((n % jobs)) -eq 0 ]; then wait; fi
done
wait

printf '%-20s %8s %12s %8s %8s %8s %8s\n' target seconds execs cov ft corpus crashes
for t in $targets; do
  log=$out/$t.log
  last=$(grep -E '^#[0-9]+.*(cov|DONE)' "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
  crashes=$(ls "$out/corpus-$t-crash-"* 2>/dev/null | wc -l)
  printf '%-20s %8s %12s %8s %8s %8s %8s\n' "$t" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" \
    "${corp:-?}" "$crashes"
done

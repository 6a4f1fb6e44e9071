#!/usr/bin/env bash
# Builds the libFuzzer targets (every src/**/*_fuzz.cpp) with clang-14 into build-fuzz/ and runs
# each one for N seconds over its seed corpus fuzz/corpus/<target without _fuzz>/.
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]   default: $MINGCHU_FUZZ_SECONDS or 20 s, all targets
#   bash scripts/fuzz.sh 60 json_fuzz            one target for a minute
#
# The seeds in the repo are only read: inputs libFuzzer finds go to build-fuzz/corpus/<name>/,
# crashes to build-fuzz/artifacts/<name>/crash-* (reproduce: build-fuzz/fuzz/<name> <file>), logs to
# build-fuzz/logs/<name>.log. A crash becomes a fixed bug plus a regression unit test named after
# what it broke, and its input joins the seed corpus.
#
# Build: the project's CMake with -DMINGCHU_FUZZ=ON (ASan + UBSan + fuzzer instrumentation).
# clang 14 cannot compile C++20 coroutines with UBSan's -fsanitize=function ("Cannot represent a
# difference across sections", llvm/llvm-project#49689), which the http module needs, so that one
# check is turned off. If the CMake build fails (a module under construction), the targets in
# core/, crypto/ and files/ — modules that need no services — are built directly from those
# modules' sources into build-fuzz/direct/, and the others count as failed.
#
# MINGCHU_FUZZ_DIRECT=1 skips CMake and uses the direct build (quick: three small modules only).
#
# Exit status: non-zero when a target crashed, leaked, timed out or did not build. The last line
# is "N passed, M failed", counted in targets.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

secs=${MINGCHU_FUZZ_SECONDS:-20}
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
  secs=$1
  shift
fi
only=("$@")
jobs=${MINGCHU_JOBS:-2}
CXX=${MINGCHU_FUZZ_CXX:-clang++-14}
BUILD=$ROOT/build-fuzz

log() { printf '[fuzz] %s\n' "$*"; }

if ! command -v "$CXX" >/dev/null; then
  log "$CXX not found (apt-get install clang-14 libclang-rt-14-dev)"
  echo "0 passed, 1 failed"
  exit 1
fi

# name -> source path, for every fuzz target in the tree (or the ones asked for).
declare -A source_of=()
while IFS= read -r f; do
  n=$(basename "$f" .cpp)
  source_of[$n]=$f
done < <(find src -name '*_fuzz.cpp' | sort)
targets=()
if ((${#only[@]})); then
  for t in "${only[@]}"; do
    if [[ -z ${source_of[$t]:-} ]]; then
      log "no such target '$t' (known: ${!source_of[*]})"
      echo "0 passed, 1 failed"
      exit 2
    fi
    targets+=("$t")
  done
else
  mapfile -t targets < <(printf '%s\n' "${!source_of[@]}" | sort)
fi
if ((${#targets[@]} == 0)); then
  log "no *_fuzz.cpp targets under src/"
  echo "0 passed, 0 failed"
  exit 0
fi

declare -A binary_of=()

cmake_build() {
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER="$CXX" -DMINGCHU_FUZZ=ON -DMINGCHU_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS=-fno-sanitize=function >"$BUILD/logs/cmake.log" 2>&1 &&
    ninja -C "$BUILD" -j"$jobs" "${targets[@]}" >"$BUILD/logs/ninja.log" 2>&1
}

# Fallback: one static archive per self-contained module, each fuzz target linked against them.
# Archives pull in only the objects a target needs, so a file of those modules that depends on
# another module (or does not compile yet) does not stop the others.
direct_build() {
  local dir=$BUILD/direct obj ok_any m f n
  local flags=(-std=c++20 -O1 -g -Wall -Wextra -Wpedantic -Wno-missing-field-initializers -Werror
    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function -fno-sanitize-recover=undefined
    -I"$ROOT/src" -isystem /usr/include/postgresql)
  mkdir -p "$dir"
  for m in files crypto core; do
    mkdir -p "$dir/$m"
    ok_any=0
    for f in src/$m/*.cpp; do
      [[ $f == *_test.cpp || $f == *_pgtest.cpp || $f == *_fuzz.cpp ]] && continue
      obj=$dir/$m/$(basename "$f" .cpp).o
      if "$CXX" "${flags[@]}" -c "$f" -o "$obj" 2>>"$BUILD/logs/direct.log"; then
        ok_any=1
      else
        log "direct: $f does not compile on its own (skipped; see build-fuzz/logs/direct.log)"
        rm -f "$obj"
      fi
    done
    rm -f "$dir/lib$m.a"
    ((ok_any)) && ar rcs "$dir/lib$m.a" "$dir/$m"/*.o
  done
  mkdir -p "$BUILD/fuzz"
  for n in "${targets[@]}"; do
    case ${source_of[$n]} in
      src/core/* | src/crypto/* | src/files/*) ;;
      *)
        log "direct: $n is outside core/crypto/files; it needs the CMake build"
        continue
        ;;
    esac
    if "$CXX" "${flags[@]}" -fsanitize=fuzzer "${source_of[$n]}" -o "$BUILD/fuzz/$n" \
      "$dir"/libfiles.a "$dir"/libcrypto.a "$dir"/libcore.a -lboost_json -lcrypto -lsodium -lpthread \
      2>>"$BUILD/logs/direct.log"; then
      binary_of[$n]=$BUILD/fuzz/$n
    else
      log "direct: $n does not link (see build-fuzz/logs/direct.log)"
    fi
  done
}

mkdir -p "$BUILD/logs"
log "building ${targets[*]} with $CXX into build-fuzz/ (first build compiles the whole program; be patient)"
t0=$SECONDS
if [[ ${MINGCHU_FUZZ_DIRECT:-0} == 1 ]]; then
  log "MINGCHU_FUZZ_DIRECT=1: direct build of the core/crypto/files targets"
  : >"$BUILD/logs/direct.log"
  direct_build
elif cmake_build; then
  for n in "${targets[@]}"; do binary_of[$n]=$BUILD/fuzz/$n; done
  log "CMake build ok ($((SECONDS - t0)) s)"
else
  log "CMake build failed ($((SECONDS - t0)) s); last lines of its log:"
  tail -n 5 "$BUILD/logs/ninja.log" 2>/dev/null || tail -n 5 "$BUILD/logs/cmake.log"
  log "falling back to a direct build of the core/crypto/files targets"
  : >"$BUILD/logs/direct.log"
  direct_build
fi

passed=0
failed=0
summary=()
for n in "${targets[@]}"; do
  bin=${binary_of[$n]:-}
  if [[ -z $bin || ! -x $bin ]]; then
    summary+=("$(printf '%-16s NOT BUILT' "$n")")
    failed=$((failed + 1))
    continue
  fi
  seeds=$ROOT/fuzz/corpus/${n%_fuzz}
  work=$BUILD/corpus/$n
  art=$BUILD/artifacts/$n
  mkdir -p "$work" "$art"
  dirs=("$work")
  if [[ -d $seeds ]]; then dirs+=("$seeds"); else log "$n: no seed corpus at fuzz/corpus/${n%_fuzz}/"; fi
  log "$n: ${secs} s"
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$art/" "${dirs[@]}" >"$BUILD/logs/$n.log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$BUILD/logs/$n.log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$BUILD/logs/$n.log")
  cov=$(grep -oE 'cov: [0-9]+' "$BUILD/logs/$n.log" | tail -n1)
  if ((rc == 0)); then
    passed=$((passed + 1))
    summary+=("$(printf '%-16s ok     %9s runs  %7s exec/s  %s' "$n" "${execs:-?}" "${rate:-?}" "$cov")")
  else
    failed=$((failed + 1))
    summary+=("$(printf '%-16s FAILED (exit %d) after %s runs; see build-fuzz/logs/%s.log' "$n" "$rc" "${execs:-?}" "$n")")
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$BUILD/logs/$n.log" | head -n 5
  fi
done

printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
((failed == 0))

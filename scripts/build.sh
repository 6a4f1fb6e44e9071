#!/usr/bin/env bash
# Configures and builds MingChu with CMake + Ninja.
#
#   bash scripts/build.sh            build/       RelWithDebInfo: mingchu, mingchu_unit_tests, benchmarks
#   bash scripts/build.sh --asan     build-asan/  -DMINGCHU_SANITIZE=ON, only mingchu_unit_tests
#   bash scripts/build.sh --tsan     build-tsan/  -DMINGCHU_TSAN=ON, only mingchu_tsan_tests (the
#                                    threaded modules' tests under ThreadSanitizer)
#   bash scripts/build.sh --no-web   skip the web UI (web/, npm run build)
#
# Two parallel jobs: each translation unit with Beast takes ~800 MB and ~20 s on these 2 cores.
# Extra -D options for CMake may follow the flags (e.g. -DMINGCHU_WERROR=OFF).
set -euo pipefail
cd "$(dirname "$0")/.."

asan=0
tsan=0
web=1
cmake_extra=()
for arg in "$@"; do
  case $arg in
    --asan) asan=1 ;;
    --tsan) tsan=1 ;;
    --no-web) web=0 ;;
    -D*) cmake_extra+=("$arg") ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

log() { printf '[build] %s\n' "$*"; }
jobs=${MINGCHU_JOBS:-2}

# The web UI first: the server serves web/dist. A failed web build does not stop the C++ build
# (its tests can still run); build.sh exits non-zero at the end.
web_failed=0
if [[ $web == 1 && $asan == 0 && $tsan == 0 && -f web/package.json ]]; then
  if [[ ! -d web/node_modules ]]; then
    bash scripts/install-deps.sh
  fi
  # build/web.stamp marks the last successful web build (vite empties web/dist on every build,
  # so a failed build leaves web/dist newer than the sources: its mtime proves nothing).
  stamp=build/web.stamp
  stale=1
  if [[ -f $stamp && -f web/dist/index.html ]]; then
    # Any source file newer than the last build? (node_modules and dist themselves excluded.)
    if [[ -z $(find web -path web/node_modules -prune -o -path web/dist -prune -o \
                 -type f -newer "$stamp" -print -quit) ]]; then
      stale=0
    fi
  fi
  if [[ $stale == 1 ]]; then
    log "web: npm run build"
    rm -f "$stamp"
    if (cd web && npm run build </dev/null); then
      mkdir -p build
      touch "$stamp"
    else
      web_failed=1
      log "web: npm run build FAILED"
    fi
  else
    log "web: web/dist is up to date"
  fi
fi

if [[ $tsan == 1 ]]; then
  dir=build-tsan
  cfg=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMINGCHU_TSAN=ON -DMINGCHU_BENCH=OFF)
  targets=(--target mingchu_tsan_tests)
elif [[ $asan == 1 ]]; then
  dir=build-asan
  cfg=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMINGCHU_SANITIZE=ON -DMINGCHU_BENCH=OFF)
  targets=(--target mingchu_unit_tests)
else
  dir=build
  cfg=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  targets=()   # all: the server, the unit tests and the benchmarks
fi

log "configure $dir/"
# Boost_NO_WARN_NEW_VERSIONS: CMake 3.25's FindBoost does not know 1.81 and says so at length.
cmake -S . -B "$dir" -G Ninja "${cfg[@]}" -DBoost_NO_WARN_NEW_VERSIONS=ON "${cmake_extra[@]}" || {
  log "configure of $dir/ FAILED"
  exit 1
}
log "build $dir/ ${targets[*]:-(all)} with -j$jobs"
t0=$SECONDS
cmake --build "$dir" -j "$jobs" "${targets[@]}" || {
  log "build of $dir/ FAILED"
  exit 1
}
log "built $dir/ in $((SECONDS - t0)) s"
if ((web_failed)); then
  log "the web UI build failed (see above)"
  exit 1
fi

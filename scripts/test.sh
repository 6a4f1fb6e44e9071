#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run) and as a developer runs it:
#
#   bash scripts/test.sh
#
# 1. scripts/install-deps.sh
# 2. scripts/build.sh (build/, RelWithDebInfo), scripts/build.sh --asan (build-asan/) and
#    scripts/build.sh --tsan (build-tsan/: the threaded modules' tests under ThreadSanitizer)
# 3. scripts/services.sh start --fresh: private PostgreSQL 15, mosquitto and RabbitMQ on loopback,
#    always stopped again on the way out
# 4. with the services' env file sourced:
#    a. ctest in build/
#    b. ctest in build-asan/ (AddressSanitizer with leak detection + UndefinedBehaviorSanitizer)
#       and in build-tsan/ (ThreadSanitizer: a race or lock-order inversion fails the test)
#    c. node --test tests/api/*.test.mjs, then tests/e2e/*.test.mjs (when tests/package.json exists)
#    d. scripts/fuzz.sh, 10 s per target (when it exists)
#    e. the web UI's unit tests: npm test (vitest) in web/ (when web/package.json has "test")
#
# Every step runs even when an earlier one failed, so the log shows everything. The exit status
# is non-zero if anything failed. The last lines are a per-runner breakdown and then exactly
#   N passed, M failed, K skipped
# (a skipped test is neither passed nor failed; GTEST_SKIP, node's t.skip(), vitest's skip)
# counted over the test cases of all runners; a setup step (install, build, services) that
# fails, or a runner that fails without reporting a failed case, counts as one failed case.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD

ART=$ROOT/test-artifacts
LOGS=$ART/logs
mkdir -p "$LOGS" "$ART/screenshots"

export CI=${CI:-}
export MINGCHU_REQUIRE_PG=1                       # C++ PostgreSQL tests fail, not skip, without it
export MINGCHU_SCREENSHOTS=$ART/screenshots
export MINGCHU_BIN=$ROOT/build/mingchu
export MINGCHU_CHROMIUM=${MINGCHU_CHROMIUM:-/usr/bin/chromium}
export MINGCHU_SVC_DIR=${MINGCHU_SVC_DIR:-/tmp/mingchu-svc}
FUZZ_SECONDS=${MINGCHU_FUZZ_SECONDS:-10}
NODE_TIMEOUT=${MINGCHU_NODE_TEST_TIMEOUT:-2700}   # seconds per node runner
FUZZ_TIMEOUT=${MINGCHU_FUZZ_TIMEOUT:-1800}

total_pass=0
total_fail=0
total_skip=0
breakdown=()

banner() { printf '\n========== %s ==========\n' "$*"; }
note() { printf '[test] %s\n' "$*"; }

# add NAME PASSED FAILED DETAIL [SKIPPED]
add() {
  total_pass=$((total_pass + $2))
  total_fail=$((total_fail + $3))
  total_skip=$((total_skip + ${5:-0}))
  breakdown+=("$(printf '%-18s %5d passed, %3d failed, %3d skipped  %s' "$1" "$2" "$3" "${5:-0}" "$4")")
}

# setup NAME LOGFILE COMMAND...: a step that is not a test runner; failure counts as one case.
setup() {
  local name=$1 logfile=$2 t0=$SECONDS rc
  shift 2
  banner "$name"
  "$@" </dev/null 2>&1 | tee "$logfile"
  rc=${PIPESTATUS[0]}
  if ((rc == 0)); then
    add "$name" 0 0 "ok ($((SECONDS - t0)) s)"
  else
    note "$name FAILED (exit $rc); see $logfile"
    add "$name" 0 1 "FAILED, exit $rc ($((SECONDS - t0)) s) - counted as 1 failed"
  fi
  return "$rc"
}

# run_ctest NAME BUILD_DIR [ENV=VALUE...]
run_ctest() {
  local name=$1 dir=$2 logfile=$LOGS/$1.log t0=$SECONDS rc line failed total skipped
  shift 2
  banner "$name: ctest --test-dir $dir"
  if [[ ! -f $dir/CTestTestfile.cmake ]]; then
    note "$dir/ is not configured (its build failed): no tests to run"
    add "$name" 0 1 "not run: $dir/ not configured - counted as 1 failed"
    return
  fi
  env "$@" ctest --test-dir "$dir" --output-on-failure --no-tests=error -j2 </dev/null 2>&1 | tee "$logfile"
  rc=${PIPESTATUS[0]}
  # "100% tests passed, 0 tests failed out of 42"
  line=$(grep -E '[0-9]+ tests? failed out of [0-9]+' "$logfile" | tail -n1)
  # ctest counts a GTEST_SKIP'ed test as passed; it prints "***Skipped" on its line
  skipped=$(grep -cE 'Test +#[0-9]+: .*\*\*\*Skipped' "$logfile")
  if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
    failed=${BASH_REMATCH[1]}
    total=${BASH_REMATCH[2]}
    if ((rc != 0 && failed == 0)); then
      add "$name" $((total - skipped)) 1 "ctest exited $rc without a failed test - counted as 1 failed ($((SECONDS - t0)) s)" "$skipped"
    else
      add "$name" $((total - failed - skipped)) "$failed" "exit $rc ($((SECONDS - t0)) s)" "$skipped"
    fi
  elif grep -q 'No tests were found' "$logfile"; then
    # The usual cause: enable_testing() after add_subdirectory(src) in CMakeLists.txt, so the
    # tests registered under src/ never reach $dir/CTestTestfile.cmake.
    add "$name" 0 1 "NO TESTS registered in $dir/ - counted as 1 failed"
  else
    add "$name" 0 1 "no ctest summary, exit $rc - counted as 1 failed"
  fi
}

# run_node NAME FILES...
run_node() {
  local name=$1 logfile=$LOGS/$1.log t0=$SECONDS rc pass fail cancelled skipped todo
  shift
  banner "$name: node --test $*"
  timeout --kill-after=30 "$NODE_TIMEOUT" node --test --test-reporter=tap "$@" </dev/null 2>&1 | tee "$logfile"
  rc=${PIPESTATUS[0]}
  pass=$(grep -E '^# pass [0-9]+' "$logfile" | tail -n1 | awk '{print $3}')
  fail=$(grep -E '^# fail [0-9]+' "$logfile" | tail -n1 | awk '{print $3}')
  cancelled=$(grep -E '^# cancelled [0-9]+' "$logfile" | tail -n1 | awk '{print $3}')
  # "# pass" leaves skipped tests out; they are counted apart
  skipped=$(grep -E '^# skipped [0-9]+' "$logfile" | tail -n1 | awk '{print $3}')
  todo=$(grep -E '^# todo [0-9]+' "$logfile" | tail -n1 | awk '{print $3}')
  skipped=$((${skipped:-0} + ${todo:-0}))
  if [[ -z $pass || -z $fail ]]; then
    add "$name" 0 1 "no node summary, exit $rc - counted as 1 failed"
    return
  fi
  fail=$((fail + ${cancelled:-0}))
  if ((rc == 124 || rc == 137)); then
    add "$name" "$pass" $((fail + 1)) "timed out after $NODE_TIMEOUT s" "$skipped"
  elif ((rc != 0 && fail == 0)); then
    add "$name" "$pass" 1 "node exited $rc without a failed test - counted as 1 failed" "$skipped"
  else
    add "$name" "$pass" "$fail" "exit $rc ($((SECONDS - t0)) s)" "$skipped"
  fi
}

# run_vitest NAME DIR: `npm test` (vitest run) of a front-end package
run_vitest() {
  local name=$1 dir=$2 logfile=$LOGS/$1.log t0=$SECONDS rc line pass fail skipped
  banner "$name: npm test in $dir/"
  (cd "$dir" && NO_COLOR=1 timeout --kill-after=30 "$NODE_TIMEOUT" npm test </dev/null) 2>&1 | tee "$logfile"
  rc=${PIPESTATUS[0]}
  # "      Tests  2 failed | 51 passed (53)"
  line=$(grep -E '^ *Tests +.*\([0-9]+\)' "$logfile" | tail -n1)
  if [[ -z $line ]]; then
    add "$name" 0 1 "no vitest summary, exit $rc - counted as 1 failed"
    return
  fi
  pass=0 fail=0 skipped=0
  [[ $line =~ ([0-9]+)\ passed ]] && pass=${BASH_REMATCH[1]}
  [[ $line =~ ([0-9]+)\ failed ]] && fail=${BASH_REMATCH[1]}
  [[ $line =~ ([0-9]+)\ skipped ]] && skipped=${BASH_REMATCH[1]}
  if ((rc != 0 && fail == 0)); then
    add "$name" "$pass" 1 "exited $rc without a failed test - counted as 1 failed" "$skipped"
  else
    add "$name" "$pass" "$fail" "exit $rc ($((SECONDS - t0)) s)" "$skipped"
  fi
}

services_up=0
stop_services() {
  if ((services_up)); then
    services_up=0
    banner "services: stop"
    bash scripts/services.sh stop </dev/null
  fi
}
trap stop_services EXIT
trap 'note "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- setup
setup install-deps "$LOGS/install-deps.log" bash scripts/install-deps.sh
setup build "$LOGS/build.log" bash scripts/build.sh
setup build-asan "$LOGS/build-asan.log" bash scripts/build.sh --asan --no-web
setup build-tsan "$LOGS/build-tsan.log" bash scripts/build.sh --tsan --no-web
services_up=1   # from here on, stop them whatever happens (stop is safe if start failed half-way)
setup services "$LOGS/services.log" bash scripts/services.sh start --fresh
if [[ -f $MINGCHU_SVC_DIR/env ]]; then
  # shellcheck disable=SC1091
  source "$MINGCHU_SVC_DIR/env"
  note "MINGCHU_TEST_PG=$MINGCHU_TEST_PG MINGCHU_TEST_MQTT=$MINGCHU_TEST_MQTT MINGCHU_TEST_AMQP=$MINGCHU_TEST_AMQP"
else
  note "no services env file: tests that need PostgreSQL, MQTT or AMQP will fail"
fi

# ---------------------------------------------------------------- runners
run_ctest ctest build
run_ctest ctest-asan build-asan \
  ASAN_OPTIONS=detect_leaks=1 \
  LSAN_OPTIONS=suppressions="$PWD/scripts/lsan.supp" \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# a report makes the test binary exit 66, so ctest fails that test
run_ctest ctest-tsan build-tsan TSAN_OPTIONS=second_deadlock_stack=1:exitcode=66

if [[ -f tests/package.json ]]; then
  shopt -s nullglob
  api=(tests/api/*.test.mjs)
  e2e=(tests/e2e/*.test.mjs)
  shopt -u nullglob
  if ((${#api[@]})); then run_node node-api "${api[@]}"; else breakdown+=("node-api           (no tests/api/*.test.mjs)"); fi
  if ((${#e2e[@]})); then run_node node-e2e "${e2e[@]}"; else breakdown+=("node-e2e           (no tests/e2e/*.test.mjs)"); fi
fi

if [[ -f scripts/fuzz.sh ]]; then
  # fuzz.sh gets the seconds per target both as $1 and as MINGCHU_FUZZ_SECONDS. If it prints an
  # "N passed, M failed" line, that is its count; otherwise it counts as one case.
  banner "fuzz: scripts/fuzz.sh $FUZZ_SECONDS"
  t0=$SECONDS
  MINGCHU_FUZZ_SECONDS=$FUZZ_SECONDS timeout --kill-after=30 "$FUZZ_TIMEOUT" \
    bash scripts/fuzz.sh "$FUZZ_SECONDS" </dev/null 2>&1 | tee "$LOGS/fuzz.log"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$LOGS/fuzz.log" | tail -n1)
  if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
    ((rc != 0 && f == 0)) && f=1
    add fuzz "$p" "$f" "exit $rc ($((SECONDS - t0)) s)"
  elif ((rc == 0)); then
    add fuzz 1 0 "ok ($((SECONDS - t0)) s)"
  else
    add fuzz 0 1 "FAILED, exit $rc ($((SECONDS - t0)) s)"
  fi
fi

# The web UI's own unit tests (vitest), when web/package.json has a test script.
if [[ -f web/package.json ]] && grep -q '"test"[[:space:]]*:' web/package.json; then
  run_vitest web-unit web
fi

# ---------------------------------------------------------------- summary
stop_services
trap - EXIT

banner summary
note "logs: $LOGS/"
for b in "${breakdown[@]}"; do
  printf '  %s\n' "$b"
done
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
((total_fail == 0))

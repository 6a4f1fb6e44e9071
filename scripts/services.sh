#!/usr/bin/env bash
# Private test instances of PostgreSQL 15, mosquitto and RabbitMQ, on loopback and non-default
# ports, with all their state in one directory. The system-wide instances the Debian packages
# set up are never used.
#
#   bash scripts/services.sh start [--fresh]   start what is not running; --fresh wipes state first
#   bash scripts/services.sh stop              stop all three (safe to call when nothing runs)
#   bash scripts/services.sh status            say what runs
#   bash scripts/services.sh env               print the env file the tests source
#
# State lives in $MINGCHU_SVC_DIR (default /tmp/mingchu-svc); `start` writes $DIR/env with
#   MINGCHU_TEST_PG   postgresql://mingchu:mingchu@127.0.0.1:55432/mingchu_test
#   MINGCHU_TEST_MQTT mqtt://127.0.0.1:51883
#   MINGCHU_TEST_AMQP amqp://guest:guest@127.0.0.1:55672/
set -euo pipefail

DIR=${MINGCHU_SVC_DIR:-/tmp/mingchu-svc}
PG_PORT=${MINGCHU_PG_PORT:-55432}
MQTT_PORT=${MINGCHU_MQTT_PORT:-51883}
AMQP_PORT=${MINGCHU_AMQP_PORT:-55672}
AMQP_DIST_PORT=${MINGCHU_AMQP_DIST_PORT:-55673}
EPMD_PORT=${MINGCHU_EPMD_PORT:-54369}          # a private epmd, so a system epmd on 4369 cannot get in the way
RMQ_NODE=${MINGCHU_RMQ_NODE:-mingchu-test@localhost}
PG_BIN=/usr/lib/postgresql/15/bin
RMQ_BIN=/usr/lib/rabbitmq/bin

PG_DIR=$DIR/postgres
MQ_DIR=$DIR/mosquitto
RMQ_DIR=$DIR/rabbitmq

say() { printf '[services] %s\n' "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# fail NAME LOG MESSAGE: a clear error and the tail of the service's log, then exit 1.
fail() {
  local name=$1 logfile=$2
  shift 2
  printf '[services] ERROR: %s: %s\n' "$name" "$*" >&2
  if [[ -n $logfile && -f $logfile ]]; then
    printf '[services] --- last lines of %s ---\n' "$logfile" >&2
    tail -n 40 "$logfile" >&2 || true
    printf '[services] ---\n' >&2
  fi
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [[ -s $1 ]] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }

# PostgreSQL refuses to run as root: run it as the postgres OS user when we are root.
as_pg() {
  if [[ $EUID -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi
}
pg_owner() { if [[ $EUID -eq 0 ]]; then echo postgres; else id -un; fi; }

# ---------------------------------------------------------------- PostgreSQL

pg_running() {
  [[ -f $PG_DIR/data/postmaster.pid ]] && as_pg "$PG_BIN/pg_ctl" status -D "$PG_DIR/data" >/dev/null 2>&1
}

pg_psql() {  # as the superuser, over the private unix socket
  "$PG_BIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 -h "$PG_DIR/run" -p "$PG_PORT" -U postgres -d postgres "$@"
}

start_pg() {
  local t0 log=$PG_DIR/postgres.log
  t0=$(now)
  if pg_running; then
    say "PostgreSQL already running on 127.0.0.1:$PG_PORT"
  else
    port_open "$PG_PORT" && fail PostgreSQL "" "port $PG_PORT is taken by another program"
    mkdir -p "$PG_DIR/run"
    chown "$(pg_owner)": "$PG_DIR" "$PG_DIR/run"
    chmod 700 "$PG_DIR"
    as_pg test -w "$PG_DIR" ||
      fail PostgreSQL "" "user $(pg_owner) cannot reach $PG_DIR (is a parent directory private?)"
    if [[ ! -s $PG_DIR/data/PG_VERSION ]]; then
      rm -rf "$PG_DIR/data"
      as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --locale=C -E UTF8 \
        --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 ||
        fail PostgreSQL "$PG_DIR/initdb.log" "initdb failed"
      cat >>"$PG_DIR/data/postgresql.conf" <<EOF

# --- mingchu test instance (scripts/services.sh) ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR/run'
fsync = on
synchronous_commit = on
max_connections = 200
log_min_messages = warning
EOF
    fi
    : >>"$log"
    chown "$(pg_owner)": "$log"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$log" -w -t 60 start >/dev/null 2>&1 ||
      fail PostgreSQL "$log" "pg_ctl start failed"
  fi
  local i
  for ((i = 0; i < 60; i++)); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 0.5
  done
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || fail PostgreSQL "$log" "not ready after 30 s"

  if [[ -z $(pg_psql -c "SELECT 1 FROM pg_roles WHERE rolname = 'mingchu'") ]]; then
    pg_psql -c "CREATE ROLE mingchu LOGIN CREATEDB PASSWORD 'mingchu'" || fail PostgreSQL "$log" "CREATE ROLE failed"
  fi
  if [[ -z $(pg_psql -c "SELECT 1 FROM pg_database WHERE datname = 'mingchu_test'") ]]; then
    pg_psql -c "CREATE DATABASE mingchu_test OWNER mingchu ENCODING 'UTF8' TEMPLATE template0" ||
      fail PostgreSQL "$log" "CREATE DATABASE failed"
  fi
  PGPASSWORD=mingchu "$PG_BIN/psql" -X -q -t -A -h 127.0.0.1 -p "$PG_PORT" -U mingchu -d mingchu_test \
    -c 'SELECT 1' >/dev/null || fail PostgreSQL "$log" "cannot log in as mingchu over TCP"
  say "PostgreSQL 15 ready on 127.0.0.1:$PG_PORT ($(elapsed "$t0") s)"
}

stop_pg() {
  if pg_running; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null ||
      fail PostgreSQL "$PG_DIR/postgres.log" "pg_ctl stop failed"
    say "PostgreSQL stopped"
  fi
}

# ---------------------------------------------------------------- mosquitto

start_mosquitto() {
  local t0 log=$MQ_DIR/mosquitto.log pidf=$MQ_DIR/mosquitto.pid
  t0=$(now)
  if pid_alive "$pidf"; then
    say "mosquitto already running on 127.0.0.1:$MQTT_PORT"
  else
    port_open "$MQTT_PORT" && fail mosquitto "" "port $MQTT_PORT is taken by another program"
    rm -f "$pidf"
    mkdir -p "$MQ_DIR/data"
    cat >"$MQ_DIR/mosquitto.conf" <<EOF
# mingchu test instance (scripts/services.sh)
pid_file $pidf
persistence true
persistence_location $MQ_DIR/data/
log_dest file $log
log_type error
log_type warning
log_type notice
log_type information
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
EOF
    # Started as root, mosquitto drops to the mosquitto user: let it write its state.
    if [[ $EUID -eq 0 ]] && id mosquitto >/dev/null 2>&1; then
      : >>"$log"
      chown -R mosquitto: "$MQ_DIR"
    fi
    mosquitto -c "$MQ_DIR/mosquitto.conf" -d </dev/null >>"$log" 2>&1 ||
      fail mosquitto "$log" "mosquitto would not start"
  fi
  local i
  for ((i = 0; i < 40; i++)); do
    mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -t mingchu/services/ready -m 1 >/dev/null 2>&1 && break
    sleep 0.25
  done
  ((i < 40)) || fail mosquitto "$log" "no MQTT answer on 127.0.0.1:$MQTT_PORT after 10 s"
  pid_alive "$pidf" || fail mosquitto "$log" "no live pid in $pidf"
  say "mosquitto ready on 127.0.0.1:$MQTT_PORT ($(elapsed "$t0") s)"
}

stop_mosquitto() {
  local pidf=$MQ_DIR/mosquitto.pid pid
  if pid_alive "$pidf"; then
    pid=$(head -n1 "$pidf")
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 10; then
      kill -KILL "$pid" 2>/dev/null || true
      say "mosquitto did not stop in 10 s: killed"
    fi
    say "mosquitto stopped"
  fi
  rm -f "$pidf"
}

# ---------------------------------------------------------------- RabbitMQ
# Run as the invoking user (root on CI) straight from /usr/lib/rabbitmq/bin, not through the
# /usr/sbin wrappers (they `su rabbitmq` and use /var/lib/rabbitmq). HOME points into the
# private dir so the Erlang cookie shared by the server and rabbitmqctl is ours, and
# RABBITMQ_CONF_ENV_FILE replaces /etc/rabbitmq/rabbitmq-env.conf.

rmq_env() {
  export HOME=$RMQ_DIR/home
  export RABBITMQ_NODENAME=$RMQ_NODE
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$AMQP_PORT
  export RABBITMQ_DIST_PORT=$AMQP_DIST_PORT
  export RABBITMQ_MNESIA_BASE=$RMQ_DIR/mnesia
  export RABBITMQ_LOG_BASE=$RMQ_DIR/log
  export RABBITMQ_ENABLED_PLUGINS_FILE=$RMQ_DIR/enabled_plugins
  export RABBITMQ_CONFIG_FILE=$RMQ_DIR/rabbitmq.conf
  export RABBITMQ_ADVANCED_CONFIG_FILE=$RMQ_DIR/advanced.config
  export RABBITMQ_CONF_ENV_FILE=$RMQ_DIR/rabbitmq-env.conf
  export RABBITMQ_PID_FILE=$RMQ_DIR/rabbitmq.pid
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
  export ERL_EPMD_PORT=$EPMD_PORT
  export ERL_EPMD_ADDRESS=127.0.0.1
}

rmqctl() (
  rmq_env
  cd "$RMQ_DIR"
  "$RMQ_BIN/rabbitmqctl" -n "$RMQ_NODE" "$@"
)

rmq_log() { echo "$RMQ_DIR/log/$RMQ_NODE.log"; }

# Launches the broker in the background, in a session of its own, and returns at once;
# rabbit_wait waits for it. Not `rabbitmq-server -detached`: erl -detached closes stdout and
# stderr, so a broker that fails to boot (a bad config, say) leaves no message anywhere and the
# wait only ends in a timeout. Run this way, its boot output goes to startup.log and the
# launcher's pid tells at once when it has died.
rabbit_launch() {
  RMQ_T0=$(now)
  if pid_alive "$RMQ_DIR/rabbitmq.pid"; then
    RMQ_LAUNCHED=0
    return
  fi
  RMQ_LAUNCHED=1
  port_open "$AMQP_PORT" && fail RabbitMQ "" "port $AMQP_PORT is taken by another program"
  port_open "$AMQP_DIST_PORT" && fail RabbitMQ "" "port $AMQP_DIST_PORT is taken by another program"
  rm -f "$RMQ_DIR/rabbitmq.pid" "$RMQ_DIR/launcher.pid" "$RMQ_DIR/erl_crash.dump"
  mkdir -p "$RMQ_DIR/home" "$RMQ_DIR/mnesia" "$RMQ_DIR/log"
  if [[ ! -s $RMQ_DIR/home/.erlang.cookie ]]; then
    (umask 077 && head -c 30 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RMQ_DIR/home/.erlang.cookie")
  fi
  chmod 400 "$RMQ_DIR/home/.erlang.cookie"
  echo '[].' >"$RMQ_DIR/enabled_plugins"
  echo '[].' >"$RMQ_DIR/advanced.config"
  : >"$RMQ_DIR/rabbitmq-env.conf"
  # guest may log in from loopback only (RabbitMQ's default), which is all the tests need.
  cat >"$RMQ_DIR/rabbitmq.conf" <<EOF
# mingchu test instance (scripts/services.sh)
listeners.tcp.1 = 127.0.0.1:$AMQP_PORT
loopback_users.guest = true
log.file.level = info
log.console = false
EOF
  : >"$RMQ_DIR/startup.log"
  (
    rmq_env
    cd "$RMQ_DIR"
    exec setsid "$RMQ_BIN/rabbitmq-server" </dev/null >>"$RMQ_DIR/startup.log" 2>&1
  ) &
  echo $! >"$RMQ_DIR/launcher.pid"
}

rabbit_fail() {
  local dump=$RMQ_DIR/erl_crash.dump
  if [[ -s $RMQ_DIR/startup.log ]]; then
    # The cause is in the first errors; the tail is the crash that followed.
    printf '[services] --- first errors in %s ---\n' "$RMQ_DIR/startup.log" >&2
    grep -m 8 -E '\[(error|critical)\]' "$RMQ_DIR/startup.log" >&2 || true
    printf '[services] --- last lines of %s ---\n' "$RMQ_DIR/startup.log" >&2
    tail -n 12 "$RMQ_DIR/startup.log" >&2
  fi
  if [[ -f $dump ]]; then
    printf '[services] Erlang crash dump: %s\n' "$(grep -m1 '^Slogan' "$dump" | cut -c1-400)" >&2
  fi
  fail RabbitMQ "$(rmq_log)" "$*"
}

rabbit_wait() {
  local out=$RMQ_DIR/wait.log i
  if [[ $RMQ_LAUNCHED == 1 ]]; then
    # Until the broker writes its pid file, watch the launcher so a failed boot is seen at once.
    for ((i = 0; i < 480; i++)); do
      pid_alive "$RMQ_DIR/rabbitmq.pid" && break
      pid_alive "$RMQ_DIR/launcher.pid" || rabbit_fail "rabbitmq-server exited while booting"
      sleep 0.25
    done
    pid_alive "$RMQ_DIR/rabbitmq.pid" || rabbit_fail "no pid file after 120 s"
  fi
  # `wait` waits for the broker to finish booting; await_startup confirms it.
  if ! rmqctl wait "$RMQ_DIR/rabbitmq.pid" --timeout 120 >"$out" 2>&1 ||
     ! rmqctl await_startup --timeout 120 >>"$out" 2>&1; then
    cat "$out" >&2
    rabbit_fail "broker did not finish booting"
  fi
  port_open "$AMQP_PORT" || rabbit_fail "nothing listens on 127.0.0.1:$AMQP_PORT"
  if [[ $RMQ_LAUNCHED == 1 ]]; then
    say "RabbitMQ ready on 127.0.0.1:$AMQP_PORT, node $RMQ_NODE ($(elapsed "$RMQ_T0") s)"
  else
    say "RabbitMQ already running on 127.0.0.1:$AMQP_PORT"
  fi
}

# wait_gone PID SECONDS: true once PID has exited.
wait_gone() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  ! kill -0 "$1" 2>/dev/null
}

stop_rabbit() {
  local pidf=$RMQ_DIR/rabbitmq.pid launcher=$RMQ_DIR/launcher.pid pid stopped=0
  if pid_alive "$pidf"; then
    pid=$(head -n1 "$pidf")
    if ! rmqctl -q stop "$pidf" >"$RMQ_DIR/stop.log" 2>&1; then
      say "rabbitmqctl stop failed ($(tail -n1 "$RMQ_DIR/stop.log")); sending SIGTERM"
      kill -TERM "$pid" 2>/dev/null || true
    fi
    if ! wait_gone "$pid" 30; then
      kill -KILL "$pid" 2>/dev/null || true
      say "RabbitMQ did not stop in 30 s: killed"
    fi
    stopped=1
  fi
  # The launcher (rabbitmq-server's shell script) exits when the broker does. If the broker is
  # still booting (no pid file yet), SIGTERM to the launcher makes it stop the broker.
  if pid_alive "$launcher"; then
    pid=$(head -n1 "$launcher")
    if ! wait_gone "$pid" 5; then
      kill -TERM "$pid" 2>/dev/null || true
      wait_gone "$pid" 30 || say "RabbitMQ launcher $pid did not exit"
    fi
    stopped=1
  fi
  rm -f "$pidf" "$launcher"
  # Our private epmd (on $EPMD_PORT, not the system's 4369); it refuses while a node is alive.
  if port_open "$EPMD_PORT"; then
    ERL_EPMD_PORT=$EPMD_PORT epmd -kill >/dev/null 2>&1 || true
  fi
  if ((stopped)); then say "RabbitMQ stopped"; fi
}

# ---------------------------------------------------------------- commands

write_env() {
  cat >"$DIR/env.tmp" <<EOF
# written by scripts/services.sh start; source it before running tests
export MINGCHU_SVC_DIR='$DIR'
export MINGCHU_TEST_PG='postgresql://mingchu:mingchu@127.0.0.1:$PG_PORT/mingchu_test'
export MINGCHU_TEST_MQTT='mqtt://127.0.0.1:$MQTT_PORT'
export MINGCHU_TEST_AMQP='amqp://guest:guest@127.0.0.1:$AMQP_PORT/'
EOF
  mv "$DIR/env.tmp" "$DIR/env"
}

cmd_start() {
  local t0
  t0=$(now)
  if [[ ${1:-} == --fresh ]]; then
    cmd_stop
    rm -rf "$DIR"
  fi
  mkdir -p "$DIR"
  chmod 755 "$DIR"
  rm -f "$DIR/env"
  # All or nothing: a start that fails stops what it had started.
  trap 'say "start failed: stopping the services again"; cmd_stop' EXIT
  # RabbitMQ takes the longest to boot: launch it first and wait for it last.
  rabbit_launch
  start_pg
  start_mosquitto
  rabbit_wait
  write_env
  trap - EXIT
  say "all services up in $(elapsed "$t0") s; env file: $DIR/env"
}

cmd_stop() {
  [[ -d $DIR ]] || return 0
  stop_rabbit
  stop_mosquitto
  stop_pg
  rm -f "$DIR/env"
}

cmd_status() {
  local rc=0
  if pg_running; then say "PostgreSQL: running on 127.0.0.1:$PG_PORT"; else say "PostgreSQL: stopped"; rc=3; fi
  if pid_alive "$MQ_DIR/mosquitto.pid"; then say "mosquitto: running on 127.0.0.1:$MQTT_PORT"; else say "mosquitto: stopped"; rc=3; fi
  if pid_alive "$RMQ_DIR/rabbitmq.pid"; then say "RabbitMQ: running on 127.0.0.1:$AMQP_PORT"; else say "RabbitMQ: stopped"; rc=3; fi
  return $rc
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  env)
    [[ -f $DIR/env ]] || { echo "[services] no env file: run 'scripts/services.sh start' first" >&2; exit 1; }
    cat "$DIR/env"
    ;;
  *)
    echo "usage: $0 start [--fresh] | stop | restart | status | env" >&2
    exit 2
    ;;
esac

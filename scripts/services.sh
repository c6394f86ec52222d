#!/usr/bin/env bash
# Bring the four backing services the integration tests need up on
# loopback, without Docker: the Debian-installed MariaDB, Redis and RabbitMQ,
# and Elasticsearch from Maven Central, run from a git-ignored cache folder.
#
#   scripts/services.sh up           start whatever is not answering, wait until all answer
#   scripts/services.sh down         stop the Elasticsearch this script started
#   scripts/services.sh down --all   ... and the Debian services too
#   scripts/services.sh status       one line per service; exit 1 if any is down
#   scripts/services.sh cluster up|down|status
#                                    a local Redis Cluster: 3 primaries and 3 replicas
#                                    on 127.0.0.1:7000-7005, state under .cache/redis-cluster
#
# Idempotent: `up` only pings services that already answer, so a second `up`
# returns in well under a second; so does a second `cluster up`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# One pinned version; keep in step with docker-compose.yml and the
# @elastic/elasticsearch client major in package.json.
ES_VERSION=${ES_VERSION:-8.19.7}
ES_HOST=127.0.0.1
ES_PORT=9200
ES_USER=${ES_USER:-chat-es}   # ES refuses to run as root
ES_CACHE=${ES_CACHE:-$ROOT/.cache/elasticsearch}
ES_HOME=$ES_CACHE/elasticsearch-$ES_VERSION
ES_DATA=$ES_CACHE/data-$ES_VERSION   # per version: ES will not open data written by a newer one
ES_LOGS=$ES_CACHE/logs
ES_RUN=$ES_CACHE/run
ES_PID=$ES_RUN/elasticsearch.pid
ES_JAVA_OPTS=${ES_JAVA_OPTS:--Xms512m -Xmx512m}

MARIADB_BIN=/usr/sbin/mariadbd
REDIS_PORT=6379
AMQP_PORT=5672

WAIT_SECS=${WAIT_SECS:-120}   # upper bound for any one service to answer
POLL=0.25

# mvn and Elasticsearch both need a JDK; default to the system's Java 17.
if [[ -z ${JAVA_HOME:-} ]]; then
  for d in /usr/lib/jvm/java-17-openjdk-*; do
    [[ -x $d/bin/java ]] && JAVA_HOME=$d && break
  done
  if [[ -z ${JAVA_HOME:-} ]] && command -v java >/dev/null; then
    JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
  fi
fi
export JAVA_HOME=${JAVA_HOME:-}

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

tcp_open() { timeout 1 bash -c ">/dev/tcp/$1/$2" 2>/dev/null; }

# wait_for NAME CMD...: poll CMD until it succeeds, at most WAIT_SECS.
wait_for() {
  local name=$1; shift
  local deadline=$((SECONDS + WAIT_SECS))
  until "$@"; do
    ((SECONDS < deadline)) || die "$name did not answer within ${WAIT_SECS}s"
    sleep "$POLL"
  done
}

# wait_gone NAME CMD...: poll until CMD (an "is it up" check) fails.
wait_gone() {
  local name=$1; shift
  local deadline=$((SECONDS + WAIT_SECS))
  while "$@"; do
    ((SECONDS < deadline)) || die "$name still answers after ${WAIT_SECS}s"
    sleep "$POLL"
  done
}

# --- health checks (cheap: they run on every `up`) -------------------------

# mariadb-admin ping exits 0 even on "access denied": that still proves the server is up.
mariadb_ok() { mariadb-admin --connect-timeout=2 --silent ping >/dev/null 2>&1; }
redis_ok() { [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }
# RabbitMQ opens the AMQP listener only once the broker has booted, and a TCP
# probe avoids starting an Erlang VM (rabbitmq-diagnostics) on every call.
rabbitmq_ok() { tcp_open 127.0.0.1 "$AMQP_PORT"; }
# Not `GET /`: that handler lives in the rest-root module, which the
# integ-test-zip lacks (it answers 405), and so do HEAD / (client.ping()).
es_ok() { curl -fsS -m 2 -o /dev/null "http://$ES_HOST:$ES_PORT/_cluster/health" 2>/dev/null; }
es_yellow() {
  curl -fsS -m 5 -o /dev/null \
    "http://$ES_HOST:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=2s" 2>/dev/null
}

# --- Debian services ---------------------------------------------------------

mariadb_start() {
  # /run is a tmpfs: recreate the socket dir the Debian init script would make.
  install -d -o mysql -g mysql -m 0755 /run/mysqld
  start-stop-daemon --start --oknodo --background --exec "$MARIADB_BIN"
}
redis_start() {
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
}
rabbitmq_start() { rabbitmq-server -detached; }

mariadb_stop() { start-stop-daemon --stop --oknodo --retry 60 --exec "$MARIADB_BIN" >/dev/null; }
redis_stop() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; }
rabbitmq_stop() { rabbitmqctl -q shutdown >/dev/null; }

# --- Redis Cluster -------------------------------------------------------------
# Debian's redis-server in cluster mode, one folder per node (nodes.conf, log,
# pid). No persistence: a node restarted after a crash comes back empty and
# rejoins as a replica of whoever took over its slots, which is the failure
# the failover test wants. Timeouts are short so a failover takes seconds;
# full coverage is not required, so one failed shard leaves the others serving.

CLUSTER_PORTS=(7000 7001 7002 7003 7004 7005)
CLUSTER_DIR=${CLUSTER_DIR:-$ROOT/.cache/redis-cluster}
CLUSTER_NODE_TIMEOUT_MS=${CLUSTER_NODE_TIMEOUT_MS:-2000}

cluster_cli() { local port=$1; shift; redis-cli -h 127.0.0.1 -p "$port" "$@"; }
cluster_node_ok() { [[ $(cluster_cli "$1" ping 2>/dev/null) == PONG ]]; }
cluster_info() { cluster_cli "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
# Every node answers, sees all six, and calls the cluster ok.
cluster_ok() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    cluster_node_ok "$port" || return 1
    [[ $(cluster_info "$port" cluster_state) == ok ]] || return 1
    [[ $(cluster_info "$port" cluster_known_nodes) == "${#CLUSTER_PORTS[@]}" ]] || return 1
  done
}

cluster_node_start() {
  local port=$1 dir=$CLUSTER_DIR/$1
  mkdir -p "$dir"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$dir" \
    --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" \
    --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout "$CLUSTER_NODE_TIMEOUT_MS" \
    --cluster-replica-validity-factor 0 --cluster-require-full-coverage no \
    --save "" --appendonly no --maxmemory-policy noeviction
}

# The folder of the cluster that is running, whichever checkout started it: a
# node restarted into another folder would come up without its nodes.conf,
# knowing no peer, and the cluster would never be whole again.
cluster_dir_in_use() {
  local port dir
  for port in "${CLUSTER_PORTS[@]}"; do
    # A node that knows only itself says nothing about where the cluster lives.
    [[ $(cluster_info "$port" cluster_known_nodes) -gt 1 ]] 2>/dev/null || continue
    dir=$(cluster_cli "$port" config get dir 2>/dev/null | tr -d '\r' | sed -n 2p)
    if [[ -n $dir ]]; then dirname "$dir"; return 0; fi
  done
  return 1
}

cluster_up() {
  local t0 port hosts=() running
  t0=$(now)
  if cluster_ok; then
    log "redis cluster: already running (127.0.0.1:${CLUSTER_PORTS[0]}-${CLUSTER_PORTS[-1]})"
    return 0
  fi
  if running=$(cluster_dir_in_use) && [[ $running != "$CLUSTER_DIR" ]]; then
    log "redis cluster: its running nodes keep their state in $running; restarting any missing node there"
    CLUSTER_DIR=$running
  fi
  for port in "${CLUSTER_PORTS[@]}"; do
    if ! cluster_node_ok "$port"; then
      log "redis cluster: starting node $port"
      cluster_node_start "$port"
    fi
    hosts+=("127.0.0.1:$port")
  done
  for port in "${CLUSTER_PORTS[@]}"; do wait_for "redis cluster node $port" cluster_node_ok "$port"; done
  # A node that knows only itself and owns no slot was never joined: create the cluster.
  if [[ $(cluster_info "${CLUSTER_PORTS[0]}" cluster_known_nodes) == 1 &&
        $(cluster_info "${CLUSTER_PORTS[0]}" cluster_slots_assigned) == 0 ]]; then
    log "redis cluster: creating (3 primaries, 3 replicas)"
    redis-cli --cluster create "${hosts[@]}" --cluster-replicas 1 --cluster-yes >"$CLUSTER_DIR/create.log" 2>&1 ||
      { cat "$CLUSTER_DIR/create.log" >&2; die "redis-cli --cluster create failed"; }
  fi
  wait_for "redis cluster state ok" cluster_ok
  log "redis cluster: up ($(since "$t0"))"
}

# Stops every node and forgets the cluster, so the next `cluster up` creates it afresh.
cluster_down() {
  local port running
  if running=$(cluster_dir_in_use); then CLUSTER_DIR=$running; fi
  for port in "${CLUSTER_PORTS[@]}"; do
    if cluster_node_ok "$port"; then
      cluster_cli "$port" shutdown nosave >/dev/null 2>&1 || true
      wait_gone "redis cluster node $port" cluster_node_ok "$port"
    fi
  done
  rm -rf "$CLUSTER_DIR"
  log "redis cluster: down"
}

cluster_status() {
  local down=0 port role
  for port in "${CLUSTER_PORTS[@]}"; do
    if cluster_node_ok "$port"; then
      role=$(cluster_cli "$port" role 2>/dev/null | head -n 1)
      row "redis-cluster" "$role" "127.0.0.1:$port" "$(cluster_info "$port" cluster_state)"
    else
      row "redis-cluster" - "127.0.0.1:$port" down; down=1
    fi
  done
  return "$down"
}

# --- Elasticsearch -----------------------------------------------------------

es_fetch() {
  [[ -x $ES_HOME/bin/elasticsearch ]] && return 0
  command -v unzip >/dev/null || {
    ((EUID == 0)) || die "unzip is missing (apt-get install unzip)"
    log "installing unzip"
    apt-get install -y -qq unzip >/dev/null
  }
  mkdir -p "$ES_CACHE"
  local tmp t0
  tmp=$(mktemp -d "$ES_CACHE/.fetch.XXXXXX")
  log "elasticsearch: fetching $ES_VERSION from Maven Central"
  t0=$(now)
  # mvn -q still prints colour codes on stdout; keep its output for failures only.
  if ! mvn -B -q dependency:copy \
      -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
      -DoutputDirectory="$tmp" >"$tmp/mvn.log" 2>&1; then
    cat "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "mvn dependency:copy failed"
  fi
  log "elasticsearch: fetched in $(since "$t0")"
  t0=$(now)
  unzip -q "$tmp/elasticsearch-$ES_VERSION.zip" -d "$tmp"
  # Move into place only when complete, so a killed run never leaves a half tree behind.
  mv "$tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
  rm -rf "$tmp"   # the zip stays in ~/.m2 anyway
  log "elasticsearch: unpacked in $(since "$t0")"
}

# The pid in the pid file, if that process is alive and is an Elasticsearch.
es_pid() {
  local pid
  [[ -f $ES_PID ]] || return 1
  pid=$(<"$ES_PID")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  grep -qa org.elasticsearch "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

es_start() {
  es_fetch
  local user as_user=()
  if ((EUID == 0)); then
    user=$ES_USER
    id -u "$user" >/dev/null 2>&1 ||
      useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$user"
    as_user=(runuser -u "$user" --)
  fi
  mkdir -p "$ES_DATA" "$ES_LOGS" "$ES_RUN"
  rm -f "$ES_PID"
  # ES writes its keystore into config/, plus data, logs and the pid file.
  ((EUID == 0)) && chown -R "$user:" "$ES_HOME" "$ES_DATA" "$ES_LOGS" "$ES_RUN"
  [[ ${#as_user[@]} -eq 0 ]] || "${as_user[@]}" test -x "$ES_HOME/bin/elasticsearch" ||
    die "user $user cannot reach $ES_HOME; set ES_CACHE to a world-traversable folder"

  local settings=(
    -Ecluster.name=chat-ci
    -Enode.name=chat-ci-1
    -Ediscovery.type=single-node
    -Enetwork.host="$ES_HOST"
    -Ehttp.port="$ES_PORT"
    -Epath.data="$ES_DATA"
    -Epath.logs="$ES_LOGS"
    # Accepted: the integ-test-zip does ship the x-pack-core and x-pack-security
    # modules (core alone would reject it as an unknown setting), and ES 8
    # turns security on by default, which would demand credentials.
    -Expack.security.enabled=false
    # Never flip indices read-only because the CI disk is nearly full.
    -Ecluster.routing.allocation.disk.threshold_enabled=false
    # Let tests delete their own indices by wildcard prefix.
    -Eaction.destructive_requires_name=false
  )
  log "elasticsearch: starting $ES_VERSION on $ES_HOST:$ES_PORT (data in ${ES_DATA#"$ROOT"/})"
  # jvm.options writes gc.log and hs_err files relative to the working
  # directory, so start from the logs folder. ES reads ES_JAVA_HOME and only
  # warns about JAVA_HOME. -d daemonizes once the node has started (or failed);
  # until then it echoes its log to the console, which goes to console.log.
  # setsid: its own session, so the node outlives the caller's process group.
  local t0 console=$ES_LOGS/console.log
  t0=$(now)
  if ! (cd "$ES_LOGS" && setsid -w "${as_user[@]}" env -u JAVA_HOME \
      ES_JAVA_HOME="${ES_JAVA_HOME:-$JAVA_HOME}" ES_JAVA_OPTS="$ES_JAVA_OPTS" \
      "$ES_HOME/bin/elasticsearch" -d -p "$ES_PID" "${settings[@]}" >"$console" 2>&1); then
    tail -n 40 "$console" >&2
    die "elasticsearch failed to start (logs in $ES_LOGS)"
  fi
  log "elasticsearch: started in $(since "$t0")"
}

es_stop() {
  local pid
  if ! pid=$(es_pid); then
    rm -f "$ES_PID"
    log "elasticsearch: not running (from $ES_RUN)"
    return 0
  fi
  log "elasticsearch: stopping pid $pid"
  kill -TERM "$pid"
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "elasticsearch: still alive after 60s, killing"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep "$POLL"
  done
  rm -f "$ES_PID"
}

# --- commands ----------------------------------------------------------------

# ensure NAME: start NAME if its check fails, then wait until it answers.
ensure() {
  local name=$1
  if "${name}_ok"; then
    log "$name: already running"
    return 0
  fi
  log "$name: starting"
  "${name}_start"
  wait_for "$name" "${name}_ok"
  log "$name: up"
}

cmd_up() {
  local t0
  t0=$(now)
  ensure mariadb
  ensure redis
  ensure rabbitmq
  if es_ok; then
    log "elasticsearch: already running"
  elif es_pid >/dev/null; then
    log "elasticsearch: our node is still starting, waiting"   # e.g. a parallel `up`
  else
    es_start
  fi
  wait_for "elasticsearch health yellow" es_yellow
  log "elasticsearch: up"
  log "all services up ($(since "$t0"))"
}

cmd_down() {
  es_stop
  [[ ${1:-} == --all ]] || return 0
  local name
  for name in rabbitmq redis mariadb; do
    if "${name}_ok"; then
      log "$name: stopping"
      "${name}_stop"
      wait_gone "$name" "${name}_ok"
    fi
    log "$name: down"
  done
}

row() { printf '%-14s %-10s %-16s %s\n' "$@"; }

cmd_status() {
  local down=0 v a
  if mariadb_ok; then
    # Needs a login (root's unix socket on Debian); a ping alone proves it is up.
    read -r v a < <(mariadb -N -B -e \
      "SELECT SUBSTRING_INDEX(VERSION(), '-', 1), CONCAT(@@bind_address, ':', @@port)" \
      2>/dev/null || true)
    row mariadb "${v:-?}" "${a:-?}" up
  else
    row mariadb - 127.0.0.1:3306 down; down=1
  fi

  if redis_ok; then
    v=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" INFO server | tr -d '\r' |
      sed -n 's/^redis_version://p')
    row redis "${v:-?}" "127.0.0.1:$REDIS_PORT" up
  else
    row redis - "127.0.0.1:$REDIS_PORT" down; down=1
  fi

  if rabbitmq_ok; then
    v=$(rabbitmq-diagnostics -q server_version 2>/dev/null || true)
    a=$(rabbitmq-diagnostics -q listeners 2>/dev/null |
      sed -n 's/^Interface: \([^,]*\), port: \([0-9]*\), protocol: amqp,.*/\1:\2/p' | head -n 1)
    row rabbitmq "${v:-?}" "${a:-127.0.0.1:$AMQP_PORT}" up
  else
    row rabbitmq - "127.0.0.1:$AMQP_PORT" down; down=1
  fi

  if es_ok; then
    v=$(curl -fsS -m 2 "http://$ES_HOST:$ES_PORT/_nodes/_local?filter_path=nodes.*.version" |
      sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p' | head -n 1)
    row elasticsearch "${v:-?}" "$ES_HOST:$ES_PORT" up
  else
    row elasticsearch - "$ES_HOST:$ES_PORT" down; down=1
  fi
  return "$down"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down "${2:-}" ;;
  status) cmd_status ;;
  cluster)
    case ${2:-} in
      up) cluster_up ;;
      down) cluster_down ;;
      status) cluster_status ;;
      *) echo "usage: $0 cluster up | down | status" >&2; exit 2 ;;
    esac
    ;;
  *) echo "usage: $0 up | down [--all] | status | cluster up|down|status" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A local single-node Elasticsearch for Canh's tests and benches: start | stop | status.
#
# Fetches Elastic's minimal integration-test distribution from Maven Central (core server only, no
# bundled JDK: it runs on the machine's Java 17, hence 8.x), unpacks it into a cache outside the repo
# and runs it as an unprivileged system user (Elasticsearch refuses to run as root). Idempotent: a
# running healthy node is reported at once. Override with env vars:
#   CANH_ES_PORT (9200)  CANH_ES_HEAP (512m)  CANH_ES_CACHE (/var/cache/canh-es)
#   CANH_ES_RUN (/var/lib/canh-es/node-$PORT: config, data, logs)  CANH_ES_USER (canh-es)
# A secured node (the security test starts one on another port):
#   CANH_ES_SCHEME=https  CANH_ES_SECURITY_YML (replaces "xpack.security.enabled: false")
#   CANH_ES_CERTS (a folder copied to <config>/certs)  CANH_ES_USERS ("name:password:role ..." file realm)
set -euo pipefail

ES_VERSION="8.19.21"   # the one pin: latest 8.x on Maven Central (9.x needs Java 21)
PORT="${CANH_ES_PORT:-9200}"
TPORT=$((PORT + 100))
HEAP="${CANH_ES_HEAP:-512m}"
CACHE="${CANH_ES_CACHE:-/var/cache/canh-es}"
RUN="${CANH_ES_RUN:-/var/lib/canh-es/node-$PORT}"
ES_USER="${CANH_ES_USER:-canh-es}"
SCHEME="${CANH_ES_SCHEME:-http}"
URL="$SCHEME://127.0.0.1:$PORT"
DIST="$CACHE/elasticsearch-$ES_VERSION"
ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip"

say() { echo "elasticsearch.sh: $*" >&2; }

healthy() {
  # The secured node answers 401 without credentials: that still means "up".
  if [ "$SCHEME" = https ]; then
    local code; code="$(curl -ks -o /dev/null -w '%{http_code}' --max-time 2 "$URL/" 2>/dev/null || true)"
    [ "$code" = 401 ] || [ "$code" = 200 ]; return
  fi
  curl -fsS --max-time 2 "$URL/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null | grep -q '"status":"\(green\|yellow\)"'
}

pid_alive() { [ -f "$RUN/es.pid" ] && kill -0 "$(cat "$RUN/es.pid")" 2>/dev/null; }

fetch() {
  [ -x "$DIST/bin/elasticsearch" ] && return 0
  command -v mvn >/dev/null || { say "Maven (mvn) is needed to fetch $ARTIFACT"; exit 1; }
  mkdir -p "$CACHE"
  local zip="$CACHE/elasticsearch-$ES_VERSION.zip"
  if [ ! -s "$zip" ]; then
    say "fetching $ARTIFACT from Maven Central"
    mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
      -Dartifact="$ARTIFACT" -DoutputDirectory="$CACHE" -Dmdep.stripVersion=false >&2
  fi
  local tmp
  tmp="$(mktemp -d "$CACHE/unpack.XXXXXX")"
  (cd "$tmp" && python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(".")' "$zip")
  chmod -R a+rX "$tmp"
  chmod a+x "$tmp"/elasticsearch-*/bin/* 2>/dev/null || true
  mv "$tmp"/elasticsearch-* "$DIST" 2>/dev/null || true   # a concurrent start may have won the race
  rm -rf "$tmp"
}

ensure_user() {
  id -u "$ES_USER" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ]; then ES_USER="$(id -un)"; return 0; fi
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ES_USER"
}

configure() {
  # The config is rewritten on every start, so a node never keeps settings from an older run.
  rm -rf "$RUN/config"
  mkdir -p "$RUN/config" "$RUN/data" "$RUN/logs"
  cp -r "$DIST/config/." "$RUN/config/"
  cat > "$RUN/config/elasticsearch.yml" <<YML
cluster.name: canh-test-$PORT
node.name: canh-$PORT
network.host: 127.0.0.1
http.port: $PORT
transport.port: $TPORT
discovery.type: single-node
path.data: $RUN/data
path.logs: $RUN/logs
action.destructive_requires_name: false
# a shared development box: never stop writes because the disk is "nearly" full
cluster.routing.allocation.disk.threshold_enabled: false
YML
  # The integ-test zip carries x-pack security and would auto-enable it with generated TLS on first
  # start; the default test node is plain HTTP on loopback. CANH_ES_SECURITY_YML replaces this line
  # (the secured node of the security test passes its own TLS and realm settings).
  printf '%s\n' "${CANH_ES_SECURITY_YML:-xpack.security.enabled: false}" >> "$RUN/config/elasticsearch.yml"
  if [ -n "${CANH_ES_EXTRA_YML:-}" ]; then printf '%s\n' "$CANH_ES_EXTRA_YML" >> "$RUN/config/elasticsearch.yml"; fi
  # TLS files must live under the config folder (the node may read nothing else).
  if [ -n "${CANH_ES_CERTS:-}" ]; then mkdir -p "$RUN/config/certs" && cp -r "$CANH_ES_CERTS/." "$RUN/config/certs/"; fi
  chown -R "$ES_USER" "$RUN"
  local entry name pass role
  for entry in ${CANH_ES_USERS:-}; do
    IFS=: read -r name pass role <<<"$entry"
    as_es env ES_JAVA_HOME="$(java_home)" ES_PATH_CONF="$RUN/config" \
      "$DIST/bin/elasticsearch-users" useradd "$name" -p "$pass" -r "$role" >/dev/null
  done
}

java_home() {
  local h="${ES_JAVA_HOME:-${JAVA_HOME:-}}"
  [ -n "$h" ] || h="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
  echo "$h"
}

as_es() { if [ "$(id -un)" = "$ES_USER" ]; then "$@"; else runuser -u "$ES_USER" -- "$@"; fi; }

start() {
  if healthy; then echo "$URL"; return 0; fi
  fetch
  ensure_user
  if ! pid_alive; then
    configure
    local java_home; java_home="$(java_home)"
    say "starting $ES_VERSION on $URL as $ES_USER (heap $HEAP, logs in $RUN/logs)"
    local run=(env ES_JAVA_HOME="$java_home" ES_PATH_CONF="$RUN/config" ES_TMPDIR="$RUN/tmp"
      ES_JAVA_OPTS="-Xms$HEAP -Xmx$HEAP -XX:ActiveProcessorCount=1" "$DIST/bin/elasticsearch" -d -p "$RUN/es.pid")
    mkdir -p "$RUN/tmp" && chown "$ES_USER" "$RUN/tmp"
    as_es "${run[@]}" >"$RUN/logs/console.log" 2>&1
  fi
  for _ in $(seq 1 180); do
    if healthy; then echo "$URL"; return 0; fi
    pid_alive || { sleep 1; pid_alive || break; }
    sleep 1
  done
  say "node did not become healthy; last log lines:"
  tail -n 30 "$RUN/logs/console.log" "$RUN/logs/canh-test-$PORT.log" >&2 2>/dev/null || true
  exit 1
}

stop() {
  if pid_alive; then
    local pid; pid="$(cat "$RUN/es.pid")"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    say "stopped node on $URL"
  else
    say "no node of ours on $URL"
  fi
  rm -f "$RUN/es.pid"
}

status() {
  if healthy; then
    curl -fsS --max-time 5 "$URL/_cluster/health?pretty" ; echo "$URL"
  else
    say "not running on $URL"; exit 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  fetch) fetch; echo "$DIST" ;;
  *) echo "usage: $0 start|stop|status|fetch" >&2; exit 2 ;;
esac

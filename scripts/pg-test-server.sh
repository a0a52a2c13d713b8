#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for tests and benchmarks (see /work/shared/TOOLCHAIN.md).
#
#   eval "$(scripts/pg-test-server.sh start)"   # exports STEPQ_TEST_PG_URL
#   npx vitest run                               # the PostgreSQL suites run too
#   scripts/pg-test-server.sh stop
#
# PostgreSQL refuses to run as root, so when we are root the server runs as the `postgres` user
# (runuser); its data folder lives in a fresh mktemp folder owned by that user, and the log inside it.
# State (data folder, port) is kept in $STEPQ_PG_STATE (default /tmp/stepq-pg-test.env), so `stop`
# finds the server `start` made. `start` prints `export STEPQ_TEST_PG_URL=...` on stdout (and writes
# the same line to $STEPQ_PG_STATE.url); everything else goes to stderr.
set -euo pipefail

STATE="${STEPQ_PG_STATE:-/tmp/stepq-pg-test.env}"

find_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then echo "$PG_BIN"; return; fi
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [[ -x "$d/initdb" ]]; then echo "$d"; return; fi
  done
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  echo "pg-test-server: initdb not found; install PostgreSQL (apt-get install -y postgresql)" >&2
  exit 1
}

as_pg() {
  if [[ "$(id -u)" == "0" ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  if [[ -f "$STATE" ]]; then
    # shellcheck disable=SC1090
    source "$STATE"
    if as_pg "$(find_bin)/pg_ctl" -D "$PGD" status >/dev/null 2>&1; then
      echo "pg-test-server: already running on port $PORT" >&2
      echo "export STEPQ_TEST_PG_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
      return
    fi
  fi
  local bin root pgd port
  bin="$(find_bin)"
  root="$(mktemp -d /tmp/stepq-pg.XXXXXX)"
  chmod 755 "$root"
  pgd="$root/pgdata"
  if [[ "$(id -u)" == "0" ]]; then
    install -d -o postgres -g postgres -m 700 "$pgd"
  else
    install -d -m 700 "$pgd"
  fi
  as_pg "$bin/initdb" -D "$pgd" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >&2
  port="${PORT:-$(free_port)}"
  # Tests open many connections at once (parallel test files, three worker processes, pools).
  as_pg "$bin/pg_ctl" -D "$pgd" -l "$pgd/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $pgd -c max_connections=300" start >&2
  printf 'PGD=%q\nPORT=%q\nROOT=%q\n' "$pgd" "$port" "$root" > "$STATE"
  local url="postgres://postgres@127.0.0.1:$port/postgres"
  echo "export STEPQ_TEST_PG_URL=$url" > "$STATE.url"
  echo "pg-test-server: PostgreSQL on $url (data in $pgd)" >&2
  echo "export STEPQ_TEST_PG_URL=$url"
}

stop() {
  if [[ ! -f "$STATE" ]]; then
    echo "pg-test-server: nothing to stop ($STATE missing)" >&2
    return
  fi
  # shellcheck disable=SC1090
  source "$STATE"
  as_pg "$(find_bin)/pg_ctl" -D "$PGD" -m fast -w stop >&2 || true
  rm -rf "$ROOT"
  rm -f "$STATE" "$STATE.url"
  echo "pg-test-server: stopped" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

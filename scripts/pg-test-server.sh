#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for tests and benchmarks (see /work/shared/TOOLCHAIN.md).
#
#   eval "$(scripts/pg-test-server.sh start)"   # exports STEPQ_TEST_PG_URL and STEPQ_PG_STATE
#   npx vitest run                               # the PostgreSQL suites run too
#   scripts/pg-test-server.sh stop               # stops the server named by $STEPQ_PG_STATE
#
# Every `start` makes a new server in a fresh mktemp folder on a free port, so several checkouts (or
# CI jobs) on one machine never share or stop each other's server. `stop` stops only the server of
# the state file it is given ($STEPQ_PG_STATE, or its second argument) and removes its folder.
#
# PostgreSQL refuses to run as root, so when we are root the server runs as the `postgres` user
# (runuser); its data folder is owned by that user, and its log lives inside it. `start` prints
# shell `export` lines on stdout (also written to $STEPQ_PG_STATE.url); everything else goes to stderr.
set -euo pipefail

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
  local bin root pgd port state
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
  state="$root/state.env"
  printf 'PGD=%q\nPORT=%q\nROOT=%q\n' "$pgd" "$port" "$root" > "$state"
  local url="postgres://postgres@127.0.0.1:$port/postgres"
  printf 'export STEPQ_TEST_PG_URL=%s\nexport STEPQ_PG_STATE=%s\n' "$url" "$state" | tee "$state.url"
  echo "pg-test-server: PostgreSQL on $url (data in $pgd; stop with STEPQ_PG_STATE=$state $0 stop)" >&2
}

stop() {
  local state="${1:-${STEPQ_PG_STATE:-}}"
  if [[ -z "$state" || ! -f "$state" ]]; then
    echo "pg-test-server: nothing to stop (set STEPQ_PG_STATE to the state file start printed)" >&2
    return
  fi
  # shellcheck disable=SC1090
  source "$state"
  as_pg "$(find_bin)/pg_ctl" -D "$PGD" -m fast -w stop >&2 || true
  rm -rf "$ROOT"
  echo "pg-test-server: stopped (port $PORT)" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | $0 stop [state-file]" >&2; exit 2 ;;
esac

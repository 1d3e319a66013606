#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server on loopback, exported to it as
# TSUNAGU_TEST_DATABASE_URL. The server and its data are removed afterwards.
# Usage: scripts/with-postgres.sh COMMAND [ARGS...]
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ]; then
    echo "PostgreSQL server binaries not found: apt-get install -y postgresql" >&2
    exit 1
fi
port=${TSUNAGU_PG_PORT:-55432}
dir=$(mktemp -d /tmp/tsunagu-pg.XXXXXX)
chmod 755 "$dir"
# initdb and postgres refuse to run as root.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
cleanup() {
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

as_pg "$bindir/initdb" -D "$dir/data" -U tsunagu --auth=trust -E UTF8 >/dev/null
as_pg "$bindir/pg_ctl" -D "$dir/data" -w -l "$dir/log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null
as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U tsunagu tsunagu_test

export TSUNAGU_TEST_DATABASE_URL="postgres://tsunagu@127.0.0.1:$port/tsunagu_test"
"$@"

#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests on SQLite, the store tests again on a
# throwaway PostgreSQL, the browser tests (Playwright + Debian's Chromium) against a running
# `tsunagu serve --demo`, and schemathesis over the whole API on a server of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# What git sees before the tests, to check that they leave the work tree as they found it.
tree_before=$(git status --porcelain --untracked-files=all 2>/dev/null || true)

echo "== cargo fmt --check, clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== cargo test (SQLite)"
cargo test --workspace --quiet

echo "== store tests on PostgreSQL"
scripts/with-postgres.sh cargo test --quiet --workspace --test store

echo "== web: type check, build"
npm --prefix web run build --silent

echo "== browser tests against a running server"
# --workspace, like the tests: the same features, so nothing is rebuilt.
cargo build --quiet --workspace --bins
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# SIP on UDP and TCP of one free port, for the browser tests that place calls with SIPp.
sip_port=$(python3 -c '
import socket
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); p = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
')
data=$(mktemp -d /tmp/tsunagu-e2e.XXXXXX)
log="$data/server.log"
# Without the demo's greeting: the specs count calls that wait unanswered in the queue. With
# three recordings of yesterday, so that the archive and playback specs find something.
TSUNAGU_DEMO_AUDIO=0 TSUNAGU_DEMO_RECORDINGS=1 target/debug/tsunagu serve --demo --data-dir "$data" --http-addr "127.0.0.1:$port" \
    --sip-addr "127.0.0.1:$sip_port" --rtp-ports 21000-21999 --web-dir web/dist >"$log" 2>&1 &
server=$!
cleanup() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    if ! kill -0 "$server" 2>/dev/null; then
        cat "$log" >&2
        exit 1
    fi
    sleep 0.2
done
if ! TSUNAGU_URL="http://127.0.0.1:$port" TSUNAGU_SIP="127.0.0.1:$sip_port" npm --prefix web run test:e2e --silent; then
    echo "--- server log ---" >&2
    tail -n 50 "$log" >&2
    exit 1
fi
cleanup
trap - EXIT

echo "== the README's first call: scripts/demo.sh and scripts/demo-call.sh, as a newcomer runs them"
# --workspace, like the cargo test above: the same features, so nothing is rebuilt.
cargo test --quiet --workspace --test demo -- --ignored

echo "== schemathesis: the API against its OpenAPI document"
scripts/schemathesis.sh 20

tree_after=$(git status --porcelain --untracked-files=all 2>/dev/null || true)
if [ "$tree_before" != "$tree_after" ]; then
    echo "The tests changed the work tree (git status before and after differ):" >&2
    diff <(echo "$tree_before") <(echo "$tree_after") >&2 || true
    exit 1
fi
echo "All test suites passed."

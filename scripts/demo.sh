#!/usr/bin/env bash
# Builds everything and starts Tsunagu with the demo call center on http://127.0.0.1:8080
# (log in as admin / Admin1234). Data lives in ./data-demo; delete it to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo "== building the web app"
npm --prefix web run build --silent
echo "== building and starting tsunagu"
exec cargo run -p tsunagu -- serve --demo --data-dir "${TSUNAGU_DATA_DIR:-data-demo}" "$@"

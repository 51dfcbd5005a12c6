#!/usr/bin/env bash
# Runs every Gatehouse test: formatting and lints; unit and API tests against a real
# PostgreSQL; the official OpenAI Python SDK against a running Gatehouse; a real Prometheus
# scraping it; the console in Debian Chromium with Playwright. Installs what it needs (idempotently) first.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ensure_rust_tools
ensure_console_tools
apt_install chromium curl prometheus
ensure_postgres gatehouse_test
ensure_redis
prune_stale_executables
export RUST_LOG="${RUST_LOG:-warn}"

log "formatting and lints"
cargo fmt --all --check
python3 scripts/check-layers.py
cargo clippy -p server -p app -p mock-upstream --features app/ssr --all-targets -- -D warnings
cargo clippy -p app --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings

log "unit and API tests (PostgreSQL at ${DATABASE_URL%%@*}@…)"
cargo test -p server -p app --features app/ssr

log "building the console and the mock upstream (debug)"
build_site debug
cargo build -p mock-upstream --bin mock-upstream

# A fresh database for the end-to-end run.
e2e_url="${DATABASE_URL%/*}/gatehouse_e2e"
psql "${DATABASE_URL%/*}/postgres" -qc 'DROP DATABASE IF EXISTS gatehouse_e2e WITH (FORCE)' -c 'CREATE DATABASE gatehouse_e2e' >/dev/null

mock_port="$(free_port)"
gate_port="$(free_port)"
export MOCK_ROOT="http://127.0.0.1:$mock_port"
export MOCK_API_BASE="$MOCK_ROOT/v1"
export GATEHOUSE_URL="http://127.0.0.1:$gate_port"
export GATEHOUSE_MASTER_KEY="sk-e2e-master-$(date +%s)"
export GATEHOUSE_METRICS_TOKEN="e2e-metrics-$(date +%s)"
export PROMETHEUS_BIN=/usr/bin/prometheus
export GATEHOUSE_ADMIN_EMAIL="admin@e2e.test"
export GATEHOUSE_ADMIN_PASSWORD="e2e-admin-password"
# Seals the provider credentials the console stores.
export GATEHOUSE_SECRETS_KEY="e2e-secrets-key-$(date +%s)-0123456789abcdef"
logs="$CARGO_TARGET_DIR/e2e-logs"
mkdir -p "$logs"
# The test service account, its token endpoint on the mock.
export VERTEX_CREDENTIALS_FILE="$logs/vertex-service-account.json"
python3 -c 'import json, sys; key = json.load(open(sys.argv[1])); key["token_uri"] = sys.argv[2]; json.dump(key, open(sys.argv[3], "w"))' \
  server/tests/fixtures/vertex/test-service-account.json "$MOCK_ROOT/token" "$VERTEX_CREDENTIALS_FILE"
"$CARGO_TARGET_DIR/debug/mock-upstream" --port "$mock_port" >"$logs/mock.log" 2>&1 &
mock_pid=$!
DATABASE_URL="$e2e_url" RUST_LOG=info "$CARGO_TARGET_DIR/debug/gatehouse" \
  --config end2end/gatehouse.e2e.yaml --port "$gate_port" >"$logs/gatehouse.log" 2>&1 &
gate_pid=$!
stop_servers() {
  kill "$gate_pid" "$mock_pid" 2>/dev/null || true
  wait "$gate_pid" "$mock_pid" 2>/dev/null || true
}
trap stop_servers EXIT
wait_for_http "$GATEHOUSE_URL/health/readiness" || { cat "$logs/gatehouse.log"; exit 1; }

log "official OpenAI and Anthropic Python SDKs"
venv="$HOME/.cache/gatehouse/venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r end2end/sdk/requirements.txt
"$venv/bin/python" -m pytest -q -p no:cacheprovider end2end/sdk

log "observability: a real Prometheus scraping Gatehouse, a real OTLP receiver"
"$venv/bin/pip" install -q --disable-pip-version-check -r end2end/observability/requirements.txt
GATEHOUSE_E2E_DATABASE_URL="$e2e_url" "$venv/bin/python" -m pytest -q -p no:cacheprovider end2end/observability

log "console in Chromium (Playwright)"
(cd end2end && npm install --no-audit --no-fund --silent && npx playwright test)

log "all tests passed"

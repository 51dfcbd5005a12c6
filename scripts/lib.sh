# Shared helpers for Gatehouse's scripts: tool installation (idempotent) and a local Postgres.
# Sourced, not run.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse/target}"
TOOLS_DIR="${GATEHOUSE_TOOLS_DIR:-$HOME/.cache/gatehouse/tools}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$HOME/.cargo/bin:$TOOLS_DIR/node_modules/.bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} (apt)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# What building the console's browser bundle needs: the wasm target and wasm-bindgen's CLI at
# exactly the version of the wasm-bindgen crate. (cargo-leptos is not needed: `build_site`
# does its work with plain cargo; install it only for `cargo leptos watch` while developing.)
ensure_rust_tools() {
  rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
  if ! wasm-bindgen --version 2>/dev/null | grep -q '0.2.130'; then
    log "installing wasm-bindgen-cli 0.2.130 (a few minutes, once per machine)"
    cargo install wasm-bindgen-cli --version 0.2.130
  fi
}

# Builds the gatehouse binary and the console's site (`target/site`: the browser bundle in
# pkg/, the stylesheet, the public assets) in the `release` or `debug` profile, as
# `cargo leptos build` would. Release bundles are optimised for size with wasm-opt.
build_site() {
  local profile="$1" site="$REPO_ROOT/target/site"
  local cargo_profile=() wasm_profile=(--profile dev) wasm_dir="debug"
  if [ "$profile" = release ]; then
    cargo_profile=(--release)
    wasm_profile=(--profile wasm-release)
    wasm_dir="wasm-release"
  fi
  cargo build "${wasm_profile[@]}" -p app --lib --target wasm32-unknown-unknown \
    --no-default-features --features hydrate
  cargo build "${cargo_profile[@]}" -p server --bin gatehouse
  rm -rf "$site/pkg"
  mkdir -p "$site/pkg"
  wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name gatehouse \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/$wasm_dir/app.wasm"
  if [ "$profile" = release ]; then
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-mutable-globals --enable-reference-types --enable-multivalue \
      "$site/pkg/gatehouse_bg.wasm" -o "$site/pkg/gatehouse_bg.wasm"
  fi
  cp "$REPO_ROOT/style/main.css" "$site/pkg/gatehouse.css"
  cp -R "$REPO_ROOT/public/." "$site/"
}

# What the console build needs from npm: wasm-opt from binaryen (Debian's is too old to produce
# hydratable output) and ECharts for the charming charts, copied into public/vendor/.
ensure_console_tools() {
  if [ ! -x "$TOOLS_DIR/node_modules/.bin/wasm-opt" ] || [ ! -f "$TOOLS_DIR/node_modules/echarts/dist/echarts.min.js" ]; then
    log "installing binaryen@132 and echarts@5.5.1 (npm)"
    mkdir -p "$TOOLS_DIR"
    npm install --prefix "$TOOLS_DIR" --no-audit --no-fund binaryen@132 echarts@5.5.1 >/dev/null
  fi
  mkdir -p "$REPO_ROOT/public/vendor"
  cp "$TOOLS_DIR/node_modules/echarts/dist/echarts.min.js" "$REPO_ROOT/public/vendor/echarts.min.js"
}

pg_reachable() {
  psql "$1" -Atqc 'SELECT 1' >/dev/null 2>&1
}

# Sets DATABASE_URL: the given one, else a local server (started, or installed, if needed) with
# a database named "$1".
ensure_postgres() {
  local database="$1"
  if [ -n "${DATABASE_URL:-}" ]; then
    return
  fi
  apt_install postgresql-client
  local admin_url="postgres://postgres@127.0.0.1:5432/postgres"
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      apt_install postgresql
    fi
    log "starting the local PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  if ! pg_reachable "$admin_url"; then
    # A fresh Debian server refuses passwordless TCP logins: give the postgres role a local password.
    as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
    admin_url="postgres://postgres:postgres@127.0.0.1:5432/postgres"
  fi
  local base="${admin_url%/postgres}"
  if ! psql "$admin_url" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
    psql "$admin_url" -qc "CREATE DATABASE \"$database\"" >/dev/null
  fi
  export DATABASE_URL="$base/$database"
}

# Makes sure a Redis answers (starting a local one if none does) and exports REDIS_URL, which
# the tests of cooldowns shared through Redis use.
ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then
    return
  fi
  apt_install redis-tools
  # The tests also start Redis servers of their own (to stop them mid-run).
  command -v redis-server >/dev/null || apt_install redis-server
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting a local Redis"
    redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes >/dev/null
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
  fi
  export REDIS_URL="redis://127.0.0.1:6379/"
}

# Waits until a URL answers.
wait_for_http() {
  local url="$1"
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "timed out waiting for $url" >&2
  return 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Every build of the tests links fresh test executables (hundreds of MB each) beside the old
# ones in the shared build directory, which then fills a disk within a day of CI runs. Keeps
# only the newest executable of each name; cargo relinks one it needs again.
prune_stale_executables() {
  local deps="$CARGO_TARGET_DIR/debug/deps"
  [ -d "$deps" ] || return 0
  find "$deps" -maxdepth 1 -type f -perm -u+x -regextype posix-extended -regex '.*-[0-9a-f]{16}' -printf '%T@ %p\n' |
    sort -rn |
    awk '{ name = $2; sub(/-[0-9a-f]+$/, "", name); if (seen[name]++) print $2 }' |
    xargs -r rm -f
}

#!/usr/bin/env bash
# Runs Gatehouse (console + gateway) on http://127.0.0.1:4000 with config.yaml.
# Uses DATABASE_URL when set; otherwise a local PostgreSQL (started, or installed, as needed).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ensure_rust_tools
ensure_console_tools
ensure_postgres gatehouse
export GATEHOUSE_ADMIN_EMAIL="${GATEHOUSE_ADMIN_EMAIL:-admin@localhost}"
export GATEHOUSE_ADMIN_PASSWORD="${GATEHOUSE_ADMIN_PASSWORD:-gatehouse-admin}"
# Provider credentials stored from the console are sealed with this key: made once, kept
# (owner-only) so that a restart still opens them.
if [ -z "${GATEHOUSE_SECRETS_KEY:-}" ] && [ -z "${LITELLM_SALT_KEY:-}" ]; then
  secrets_file="${XDG_CONFIG_HOME:-$HOME/.config}/gatehouse/secrets-key"
  if [ ! -s "$secrets_file" ]; then
    mkdir -p "$(dirname "$secrets_file")"
    (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' >"$secrets_file")
  fi
  GATEHOUSE_SECRETS_KEY="$(cat "$secrets_file")"
  export GATEHOUSE_SECRETS_KEY
fi

log "building Gatehouse (release)"
build_site release

cat <<TXT

  Gatehouse: http://127.0.0.1:${PORT:-4000}
  Console login: $GATEHOUSE_ADMIN_EMAIL / $GATEHOUSE_ADMIN_PASSWORD
    (created at first start; set GATEHOUSE_ADMIN_EMAIL and GATEHOUSE_ADMIN_PASSWORD to choose)
  Master key (config.yaml): sk-gatehouse-local-master
  Try it:
    curl http://127.0.0.1:${PORT:-4000}/v1/chat/completions \\
      -H 'Authorization: Bearer sk-gatehouse-local-master' -H 'Content-Type: application/json' \\
      -d '{"model": "demo", "messages": [{"role": "user", "content": "Hello"}]}'

TXT
exec "$CARGO_TARGET_DIR/release/gatehouse" --config "${CONFIG_FILE_PATH:-config.yaml}" --port "${PORT:-4000}" "$@"

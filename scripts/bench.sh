#!/usr/bin/env bash
# Benchmark: non-streaming chat completions through Gatehouse (with a virtual key, metering on)
# beside the same loopback mock called directly, in one run. Gatehouse is pinned to CPU 0; the
# mock and the load generator (wrk) share CPU 1. Writes docs/BENCHMARKS.md.
# BENCH_BASELINE=<git ref> also builds that commit's gatehouse and measures it in the same run
# (32 connections), so a change's cost is read side by side on one machine.
# BENCH_BASELINE_PATCH=<file> applies a patch to the baseline's checkout (BENCH_BASELINE defaults
# to HEAD then): e.g. scripts/routing-bypass.patch, which calls the planned deployment directly,
# so the A/B reads what routing costs. BENCH_INSTRUCTIONS=<n> also counts, under callgrind, the
# instructions each binary executes per request over n requests (deterministic, unlike req/s).
# BENCH_TELEMETRY=1 (with BENCH_INSTRUCTIONS) also counts them with metrics and traces on.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

DURATION="${BENCH_DURATION:-15s}"
ROUNDS="${BENCH_ROUNDS:-3}"
# The measured key has a budget and rate limits, so every request reserves against the budget
# and counts against the limits (set high enough never to refuse). The baseline gets what its
# version accepts (BENCH_BASELINE_KEY_FIELDS).
default_key_fields='{"key_alias": "bench", "max_budget": 1000000, "rpm_limit": 1000000000, "tpm_limit": 1000000000000, "max_parallel_requests": 100000}'
KEY_FIELDS="${BENCH_KEY_FIELDS:-$default_key_fields}"
default_baseline_fields='{"key_alias": "bench", "max_budget": 1000000}'
# A patched baseline is this code, so it takes the same key.
if [ -n "${BENCH_BASELINE_PATCH:-}" ]; then default_baseline_fields="$KEY_FIELDS"; fi
BASELINE_KEY_FIELDS="${BENCH_BASELINE_KEY_FIELDS:-$default_baseline_fields}"
apt_install wrk util-linux
ensure_rust_tools
ensure_postgres gatehouse_bench_admin
BASELINE_PATCH="${BENCH_BASELINE_PATCH:-}"
BASELINE="${BENCH_BASELINE:-${BASELINE_PATCH:+HEAD}}"
INSTRUCTIONS="${BENCH_INSTRUCTIONS:-0}"
baseline_bin=""
if [ -n "$BASELINE" ]; then
  log "building the baseline $BASELINE"
  BASELINE="$(git -C "$REPO_ROOT" rev-parse --short "$BASELINE")"
  baseline_label="\`$BASELINE\`${BASELINE_PATCH:+ with \`$BASELINE_PATCH\`}"
  # A fixed checkout, kept between runs so its build is reused.
  baseline_src="$HOME/.cache/gatehouse/bench-baseline"
  if [ "$(git -C "$baseline_src" rev-parse --short HEAD 2>/dev/null)" != "$BASELINE" ]; then
    git -C "$REPO_ROOT" worktree remove --force "$baseline_src" 2>/dev/null || rm -rf "$baseline_src"
    git -C "$REPO_ROOT" worktree prune
    git -C "$REPO_ROOT" worktree add --detach "$baseline_src" "$BASELINE" >/dev/null
  fi
  # The patch applied once (rewriting its files again would rebuild the baseline).
  if [ -z "$BASELINE_PATCH" ] || ! git -C "$baseline_src" apply --reverse --check "$REPO_ROOT/$BASELINE_PATCH" 2>/dev/null; then
    git -C "$baseline_src" checkout -q -- .
    if [ -n "$BASELINE_PATCH" ]; then
      git -C "$baseline_src" apply "$REPO_ROOT/$BASELINE_PATCH"
    fi
  fi
  # Its own build directory: cargo judges a workspace crate fresh by file times, so in the
  # shared one the baseline checkout would reuse the artifacts of the working tree.
  baseline_target="$HOME/.cache/gatehouse/bench-baseline-target"
  (cd "$baseline_src" && CARGO_TARGET_DIR="$baseline_target" cargo build --release -p server --bin gatehouse --no-default-features >/dev/null)
  baseline_bin="$(mktemp)"
  install -m 755 "$baseline_target/release/gatehouse" "$baseline_bin"
fi
# The console's assets are not needed: only the data plane is measured.
# The measured binary is built exactly as the baseline is (cargo-leptos's build of the same
# code links it differently, and that layout alone moved throughput by up to 10 % in A/B runs).
cargo build --release -p server --bin gatehouse --no-default-features >/dev/null
cargo build --release -p mock-upstream --bin mock-upstream >/dev/null
if [ -n "$baseline_bin" ] && cmp -s "$baseline_bin" "$CARGO_TARGET_DIR/release/gatehouse"; then
  echo "the baseline binary is the one being measured: nothing to compare" >&2
  exit 1
fi
psql "${DATABASE_URL%/*}/postgres" -qc 'DROP DATABASE IF EXISTS gatehouse_bench WITH (FORCE)' -c 'CREATE DATABASE gatehouse_bench' >/dev/null
bench_url="${DATABASE_URL%/*}/gatehouse_bench"

work="$(mktemp -d)"
mock_port="$(free_port)"
gate_port="$(free_port)"
cat >"$work/config.yaml" <<YAML
model_list:
  - model_name: bench
    litellm_params: { model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:$mock_port/v1", api_key: sk-mock }
general_settings:
  master_key: sk-bench-master
YAML
taskset -c 1 "$CARGO_TARGET_DIR/release/mock-upstream" --port "$mock_port" >"$work/mock.log" 2>&1 &
mock_pid=$!
# The same mock on Gatehouse's CPU: the cost of one cross-core round trip, for reading the
# 1-connection latency (the path through Gatehouse crosses cores twice).
cross_port="$(free_port)"
taskset -c 0 "$CARGO_TARGET_DIR/release/mock-upstream" --port "$cross_port" >"$work/mock-cross.log" 2>&1 &
cross_pid=$!
DATABASE_URL="$bench_url" RUST_LOG=warn taskset -c 0 "$CARGO_TARGET_DIR/release/gatehouse" \
  --config "$work/config.yaml" --port "$gate_port" >"$work/gatehouse.log" 2>&1 &
gate_pid=$!
base_pid=""
halt_poll=/sys/module/haltpoll/parameters/guest_halt_poll_ns
halt_poll_before=""
cleanup() {
  if [ -n "$halt_poll_before" ]; then echo "$halt_poll_before" >"$halt_poll"; fi
  kill "$gate_pid" "$mock_pid" "$cross_pid" $base_pid 2>/dev/null || true
  wait "$gate_pid" "$mock_pid" "$cross_pid" $base_pid 2>/dev/null || true
  rm -rf "$work" $baseline_bin
}
trap cleanup EXIT
wait_for_http "http://127.0.0.1:$gate_port/health/liveliness"

BENCH_KEY="$(curl -fsS "http://127.0.0.1:$gate_port/key/generate" -H 'Authorization: Bearer sk-bench-master' \
  -H 'Content-Type: application/json' -d "$KEY_FIELDS" | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')"
export BENCH_KEY
cat >"$work/chat.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
LUA

# run NAME URL CONNECTIONS -> prints "requests/s p50 p99 non2xx requests"
run() {
  local out
  out="$(taskset -c 1 wrk -t1 -c"$3" -d"$DURATION" --latency -s "$work/chat.lua" "$2/v1/chat/completions")"
  echo "$out" >"$work/$1.txt"
  local rps p50 p99 non2xx total
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
  total="$(awk '/requests in/ {print $1}' <<<"$out")"
  echo "$rps $p50 $p99 ${non2xx:-0} $total"
}
to_ms() { # wrk prints 1.23ms / 845.00us / 1.02s
  python3 -c "import sys; v=sys.argv[1]; print(float(v[:-2])/1000 if v.endswith('us') else float(v[:-2]) if v.endswith('ms') else float(v[:-1])*1000)" "$1"
}

gate="http://127.0.0.1:$gate_port"
mock="http://127.0.0.1:$mock_port"
log "warm-up"
warmup_total="$(taskset -c 1 wrk -t1 -c32 -d3s -s "$work/chat.lua" "$gate/v1/chat/completions" | awk '/requests in/ {print $1}')"
log "direct, 32 connections";    read -r d32_rps d32_p50 d32_p99 d32_err _ < <(run direct32 "$mock" 32)
log "gatehouse, 32 connections"; rss_before="$(awk '/VmRSS/ {print $2}' /proc/$gate_pid/status)"
read -r g32_rps g32_p50 g32_p99 g32_err g32_total < <(run gate32 "$gate" 32)
one_connection_runs() { # SUFFIX: direct, cross-core direct and Gatehouse at 1 connection
  log "1 connection ($1): direct";     read -r "d1_rps$1" "d1_p50$1" "d1_p99$1" "d1_err$1" _ < <(run "direct1$1" "$mock" 1)
  log "1 connection ($1): cross-core"; read -r "x1_rps$1" "x1_p50$1" "x1_p99$1" "x1_err$1" _ < <(run "cross1$1" "http://127.0.0.1:$cross_port" 1)
  log "1 connection ($1): gatehouse";  read -r "g1_rps$1" "g1_p50$1" "g1_p99$1" "g1_err$1" "g1_total$1" < <(run "gate1$1" "$gate" 1)
}
one_connection_runs _vm
# The same three runs with the guest kernel's default idle polling (cpuidle-haltpoll polls up to
# 200 µs before halting a vCPU); this VM boots with it off, so every wake-up of an idle vCPU is
# a full halt exit. Restored afterwards.
polled=0
if [ -w "$halt_poll" ]; then
  halt_poll_before="$(cat "$halt_poll")"
  echo 200000 >"$halt_poll"
  one_connection_runs _poll
  echo "$halt_poll_before" >"$halt_poll"
  halt_poll_before=""
  polled=1
fi
peak_rss_kb="$(awk '/VmHWM/ {print $2}' /proc/$gate_pid/status)"

new_key() { # PORT FIELDS
  curl -fsS "http://127.0.0.1:$1/key/generate" -H 'Authorization: Bearer sk-bench-master' \
    -H 'Content-Type: application/json' -d "$2" | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])'
}
# NAME BINARY FIELDS [CONFIG] -> instructions per request: a fresh process under callgrind,
# instrumented only while it serves INSTRUCTIONS requests (after 200 uninstrumented ones) and
# writes their spend rows.
instructions_per_request() {
  local port pid key
  port="$(free_port)"
  psql "${DATABASE_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS gatehouse_bench_ir_$1 WITH (FORCE)" -c "CREATE DATABASE gatehouse_bench_ir_$1" >/dev/null
  DATABASE_URL="${DATABASE_URL%/*}/gatehouse_bench_ir_$1" RUST_LOG=warn taskset -c 0 valgrind --tool=callgrind \
    --instr-atstart=no --callgrind-out-file="$work/ir-$1.out" "$2" \
    --config "${4:-$work/config.yaml}" --port "$port" >"$work/ir-$1.log" 2>&1 &
  pid=$!
  for _ in 1 2 3 4 5 6; do wait_for_http "http://127.0.0.1:$port/health/liveliness" 2>/dev/null && break; done
  key="$(new_key "$port" "$3")"
  python3 - "$port" "$key" "$INSTRUCTIONS" "$pid" <<'PY'
import http.client, subprocess, sys, time
port, key, count, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
body = '{"model":"bench","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}'
headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
def send(n):
  for _ in range(n):
      connection.request("POST", "/v1/chat/completions", body, headers)
      response = connection.getresponse()
      response.read()
      assert response.status == 200, response.status
send(200)
time.sleep(1)
control = lambda *args: subprocess.run(["callgrind_control", *args, pid], check=True, capture_output=True)
control("-i", "on")
control("-z")
send(count)
time.sleep(1.5)  # the batched spend rows are written
control("-d")
PY
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  python3 - "$INSTRUCTIONS" "$work"/ir-"$1".out* <<'PY'
import re, sys
count, files = int(sys.argv[1]), sys.argv[2:]
# The dump taken after the measured requests holds the most instructions (the one at exit holds
# only what ran since).
totals = [int(m.group(1)) for f in files for m in [re.search(r"^(?:summary|totals): (\d+)", open(f).read(), re.M)] if m]
print(round(max(totals) / count))
PY
}

# A/B against the baseline: a fresh process of each binary, each on a fresh database, take turns
# at 32 connections (ROUNDS rounds of DURATION each), so neither carries the runs before it (a
# spend log of a million rows costs PostgreSQL more per insert) and a drift in the machine's
# speed over the run touches both alike.
ab_rows=""
if [ -n "$baseline_bin" ]; then
  start_fresh() { # NAME BINARY PORT -> pid
    psql "${DATABASE_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS gatehouse_bench_$1 WITH (FORCE)" -c "CREATE DATABASE gatehouse_bench_$1" >/dev/null
    DATABASE_URL="${DATABASE_URL%/*}/gatehouse_bench_$1" RUST_LOG=warn taskset -c 0 "$2" \
      --config "$work/config.yaml" --port "$3" >"$work/$1.log" 2>&1 &
    echo $!
  }
  kill "$gate_pid" 2>/dev/null || true
  wait "$gate_pid" 2>/dev/null || true
  ab_port="$(free_port)"
  gate_pid="$(start_fresh ab "$CARGO_TARGET_DIR/release/gatehouse" "$ab_port")"
  base_port="$(free_port)"
  base_pid="$(start_fresh baseline "$baseline_bin" "$base_port")"
  wait_for_http "http://127.0.0.1:$ab_port/health/liveliness" || { cat "$work/ab.log" >&2; exit 1; }
  wait_for_http "http://127.0.0.1:$base_port/health/liveliness" || { cat "$work/baseline.log" >&2; exit 1; }
  ab_key="$(new_key "$ab_port" "$KEY_FIELDS")"
  base_key="$(new_key "$base_port" "$BASELINE_KEY_FIELDS")"
  BENCH_KEY="$ab_key" taskset -c 1 wrk -t1 -c32 -d3s -s "$work/chat.lua" "http://127.0.0.1:$ab_port/v1/chat/completions" >/dev/null
  BENCH_KEY="$base_key" taskset -c 1 wrk -t1 -c32 -d3s -s "$work/chat.lua" "http://127.0.0.1:$base_port/v1/chat/completions" >/dev/null
  gate_rounds=()
  base_rounds=()
  for round in $(seq 1 "$ROUNDS"); do
    sleep 2 # the spend rows of the run before land first
    log "A/B round $round: gatehouse"
    read -r rps p50 _ < <(BENCH_KEY="$ab_key" run "ab_gate$round" "http://127.0.0.1:$ab_port" 32)
    gate_rounds+=("$rps")
    ab_rows+=$'\n'"| $round | this commit | $rps | $p50 |"
    sleep 2
    log "A/B round $round: baseline $BASELINE"
    read -r rps p50 _ < <(BENCH_KEY="$base_key" run "ab_base$round" "http://127.0.0.1:$base_port" 32)
    base_rounds+=("$rps")
    ab_rows+=$'\n'"| $round | $baseline_label | $rps | $p50 |"
  done
  base_peak_kb="$(awk '/VmHWM/ {print $2}' /proc/$base_pid/status 2>/dev/null || echo 0)"
  ab_peak_kb="$(awk '/VmHWM/ {print $2}' /proc/$gate_pid/status 2>/dev/null || echo 0)"
  kill "$base_pid" 2>/dev/null || true
  wait "$base_pid" 2>/dev/null || true
  base_pid=""
  read -r gate_median base_median ab_change < <(python3 -c '
import statistics, sys
gate = [float(v) for v in sys.argv[1].split()]
base = [float(v) for v in sys.argv[2].split()]
g, b = statistics.median(gate), statistics.median(base)
print(round(g), round(b), f"{(g / b - 1) * 100:+.1f}")' "${gate_rounds[*]}" "${base_rounds[*]}")
  if [ "$INSTRUCTIONS" -gt 0 ]; then
    apt_install valgrind
    log "instructions per request (callgrind, $INSTRUCTIONS requests each)"
    gate_ir="$(instructions_per_request gate "$CARGO_TARGET_DIR/release/gatehouse" "$KEY_FIELDS")"
    base_ir="$(instructions_per_request base "$baseline_bin" "$BASELINE_KEY_FIELDS")"
    ir_change="$(python3 -c "print(f'{($gate_ir / $base_ir - 1) * 100:+.1f}')")"
  fi
fi

# Telemetry's cost (BENCH_TELEMETRY=1 with BENCH_INSTRUCTIONS): the same binary with Prometheus
# metrics and OpenTelemetry traces on (every request sampled, its spans exported to a local
# OTLP/HTTP receiver) against both off, in instructions per request.
telemetry_ir=""
if [ "${BENCH_TELEMETRY:-0}" = 1 ] && [ "$INSTRUCTIONS" -gt 0 ]; then
  apt_install valgrind
  receiver_port="$(free_port)"
  python3 - "$receiver_port" "$work/otlp-posts" >"$work/otlp.log" 2>&1 <<'PY' &
import http.server, sys
port, tally = int(sys.argv[1]), sys.argv[2]
posts = 0
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global posts
        self.rfile.read(int(self.headers["Content-Length"]))
        posts += 1
        open(tally, "w").write(str(posts))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Receiver).serve_forever()
PY
  receiver_pid=$!
  cp "$work/config.yaml" "$work/telemetry.yaml"
  cat >>"$work/telemetry.yaml" <<YAML
  metrics_token: bench-metrics-token
environment_variables:
  OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:$receiver_port"
  OTEL_TRACES_SAMPLER: always_on
  OTEL_BSP_SCHEDULE_DELAY: "1000"
litellm_settings:
  callbacks: ["prometheus", "otel"]
YAML
  log "instructions per request with metrics and traces off, then on"
  off_ir="$(instructions_per_request telemetry_off "$CARGO_TARGET_DIR/release/gatehouse" "$KEY_FIELDS")"
  on_ir="$(instructions_per_request telemetry_on "$CARGO_TARGET_DIR/release/gatehouse" "$KEY_FIELDS" "$work/telemetry.yaml")"
  kill "$receiver_pid" 2>/dev/null || true
  otlp_posts="$(cat "$work/otlp-posts" 2>/dev/null || echo 0)"
  if [ "$otlp_posts" = 0 ]; then
    echo "the OTLP receiver got no spans: the traced run measured nothing" >&2
    exit 1
  fi
  telemetry_ir="$(python3 -c "print(f'{($on_ir / $off_ir - 1) * 100:+.1f}')")"
fi

# Every proxied request must have exactly one spend row (warm-up included).
sleep 2
rows="$(psql "$bench_url" -Atc 'SELECT count(*) FROM spend_logs')"
difference() { python3 -c "print(round($(to_ms "$1") - $(to_ms "$2"), 3))"; }
added_p50_vm="$(difference "$g1_p50_vm" "$d1_p50_vm")"
hop_p50_vm="$(difference "$x1_p50_vm" "$d1_p50_vm")"

mkdir -p docs
# The spend views' section (scripts/bench-reports.sh) is kept as it is.
reports_section="$(python3 -c 'import re; m = re.search(r"<!-- reports:begin -->.*?<!-- reports:end -->", open("docs/BENCHMARKS.md").read(), re.S); print(m.group(0) if m else "")' 2>/dev/null || true)"
cat >docs/BENCHMARKS.md <<MD
# Benchmarks

Reproduce with \`$(if [ -n "$telemetry_ir" ]; then echo "BENCH_TELEMETRY=1 "; fi)$(if [ "$ROUNDS" != 3 ]; then echo "BENCH_ROUNDS=$ROUNDS "; fi)$(if [ -n "$BASELINE_PATCH" ]; then echo "BENCH_BASELINE_PATCH=$BASELINE_PATCH "; elif [ -n "$BASELINE" ]; then echo "BENCH_BASELINE=$BASELINE "; fi)$(if [ -n "$BASELINE" ] && [ "$BASELINE_KEY_FIELDS" != "$default_baseline_fields" ]; then echo "BENCH_BASELINE_KEY_FIELDS='$BASELINE_KEY_FIELDS' "; fi)$(if [ "$INSTRUCTIONS" -gt 0 ]; then echo "BENCH_INSTRUCTIONS=$INSTRUCTIONS "; fi)bash scripts/bench.sh\` (release build; \`BENCH_DURATION=15s\` by default).

## Non-streaming chat completions through Gatehouse vs. the upstream called directly

Measured $(date -u +"%Y-%m-%d %H:%M UTC") on this machine ($(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)).
Gatehouse (release) is pinned to CPU 0 with \`taskset\`; the loopback OpenAI mock
(\`mock-upstream\`) and the load generator (\`wrk\`, one thread) share CPU 1. PostgreSQL is not
pinned and receives the batched spend rows during the run. Each request carries a virtual key
(\`Authorization: Bearer sk-…\`), is checked against the in-memory key cache, counts against the
key's rate limits and reserves its largest cost against the key's budget (key:
\`$KEY_FIELDS\`; limits high enough never to refuse), has its usage read from the reply, is
costed, settles its reservation and gets a spend row. Each run lasts $DURATION.

| target | connections | requests/s | p50 latency | p99 latency | non-2xx |
|---|---:|---:|---:|---:|---:|
| mock directly | 32 | $d32_rps | $d32_p50 | $d32_p99 | $d32_err |
| **through Gatehouse** | 32 | **$g32_rps** | $g32_p50 | $g32_p99 | $g32_err |
| mock directly | 1 | $d1_rps_vm | $d1_p50_vm | $d1_p99_vm | $d1_err_vm |
| **through Gatehouse** | 1 | $g1_rps_vm | $g1_p50_vm | $g1_p99_vm | $g1_err_vm |
| mock directly, on CPU 0 (cross-core) | 1 | $x1_rps_vm | $x1_p50_vm | $x1_p99_vm | $x1_err_vm |

- Median latency Gatehouse adds at 1 connection: **$added_p50_vm ms** with this VM's idle
  setting. At one connection every hop wakes an idle vCPU, and this VM boots with the guest's
  halt polling off (\`haltpoll.guest_halt_poll_ns=0\`), so each wake-up is a full halt exit: a
  cross-core round trip costs $hop_p50_vm ms here (last row against the same-core direct row). The path through
  Gatehouse makes two such round trips (client→Gatehouse, Gatehouse→mock); the direct
  baseline, with client and mock on one core, makes none.
- Gatehouse resident memory: $((rss_before / 1024)) MB before the 32-connection run, **$((peak_rss_kb / 1024)) MB peak** (VmHWM) over the whole run.
- Spend rows in Postgres after the run: **$rows**; requests wrk saw completed (warm-up included): $((warmup_total + g32_total + g1_total_vm + ${g1_total_poll:-0} )). Requests still in flight when wrk stopped are metered too, so the first may exceed the second by at most the connection count of each run.
MD
if [ "$polled" = 1 ]; then
  added_p50_poll="$(difference "$g1_p50_poll" "$d1_p50_poll")"
  hop_p50_poll="$(difference "$x1_p50_poll" "$d1_p50_poll")"
  cat >>docs/BENCHMARKS.md <<MD

### One connection with the guest kernel's default idle polling

The same three runs, in the same process lifetimes, with \`guest_halt_poll_ns\` set to the Linux
default (200000: an idle vCPU polls up to 200 µs before halting) and restored afterwards.
Nothing else changes.

| target | connections | requests/s | p50 latency | p99 latency | non-2xx |
|---|---:|---:|---:|---:|---:|
| mock directly | 1 | $d1_rps_poll | $d1_p50_poll | $d1_p99_poll | $d1_err_poll |
| **through Gatehouse** | 1 | $g1_rps_poll | $g1_p50_poll | $g1_p99_poll | $g1_err_poll |
| mock directly, on CPU 0 (cross-core) | 1 | $x1_rps_poll | $x1_p50_poll | $x1_p99_poll | $x1_err_poll |

- Median latency Gatehouse adds at 1 connection: **$added_p50_poll ms** (a cross-core round
  trip now costs $hop_p50_poll ms). This is Gatehouse's own time: key check, body parse and
  rewrite, the upstream call over a pooled connection, usage, cost and the queued spend row.
MD
fi
if [ -n "$baseline_bin" ]; then
  cat >>docs/BENCHMARKS.md <<MD

## This commit against $baseline_label, interleaved

$baseline_label is built the same way as the measured binary (\`cargo build --release -p
server --bin gatehouse\`). A fresh process of each, each on a fresh database, runs on CPU 0
against the same mock and config; after a 3 s warm-up each, they take turns at 32 connections,
$ROUNDS rounds of $DURATION each, so a drift in the machine's speed over the run touches both
alike. The baseline's key: \`$BASELINE_KEY_FIELDS\`. Peak RSS: $((ab_peak_kb / 1024)) MB this
commit, $((base_peak_kb / 1024)) MB $baseline_label.

| round | binary | requests/s | p50 latency |
|---:|---|---:|---:|$ab_rows

Median requests/s: **$gate_median** for this commit, **$base_median** for $baseline_label
(**$ab_change %**).
$(if [ "$INSTRUCTIONS" -gt 0 ]; then cat <<IR

Instructions per request (callgrind; a fresh process of each on a fresh database, one
connection, $INSTRUCTIONS requests after 200 uninstrumented ones, every thread counted, the
batched spend rows included): **$gate_ir** this commit, **$base_ir** $baseline_label
(**$ir_change %**). Unlike requests/s, this count does not drift with the machine.
IR
fi)
MD
fi
if [ -n "$telemetry_ir" ]; then
  cat >>docs/BENCHMARKS.md <<MD

## Telemetry on against off (this commit)

The measured binary under callgrind twice, each a fresh process on a fresh database, one
connection, $INSTRUCTIONS requests after 200 uninstrumented ones, every thread counted: once with
the config above, once with \`litellm_settings.callbacks: ["prometheus", "otel"]\` — every
request counted in the Prometheus registry (LiteLLM's metrics and labels, the GenAI
histograms) and traced (\`OTEL_TRACES_SAMPLER=always_on\`: its request, stage and attempt spans
encoded and exported in batches over OTLP/HTTP to a receiver on loopback, which took
$otlp_posts exports).

| telemetry | instructions per request |
|---|---:|
| off | $off_ir |
| metrics and traces on | $on_ir |

Metrics and traces add **$telemetry_ir %** instructions per request.
MD
fi
cat >>docs/BENCHMARKS.md <<MD

Targets for the foundation: ≥ 15,000 req/s at 32 connections, ≤ 0.15 ms added median latency at
1 connection, RSS ≤ 64 MB under load.
MD
if [ -n "$reports_section" ]; then
  printf '\n%s\n' "$reports_section" >>docs/BENCHMARKS.md
fi
cat docs/BENCHMARKS.md

#!/usr/bin/env bash
# Benchmark of the spend views at scale: seeds BENCH_SPEND_ROWS (default 10,000,000) synthetic
# spend rows over 90 days (scripts/seed-spend.sql), starts Gatehouse (release) on that database
# and times the console pages (server-side rendered, signed in as an admin) and the reports API,
# each BENCH_SAMPLES times after a warm-up. Writes its section of docs/BENCHMARKS.md.
# Never run by CI: seeding ten million rows takes several minutes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ROWS="${BENCH_SPEND_ROWS:-10000000}"
SAMPLES="${BENCH_SAMPLES:-30}"
ensure_rust_tools
ensure_postgres gatehouse_bench_admin
cargo build --release -p server --bin gatehouse >/dev/null
db_url="${DATABASE_URL%/*}/gatehouse_bench_reports"
# BENCH_KEEP_SEED=1 reuses the database an earlier run seeded (Gatehouse's migrations bring its
# schema and rollups up to date at start-up).
existing_rows="$(psql "$db_url" -tAc 'SELECT count(*) FROM spend_logs' 2>/dev/null || echo 0)"
reuse=0
if [ "${BENCH_KEEP_SEED:-0}" = 1 ] && [ "$existing_rows" -ge "$ROWS" ]; then
  reuse=1
else
  psql "${DATABASE_URL%/*}/postgres" -qc 'DROP DATABASE IF EXISTS gatehouse_bench_reports WITH (FORCE)' \
    -c 'CREATE DATABASE gatehouse_bench_reports' >/dev/null
fi

work="$(mktemp -d)"
port="$(free_port)"
cat >"$work/config.yaml" <<YAML
model_list:
  - model_name: bench
    litellm_params: { model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:9/v1", api_key: sk-mock }
general_settings:
  master_key: sk-bench-master
YAML
start_gatehouse() {
  DATABASE_URL="$db_url" RUST_LOG=warn GATEHOUSE_ADMIN_EMAIL=bench@example.com \
    GATEHOUSE_ADMIN_PASSWORD=bench-password-123 "$CARGO_TARGET_DIR/release/gatehouse" \
    --config "$work/config.yaml" --port "$port" >>"$work/gatehouse.log" 2>&1 &
  gate_pid=$!
  wait_for_http "http://127.0.0.1:$port/health/liveliness"
}
cleanup() {
  kill "${gate_pid:-}" 2>/dev/null || true
  wait "${gate_pid:-}" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The schema comes from Gatehouse's own migrations: start it once, then seed beside it.
start_gatehouse
if [ "$reuse" = 1 ]; then
  log "reusing the $existing_rows seeded rows"
  seeded="by an earlier run (reused with \`BENCH_KEEP_SEED=1\`)"
else
  log "seeding $ROWS spend rows"
  seed_started=$(date +%s)
  psql "$db_url" -q -v rows="$ROWS" -v days=90 -f scripts/seed-spend.sql >"$work/seed.log" 2>&1
  seeded="in $(( $(date +%s) - seed_started )) s"
fi
psql "$db_url" -qc 'ANALYZE' >/dev/null
raw_rows="$(psql "$db_url" -tAc 'SELECT count(*) FROM spend_logs')"
rollup_rows="$(psql "$db_url" -tAc 'SELECT count(*) FROM spend_daily')"
tag_rollup_rows="$(psql "$db_url" -tAc 'SELECT count(*) FROM spend_daily_tags')"
group_rollup_rows="$(psql "$db_url" -tAc 'SELECT count(*) FROM spend_daily_groups')"
raw_size="$(psql "$db_url" -tAc "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'spend_logs'::regclass")"
rollup_size="$(psql "$db_url" -tAc "SELECT pg_size_pretty(pg_total_relation_size('spend_daily') + pg_total_relation_size('spend_daily_tags') + pg_total_relation_size('spend_daily_groups') + pg_total_relation_size('latency_daily'))")"
request_id="$(psql "$db_url" -tAc "SELECT request_id FROM spend_logs WHERE started_at > now() - interval '2 days' LIMIT 1")"
# A restart, so no page is served from caches warmed by the seeding.
kill "$gate_pid"; wait "$gate_pid" 2>/dev/null || true
start_gatehouse

log "timing pages and reports ($SAMPLES samples each)"
python3 - "$port" "$SAMPLES" "$request_id" >"$work/timings.md" <<'PY'
import datetime, http.client, json, statistics, sys, time, urllib.parse

port, samples, request_id = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
connection = http.client.HTTPConnection("127.0.0.1", port)
cookies = {}

def request(method, path, body=None, headers=None):
    headers = dict(headers or {})
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    for name, value in response.getheaders():
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, val = pair.partition("=")
            cookies[key] = val
    return response.status, data

form = {"Content-Type": "application/x-www-form-urlencoded"}
status, body = request("POST", "/api/get_session_info", "", form)
csrf = json.loads(body)["csrf_token"]
login = urllib.parse.urlencode({"csrf": csrf, "email": "bench@example.com", "password": "bench-password-123"})
status, body = request("POST", "/api/login", login, form)
assert status in (200, 302, 303), (status, body[:200])

today = datetime.datetime.now(datetime.timezone.utc).date()
days = lambda n: (today - datetime.timedelta(days=n)).isoformat()
month_start = today.replace(day=1)
last_month_end = month_start - datetime.timedelta(days=1)
last_month = last_month_end.replace(day=1)
master = {"Authorization": "Bearer sk-bench-master"}
pages = [
    ("Overview", "/overview"),
    ("Spend: this month per project per day (default)", "/spend"),
    ("Spend: 90 days per team per week", f"/spend?start={days(89)}&end={today}&group_by=team&granularity=week"),
    ("Spend: project 7 on model-3 last month, by day", f"/spend?start={last_month}&end={last_month_end}&project_id=bench-project-7&model=model-3&group_by=model"),
    ("Logs: newest 50", "/logs"),
    ("Logs: one key's failures", "/logs?key=bench-key-17&status=failure"),
    ("Logs: a team on a model, 30 days", f"/logs?team_id=bench-team-5&model=model-3&start={days(29)}"),
    ("Log detail", f"/logs/{request_id}"),
]
apis = [
    ("/spend/report per team per day, 90 days", f"/spend/report?group_by=team&start_date={days(89)}&end_date={today}"),
    ("/spend/report per project per day, CSV, 90 days", f"/spend/report?group_by=project&start_date={days(89)}&end_date={today}&format=csv"),
    ("/global/spend/report per team, 30 days", f"/global/spend/report?start_date={days(29)}&end_date={today}&group_by=team"),
    ("/global/spend/report per key, 30 days", f"/global/spend/report?start_date={days(29)}&end_date={today}&group_by=api_key"),
    ("/spend/tags (all time)", "/spend/tags"),
    ("/user/daily/activity, 7 days", f"/user/daily/activity?start_date={days(6)}&end_date={today}"),
    ("/team/daily/activity one team, 30 days", f"/team/daily/activity?team_ids=bench-team-3&start_date={days(29)}&end_date={today}"),
    ("/spend/logs one key, 100 rows", "/spend/logs?api_key=bench-key-5&limit=100"),
    ("/spend/logs summarized per day, 30 days", f"/spend/logs?start_date={days(29)}&end_date={today}"),
    ("/spend/logs/page, 100 rows", "/spend/logs/page?page_size=100"),
]

def measure(path, headers):
    for _ in range(3):
        status, body = request("GET", path, headers=headers)
        assert status == 200, (path, status, body[:300])
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        status, body = request("GET", path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert status == 200, (path, status)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], len(body)

def table(rows, headers, budget):
    print("| what | median | p95 | bytes | within |")
    print("|---|---:|---:|---:|---|")
    for name, path in rows:
        median, p95, size = measure(path, headers)
        print(f"| {name} | {median:.1f} ms | {p95:.1f} ms | {size} | {'yes' if p95 <= budget else '**no**'} ({budget} ms) |")

print("### Console pages (server-side rendered, data inline, signed in as an admin)\n")
table(pages, {}, 50)
print("\n### Reports API (master key)\n")
table(apis, master, 100)
started = time.perf_counter()
status, body = request("GET", "/spend/reconcile", headers=master)
reconcile_ms = (time.perf_counter() - started) * 1000
result = json.loads(body)
print(f"\nReconciliation (`GET /spend/reconcile`, a full scan of the raw log, run once): {reconcile_ms:.0f} ms, "
      f"{result['raw_rows']} raw rows, {result['rollup_groups_checked']} rollup groups, drifts: {len(result['drifts'])}.")
PY

commit="$(git rev-parse --short HEAD)"
section="$work/section.md"
{
  echo "<!-- reports:begin -->"
  echo "## Spend views at $(printf "%'d" "$raw_rows") spend rows"
  echo
  echo "Reproduce with \`bash scripts/bench-reports.sh\` (\`BENCH_SPEND_ROWS\`, \`BENCH_SAMPLES\`). Measured"
  echo "$(date -u '+%Y-%m-%d %H:%M UTC') at \`$commit\` on this machine (2 cores). The generator"
  echo "(\`scripts/seed-spend.sql\`) wrote $(printf "%'d" "$raw_rows") rows over 90 days (200 keys in 20 teams, 40 projects,"
  echo "50 users, 8 model groups on 4 providers, a tag on a third, 2 % failures) $seeded;"
  echo "rollups rebuilt from them: $(printf "%'d" "$rollup_rows") daily rows per key, $(printf "%'d" "$group_rollup_rows") per team × project × model, $(printf "%'d" "$tag_rollup_rows") per tag."
  echo "Raw log $raw_size (monthly partitions, indexes included); rollups $rollup_size."
  echo "Gatehouse (release) was restarted after seeding; each figure is $SAMPLES sequential requests"
  echo "over one keep-alive connection after 3 warm-ups, timed at the client (full response)."
  echo "Pages must render within 50 ms and reports answer within 100 ms (p95)."
  echo
  cat "$work/timings.md"
  echo "<!-- reports:end -->"
} >"$section"
python3 - "$section" <<'PY'
import re, sys
section = open(sys.argv[1]).read()
path = "docs/BENCHMARKS.md"
text = open(path).read()
pattern = re.compile(r"<!-- reports:begin -->.*?<!-- reports:end -->\n?", re.S)
text = pattern.sub("", text).rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
cat "$section"
